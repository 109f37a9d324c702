"""Launching runs of the workspace's code location in this process, as `aco pipeline` does.

A run made by ``JobDefinition.execute_in_process`` has no code-location origin, so the UI's
Overview timeline does not list it. :class:`Launcher` creates each run with the remote origin
of the location ``workspace.yaml`` names (location name, repository, job) and the Python origin
of the same module, then executes it here: its steps in this process (the default), or as tasks
on a Dask cluster (``execution``, :mod:`orchestration.executors`), where :meth:`Launcher.run_many`
runs several days at once, one run per day, each step on whichever worker is free. Around each
run it keeps the data folder's lock and the pools sound (:mod:`orchestration.recovery`), and
feeds the run's log records to a one-line-per-stage console
(:class:`orchestration.cli.console.StageProgress`; steps on Dask log there, not here: one line per
finished run instead).

Uses Dagster internals (``dagster._core``) that the public API does not expose: the workspace's
origins, ``create_run_for_job`` with a remote origin and ``execute_run``. Checked on Dagster 1.13.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dagster as dg

from aco_assets.storage.layout import DataLayout
from orchestration.cli.console import StageProgress
from orchestration.errors import AcoRunError
from orchestration.recovery import (
    DataFolderLock,
    fail_run,
    launch_tags,
    pool_holders,
    recover,
    wait_for_pools,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WORKSPACE = PROJECT_ROOT / "workspace.yaml"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
POOLS = ("duckdb", "training")
IN_PROCESS = {"config": {"in_process": {}}}


def workspace_location():
    """The one code location of ``workspace.yaml`` (its origin, as the webserver builds it)."""
    from dagster._core.workspace.load import location_origins_from_yaml_paths

    origins = location_origins_from_yaml_paths([str(WORKSPACE)])
    if len(origins) != 1:
        raise RuntimeError(f"{WORKSPACE.name} must name exactly one code location")
    return origins[0]


class Launcher:
    """Runs jobs of the workspace's code location in this process, one at a time.

    Entering takes the data folder's lock (waiting, visibly, for another ``aco pipeline``) and
    repairs the runs a dead one left; leaving releases the lock.

    ``execution`` is the runs' ``execution`` config (default: every step in this process);
    ``resources`` is added to every run's config (a Dask worker resolves no setting from this
    process's environment, so the launcher names the data folder and stores explicitly).
    """

    def __init__(
        self,
        layout: DataLayout,
        *,
        say: Callable[[str], None],
        verbose: bool = False,
        execution: dict[str, Any] | None = None,
        resources: dict[str, Any] | None = None,
    ) -> None:
        self.layout, self.say, self.verbose = layout, say, verbose
        self.execution = execution or IN_PROCESS
        self.remote = execution is not None and "in_process" not in execution["config"]
        self.resources = resources
        self.lock = DataFolderLock(layout.dagster_home)
        self.repaired: list[str] = []
        self.instance: dg.DagsterInstance | None = None
        self._current: set[str] = set()
        self._guard = threading.Lock()

    def __enter__(self) -> Launcher:
        from dagster._core.definitions.reconstruct import ReconstructableRepository
        from dagster._core.definitions.repository_definition.valid_definitions import (
            SINGLETON_REPOSITORY_NAME,
        )
        from dagster._core.remote_origin import RemoteRepositoryOrigin

        self.lock.acquire(self.say)
        try:
            self.instance = dg.DagsterInstance.get()
            self.repaired = recover(self.instance, self.say)
            location = workspace_location()
            target = location.loadable_target_origin
            self.repository = ReconstructableRepository.for_module(
                target.module_name,
                target.attribute,
                working_directory=target.working_directory or str(PROJECT_ROOT),
            )
            self.repository_origin = RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME)
            self.progress = StageProgress(pool_holders=self._describe_holders)
            _sleep_while_a_pool_is_busy()
            # the run's records also reach the one-line-per-stage console, and Ctrl-C stops it.
            # The instance's handlers from dagster.yaml are built once, here: Dagster builds them
            # with logging.config.dictConfig for every run, which deadlocks against a record
            # being logged by a run in another thread (Launcher.run_many).
            instance = self.instance
            yaml_handlers = list(instance.get_yaml_python_handlers())
            ours = [StopOnInterrupt()] + ([] if self.verbose else [self.progress])
            instance.get_handlers = lambda: [
                instance.get_event_log_handler(),
                *yaml_handlers,
                *ours,
            ]
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.instance is not None:
            self.instance.dispose()
            self.instance = None
        self.lock.release()

    def _describe_holders(self, pool: str) -> str:
        assert self.instance is not None
        busy = [h for h in pool_holders(self.instance) if h.pool == pool and not h.finished]
        return ", ".join(h.describe() for h in busy if h.run_id not in self._current) or "a run"

    def partition_bounds(self) -> tuple[dt.date, dt.date]:
        """First and last day of the daily partitions of the loaded code location."""
        from aco_assets.defs.partitions import daily_partitions

        keys = daily_partitions.get_partition_keys()
        start = dt.date.fromisoformat(daily_partitions.start.strftime("%Y-%m-%d"))
        end = dt.date.fromisoformat(keys[-1]) if keys else start - dt.timedelta(days=1)
        return start, end

    def run(
        self,
        job_name: str,
        run_config: dict[str, Any] | None = None,
        span: tuple[dt.date, dt.date] | None = None,
    ) -> str:
        """Execute one run of ``job_name`` (over the days ``span``); returns its run id."""
        from dagster._core.execution.api import execute_run
        from dagster._core.remote_origin import RemoteJobOrigin

        assert self.instance is not None, "use Launcher as a context manager"
        recon_job = self.repository.get_reconstructable_job(job_name)
        job_def = recon_job.get_definition()
        tags = {**job_def.run_tags, **launch_tags()}
        if span:
            tags |= {RANGE_START_TAG: span[0].isoformat(), RANGE_END_TAG: span[1].isoformat()}
        config = {
            **(run_config or {}),
            **({"resources": self.resources} if self.resources else {}),
            "execution": self.execution,
            "loggers": {
                "console": {"config": {"log_level": "DEBUG" if self.verbose else "CRITICAL"}}
            },
        }
        repair = f"aco repair --data {self.layout.data_dir}"
        wait_for_pools(self.instance, POOLS, self.say, repair=repair)
        run = self.instance.create_run_for_job(
            job_def,
            run_config=config,
            tags=tags,
            remote_job_origin=RemoteJobOrigin(self.repository_origin, job_name),
            job_code_origin=recon_job.get_python_origin(),
        )
        what = f"{job_name} {span[0]}..{span[1]}" if span else job_name
        self.say(f"{what} (run {run.run_id[:8]})")
        with self._guard:
            self._current.add(run.run_id)
            runs = ", ".join(r[:8] for r in sorted(self._current))
            self.lock.describe(f"run {runs} ({job_name}) of aco pipeline pid {os.getpid()}")
        try:
            outcome = execute_run(recon_job, run, self.instance, raise_on_error=False)
        except BaseException:
            fail_run(self.instance, run.run_id, "interrupted (Ctrl-C or SIGTERM)")
            raise
        finally:
            # a run that ended keeps no pool slot (Dagster leaves an interrupted step's claimed)
            fail_run(self.instance, run.run_id, "the run stopped before it finished")
            with self._guard:
                self._current.discard(run.run_id)
        if _interrupted(outcome):  # Dagster turns Ctrl-C inside a step into a failed step
            raise KeyboardInterrupt
        _raise_if_failed(outcome, run_id=run.run_id, job_name=job_name, data=self.layout.data_dir)
        if self.remote:  # the console sees no step of a remote executor
            self.say(f"  {what}: done (run {run.run_id[:8]})")
        return run.run_id

    def run_many(
        self,
        job_name: str,
        run_config: dict[str, Any] | None,
        spans: Sequence[tuple[dt.date, dt.date]],
        *,
        at_once: int,
    ) -> list[str]:
        """:meth:`run` for each span, up to ``at_once`` runs at a time; their run ids in order.

        Each run waits in its own thread for its steps, which run elsewhere (Dask workers), so
        the days of a range are done side by side. The first failure is raised once every
        started run has ended (each ends as a whole: failed or succeeded, never half-recorded).
        """
        if at_once <= 1 or len(spans) <= 1:
            return [self.run(job_name, run_config, span) for span in spans]
        with ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="aco-run") as pool:
            futures = [pool.submit(self.run, job_name, run_config, span) for span in spans]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()  # the runs not started yet; the started ones end on their own
                raise


def _sleep_while_a_pool_is_busy() -> None:
    """Make Dagster's executor sleep between two claims of a busy pool instead of spinning.

    In Dagster 1.13, ``InstanceConcurrencyContext.interval_to_next_pending_claim_check`` returns
    ``min(0, ...)``, never a positive wait, so a step blocked by a pool re-polls the instance at
    100 % CPU, and a Ctrl-C (deferred by Dagster's ``capture_interrupts``) waits until the slot
    frees. Here it sleeps until the next planned claim, as the executor's backoff intends, and
    a deferred Ctrl-C stops the run at once. Our runs wait for pools before they start
    (:func:`orchestration.recovery.wait_for_pools`); this covers a run of the UI that takes the
    slot in between.
    """
    from dagster._core.errors import DagsterExecutionInterruptedError
    from dagster._core.execution.plan.instance_concurrency_context import (
        InstanceConcurrencyContext,
    )
    from dagster._utils.interrupts import pop_captured_interrupt

    def interval(self) -> float:
        if pop_captured_interrupt():  # Ctrl-C while blocked: stop now, not when the slot frees
            raise DagsterExecutionInterruptedError()
        if not self._pending_claims:
            return 0.0
        now = time.time()
        waits = [ready_at - now for ready_at in self._pending_timeouts.values()]
        return max(0.0, min(waits)) if waits else 1.0

    InstanceConcurrencyContext.interval_to_next_pending_claim_check = interval


INTERRUPTS = {"KeyboardInterrupt", "DagsterExecutionInterruptedError"}


def _is_interrupt(event) -> bool:
    error = getattr(event.event_specific_data, "error", None)
    while error is not None:
        if error.cls_name in INTERRUPTS:
            return True
        error = error.cause
    return False


def _interrupted(outcome) -> bool:
    """Whether the run ended because of Ctrl-C or SIGTERM."""
    return any(
        e.event_type_value in ("RUN_CANCELED", "RUN_CANCELING") or _is_interrupt(e)
        for e in outcome.all_events
    )


class StopOnInterrupt(logging.Handler):
    """Stop the run when Dagster would retry a step that Ctrl-C or SIGTERM interrupted.

    Dagster applies a step's ``RetryPolicy`` to interrupts (a preempted pod comes back); for a
    command in a terminal, Ctrl-C means stop. Raised from the retry event's log call, the
    ``KeyboardInterrupt`` ends the run in the executor, which records it as interrupted.
    """

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is not None and event.event_type_value == "STEP_UP_FOR_RETRY":
            if _is_interrupt(event):
                raise KeyboardInterrupt


def _raise_if_failed(outcome, *, run_id: str, job_name: str, data: Path) -> None:
    """An :class:`AcoRunError` naming the failed step and the innermost error's message."""
    if outcome.success:
        return
    failures = [e for e in outcome.all_events if e.is_step_failure]
    what = "its start"
    if failures:
        error = failures[0].step_failure_data.error
        while error is not None and error.cause is not None:
            error = error.cause
        lines = error.message.strip().splitlines() if error else []
        what = f"step {failures[0].step_key}: {lines[0] if lines else 'failed'}"
    raise AcoRunError(
        f"run {run_id[:8]} ({job_name}) failed at {what} (full log: aco ui --data {data}, Runs)"
    )
