"""The `aco` console: library warnings out of the way, ours shown, MLflow's bars off, each fault
line once."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap

import dagster as dg

from orchestration.cli.console import OncePerMessage, StageProgress
from tests.orchestration.pipeline_processes import ROOT, user_environment

SCRIPT = textwrap.dedent(
    """
    import warnings
    from orchestration.cli.console import configure
    configure()
    import dagster as dg
    import mlflow.pyfunc
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR

    class Model(mlflow.pyfunc.PythonModel):  # MLflow's type-hint notice
        def predict(self, context, model_input):
            return model_input

    @dg.asset(  # Dagster's beta notice for backfill_policy
        partitions_def=dg.DailyPartitionsDefinition(start_date="2016-01-01"),
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def day():
        return None

    warnings.warn_explicit("our own warning", UserWarning, "{ours}", 1)
    print("bars", MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.get())
    """
)


def test_library_warnings_are_kept_off_the_console_and_ours_are_shown():
    ours = ROOT / "aco_assets" / "example.py"  # any file of our packages
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(ours=ours)],
        capture_output=True, text=True, cwd=ROOT, env=user_environment(), timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "our own warning" in done.stderr
    for noise in ("Add type hints", "BetaWarning", "backfill_policy"):
        assert noise not in done.stderr
    assert "bars False" in done.stdout


def test_a_fault_reported_with_a_relative_and_an_absolute_path_is_shown_once():
    once = OncePerMessage()

    def record(message: str, level: int = logging.WARNING) -> logging.LogRecord:
        return logging.LogRecord("aco_assets.hydrophone.records", level, "", 0, message, (), None)

    fault = "2016/11/30/2016-11-30--13.00.HYD24BBpk, record 358: bad_width: 0 bits"
    assert once.filter(record(fault))
    assert not once.filter(record(f"/data/archive/{fault}"))
    assert once.filter(record(fault.replace("358", "359")))  # another record is another fault
    assert once.filter(record("decoded files: 1/6", logging.INFO))
    assert once.filter(record("decoded files: 1/6", logging.INFO))  # progress is never merged


def test_a_retried_step_shows_its_failure_and_then_one_done_line():
    attempts = []

    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=1))
    def flaky(context):
        attempts.append(context.retry_number)
        if context.retry_number == 0:
            raise RuntimeError("first attempt")
        return 1

    out = io.StringIO()
    with dg.DagsterInstance.ephemeral() as instance:
        handlers = instance.get_handlers
        instance.get_handlers = lambda: [*handlers(), StageProgress(out)]
        assert dg.materialize([flaky], instance=instance).success
    lines = out.getvalue().splitlines()
    assert attempts == [0, 1]
    assert [line.split(" in ")[0] for line in lines] == ["  flaky: failed", "  flaky: done"]
    assert lines[0].endswith("; will retry")
