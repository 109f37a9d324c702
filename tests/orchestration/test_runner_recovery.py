"""`aco pipeline` survives being killed: a real subprocess is killed with SIGKILL while its run
is in a step, and the next `aco pipeline` on that data folder fails the dead run, leaves no pool
slot claimed, and writes every row exactly once. Also: two pipelines at once (the per-day steps
take no pool: each day's rows are a Parquet file of their own), a pool held by a live run of the
UI (waited for visibly, freed by `aco repair`), Ctrl-C and SIGTERM during a wait.

Every test runs on the persistent instance `aco pipeline` uses (``<data>/dagster_home``,
created from ``dagster_home/dagster.yaml``) and the session's synthetic test archive; only the
ingest stage runs, so no detector is trained.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from pathlib import Path

import dagster as dg
import pytest

from tests.orchestration.pipeline_processes import Aco, aco, count, data_instance

INGEST = ("--stage", "ingest", "--workers", "1")


def _pipeline(archive: Path, data: Path, *extra: str) -> tuple[str, ...]:
    return ("pipeline", "--archive", str(archive), "--data", str(data), *INGEST, *extra)


def _files_of(archive: Path) -> dict[dt.date, int]:
    from aco_assets.hydrophone import Archive

    a = Archive(archive)
    return {day: len(a.day_files(day)) for day in a.days()}


def _claimed_by(instance: dg.DagsterInstance, pool: str = "duckdb") -> set[str]:
    return instance.event_log_storage.get_concurrency_info(pool).active_run_ids


def _started_steps(instance: dg.DagsterInstance) -> set[str]:
    """The runs that have started a step and not finished."""
    running = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    return {
        run.run_id
        for run in running
        if instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.STEP_START, limit=1
        ).records
    }


def _in_a_step(pipeline: Aco, instance: dg.DagsterInstance) -> str:
    """Wait until the pipeline's run is executing a step; its run id."""
    deadline = time.monotonic() + 600
    while not (running := _started_steps(instance)):
        assert pipeline.proc.poll() is None, f"the run ended too soon:\n{pipeline.stderr}"
        assert time.monotonic() < deadline, f"the run never started a step:\n{pipeline.stderr}"
        time.sleep(0.05)
    (run_id,) = running
    return run_id


@pytest.fixture(scope="module")
def killed_then_rerun(synthetic_archive: Path, tmp_path_factory: pytest.TempPathFactory):
    """A pipeline killed (SIGKILL) while its run is in a step, then run again over the archive's
    days and the day after them (a day without files)."""
    data = tmp_path_factory.mktemp("killed") / "data"
    with data_instance(data) as instance:  # its storage exists before the pipeline starts
        doomed = Aco(*_pipeline(synthetic_archive, data))
        left = _in_a_step(doomed, instance)
        os.killpg(doomed.proc.pid, signal.SIGKILL)
        doomed.proc.wait(timeout=60)
        assert not _claimed_by(instance)  # the per-day steps take no pool slot
        left_status = instance.get_run_by_id(left).status
    rows_after_kill = (
        count(data, "SELECT count(*) FROM raw_files") if (data / "aco.duckdb").exists() else 0
    )
    days = sorted(_files_of(synthetic_archive))
    after = days[-1] + dt.timedelta(days=1)
    rerun = aco(*_pipeline(synthetic_archive, data, "--from", str(days[0]), "--to", str(after)))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    return {
        "data": data,
        "run_id": left,
        "left_status": left_status,
        "rows_after_kill": rows_after_kill,
        "rerun": rerun,
        "empty_day": after,
    }


def test_a_killed_run_is_left_started(killed_then_rerun):
    # the state a killed pipeline leaves: what the next pipeline must repair
    assert killed_then_rerun["left_status"] == dg.DagsterRunStatus.STARTED


def test_a_killed_run_leaves_no_partial_day_of_rows(killed_then_rerun, synthetic_archive):
    # a day's rows are written in one step: after the kill a day has all its files or none
    files = _files_of(synthetic_archive)
    assert killed_then_rerun["rows_after_kill"] in {0, *files.values(), sum(files.values())}


def test_the_next_pipeline_fails_the_dead_run_frees_its_slot_and_says_so(killed_then_rerun):
    run_id, data = killed_then_rerun["run_id"], killed_then_rerun["data"]
    assert (
        f"run {run_id[:8]} (ingest_job) was left STARTED by aco pipeline pid"
        in killed_then_rerun["rerun"].stderr
    )
    with data_instance(data) as instance:
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
        assert not _claimed_by(instance)
        assert not instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))


def test_the_rerun_writes_every_file_and_window_exactly_once(killed_then_rerun, synthetic_archive):
    data, files = killed_then_rerun["data"], _files_of(synthetic_archive)
    assert count(data, "SELECT count(*) FROM raw_files") == sum(files.values())
    assert count(data, "SELECT count(DISTINCT path) FROM raw_files") == sum(files.values())
    n_windows = count(data, "SELECT count(*) FROM windows")
    assert n_windows > 0
    assert count(data, "SELECT count(DISTINCT (day, window_index)) FROM windows") == n_windows


def test_a_day_without_files_gets_coverage_but_is_not_materialized(
    killed_then_rerun, synthetic_archive
):
    data, empty = killed_then_rerun["data"], killed_then_rerun["empty_day"]
    assert count(data, f"SELECT count(*) FROM coverage WHERE day = DATE '{empty}'") == 1
    assert count(data, f"SELECT found FROM coverage WHERE day = DATE '{empty}'") == 0
    assert count(data, f"SELECT missing FROM coverage WHERE day = DATE '{empty}'") == 288
    with data_instance(data) as instance:
        done = instance.get_materialized_partitions(dg.AssetKey("raw_files"))
    assert done == {d.isoformat() for d in _files_of(synthetic_archive)}


def test_runs_carry_the_code_location_of_the_workspace(killed_then_rerun):
    from orchestration.launch import workspace_location

    with data_instance(killed_then_rerun["data"]) as instance:
        (run,) = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))
    origin = run.remote_job_origin
    assert origin is not None and origin.job_name == "ingest_job"
    assert origin.location_name == workspace_location().location_name == "aco"
    assert origin.repository_origin.repository_name == "__repository__"
    assert run.job_code_origin is not None
    assert run.tags["dagster/asset_partition_range_start"] == "2016-11-30"


def test_the_console_shows_one_line_per_stage_each_fault_once_and_no_library_noise(
    killed_then_rerun,
):
    err = killed_then_rerun["rerun"].stderr
    for noise in ("Traceback", "BetaWarning", "Add type hints", "Downloading artifacts"):
        assert noise not in err
    lines = err.splitlines()
    for stage in ("ingest",):
        assert sum(line.strip().startswith(f"{stage}: done") for line in lines) == 1, err
    faults = [line for line in lines if "truncated_record" in line or "bad_width" in line]
    assert faults, err  # the test archive has a truncated file and a corrupt width
    assert len(faults) == len({line.split(".HYD24BBpk")[-1] for line in faults})


def test_two_pipelines_at_once_write_every_row_exactly_once(synthetic_archive, tmp_path):
    data = tmp_path / "data"
    files = _files_of(synthetic_archive)
    first, second = sorted(files)
    for days in ((first, second), (first, first)):  # different days, then the same day
        both = [Aco(*_pipeline(synthetic_archive, data, "--day", str(d))) for d in days]
        for p in both:
            assert p.wait() == 0, p.stderr
    assert count(data, "SELECT count(*) FROM raw_files") == files[first] + files[second]
    assert count(data, "SELECT count(DISTINCT path) FROM raw_files") == files[first] + files[second]
    assert count(data, "SELECT count(*) FROM coverage") == 2
    n_windows = count(data, "SELECT count(*) FROM windows")
    assert count(data, "SELECT count(DISTINCT (day, window_index)) FROM windows") == n_windows
    with data_instance(data) as instance:
        runs = instance.get_runs()
        assert len(runs) == 4 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        assert not _claimed_by(instance)


def test_a_pool_held_by_a_live_ui_run_is_waited_for_and_aco_repair_frees_it(
    synthetic_archive, tmp_path
):
    data = tmp_path / "data"
    with data_instance(data) as instance:
        ui_run = instance.add_run(
            dg.DagsterRun(job_name="daily_job", status=dg.DagsterRunStatus.STARTED)
        )
        instance.event_log_storage.set_concurrency_slots("duckdb", 1)
        instance.event_log_storage.claim_concurrency_slot("duckdb", ui_run.run_id, "raw_files")
    day = str(min(_files_of(synthetic_archive)))
    waiting = Aco(*_pipeline(synthetic_archive, data, "--day", day))
    line = waiting.wait_for_line("waiting for")
    assert f"run {ui_run.run_id[:8]} (daily_job, launched by the UI or the daemon)" in line
    assert (
        "holding the duckdb pool" in line
        and f"aco repair --data {data} --fail {ui_run.run_id}" in line
    )
    assert waiting.proc.poll() is None
    repaired = aco("repair", "--data", str(data), "--fail", ui_run.run_id)
    assert repaired.returncode == 0, repaired.stderr
    assert f"run {ui_run.run_id[:8]}: marked failed" in repaired.stdout
    assert waiting.wait() == 0, waiting.stderr
    with data_instance(data) as instance:
        assert instance.get_run_by_id(ui_run.run_id).status == dg.DagsterRunStatus.FAILURE
        assert not _claimed_by(instance)
    assert count(data, "SELECT count(*) FROM coverage") == 1


@pytest.mark.parametrize(
    "signum",
    [
        signal.SIGINT,  # Ctrl-C
        signal.SIGTERM,  # kill, a service manager stopping it
    ],
)
def test_a_pipeline_waiting_for_the_data_folder_stops_on_a_signal(
    synthetic_archive, tmp_path, signum
):
    from orchestration.recovery import DataFolderLock

    data = tmp_path / "data"
    with DataFolderLock(data / "dagster_home") as lock:
        assert lock.try_acquire()
        lock.describe("run 0123abcd (ingest_job) of aco pipeline pid 1")
        waiting = Aco(*_pipeline(synthetic_archive, data))
        line = waiting.wait_for_line("waiting for")
        assert "run 0123abcd (ingest_job) of aco pipeline pid 1" in line
        waiting.proc.send_signal(signum)
        assert waiting.wait() == 130
    assert waiting.lines[-1] == "aco pipeline: interrupted"
    assert "Traceback" not in waiting.stderr


def test_ctrl_c_during_a_step_stops_the_run_at_once_and_frees_its_slot(synthetic_archive, tmp_path):
    data = tmp_path / "data"
    with data_instance(data) as instance:
        running = Aco(*_pipeline(synthetic_archive, data))
        _in_a_step(running, instance)
        running.proc.send_signal(signal.SIGINT)
    assert running.wait() == 130, running.stderr
    assert running.lines[-1] == "aco pipeline: interrupted"
    assert "will retry" not in running.stderr  # Dagster would apply the step's retry policy
    with data_instance(data) as instance:
        (run,) = instance.get_runs()
        assert run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
        assert not _claimed_by(instance)
