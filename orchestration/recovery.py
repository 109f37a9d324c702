"""Runs that survive their process being killed: the data folder's lock, dead runs, pool slots.

A run of ``aco pipeline`` holds the concurrency slots of its pools (``duckdb``, ``training``) in
the instance while its steps run. When the process dies without cleaning up (``kill -9``, an OOM
kill, a reboot), the run stays STARTED and its slots stay claimed, so every later run that needs
the pool would wait forever. Three pieces keep that from happening:

- :class:`DataFolderLock`, an ``flock`` on ``<DAGSTER_HOME>/aco-pipeline.lock`` that every
  ``aco pipeline`` holds while it runs. The kernel releases it when the process dies, however it
  dies, so holding it proves that no other ``aco pipeline`` of this data folder is alive;
- :func:`recover`, called with the lock held: runs launched by ``aco pipeline`` that are not
  finished belong to a dead process, so they are marked failed and their slots freed; slots held
  by finished runs are freed too;
- :func:`wait_for_pools`: slots held by a live run of someone else (the UI, the daemon) are
  waited for, visibly, sleeping between checks (Ctrl-C stops the wait).

``aco repair`` runs the same recovery from a shell and fails named runs on request.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

LAUNCHED_BY_TAG = "aco/launched_by"
LAUNCHED_BY = "aco pipeline"
PID_TAG = "aco/pid"
HOST_TAG = "aco/host"
LOCK_NAME = "aco-pipeline.lock"
POLL_S = 2.0  # seconds between two checks of a lock or a pool someone else holds

Say = Callable[[str], None]


def launch_tags() -> dict[str, str]:
    """The tags that mark a run as launched by this process of ``aco pipeline``.

    ``dagster/max_retries`` 0: a failed or interrupted run is re-run by the next
    ``aco pipeline``, not by the daemon's run retries behind the user's back.
    """
    return {
        LAUNCHED_BY_TAG: LAUNCHED_BY,
        PID_TAG: str(os.getpid()),
        HOST_TAG: socket.gethostname(),
        "dagster/max_retries": "0",
    }


class DataFolderLock:
    """An exclusive ``flock`` on the data folder, released by the kernel when the holder dies.

    The file's text names the holder (pid, and the run it is in), for the messages of those
    waiting for it.
    """

    def __init__(self, dagster_home: Path) -> None:
        self.path = Path(dagster_home) / LOCK_NAME
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; ``False`` (at once) when another process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return False
            raise
        self._fd = fd
        self.describe(f"aco pipeline pid {os.getpid()}")
        return True

    def acquire(self, say: Say, *, poll_s: float = POLL_S) -> None:
        """Take the lock, waiting (and saying so once) while another ``aco pipeline`` holds it."""
        told = None
        while not self.try_acquire():
            holder = self.holder()
            if holder != told:
                say(f"waiting for {holder}, which holds this data folder")
                told = holder
            time.sleep(poll_s)

    def describe(self, text: str) -> None:
        """Record what the holder is doing (read by :meth:`holder` in other processes)."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, text.encode(), 0)

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "an unknown process"
        except OSError:
            return "an unknown process"

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataFolderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass(frozen=True)
class Holder:
    """A run that holds (or waits for) slots of a pool."""

    run_id: str
    job_name: str | None
    pool: str
    finished: bool
    launched_by_aco: bool

    def describe(self) -> str:
        who = "aco pipeline" if self.launched_by_aco else "the UI or the daemon"
        return f"run {self.run_id[:8]} ({self.job_name or 'unknown job'}, launched by {who})"


def pool_holders(instance: dg.DagsterInstance) -> list[Holder]:
    """Every run that holds a slot, or waits for one, in any pool of the instance."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    holders: dict[tuple[str, str], Holder] = {}
    for pool in sorted(storage.get_concurrency_keys()):
        info = storage.get_concurrency_info(pool)
        run_ids = {s.run_id for s in info.claimed_slots} | {p.run_id for p in info.pending_steps}
        for run_id in sorted(run_ids):
            run = instance.get_run_by_id(run_id)
            holders[(pool, run_id)] = Holder(
                run_id=run_id,
                job_name=run.job_name if run else None,
                pool=pool,
                finished=run is None or run.is_finished,
                launched_by_aco=bool(run and run.tags.get(LAUNCHED_BY_TAG) == LAUNCHED_BY),
            )
    return list(holders.values())


def fail_run(instance: dg.DagsterInstance, run_id: str, reason: str) -> bool:
    """Mark a run failed (when it is not finished) and free every pool slot it holds.

    Returns whether the run was found.
    """
    run = instance.get_run_by_id(run_id)
    if run is None:
        return False
    if not run.is_finished:
        instance.report_run_failed(run, message=reason)
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    return True


def recover(instance: dg.DagsterInstance, say: Say) -> list[str]:
    """Fail the runs a dead ``aco pipeline`` left behind and free the slots of finished runs.

    Call it only while holding :class:`DataFolderLock`: then no ``aco pipeline`` of this data
    folder is alive, so an unfinished run it launched has lost its process. Returns the ids of
    the runs repaired.
    """
    import dagster as dg
    from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES

    repaired: list[str] = []
    orphans = instance.get_runs(
        dg.RunsFilter(statuses=NOT_FINISHED_STATUSES, tags={LAUNCHED_BY_TAG: LAUNCHED_BY})
    )
    for run in orphans:
        pid = run.tags.get(PID_TAG, "?")
        fail_run(
            instance,
            run.run_id,
            f"the aco pipeline process (pid {pid}) that ran it is gone (killed, out of memory or "
            "a reboot); marked failed by the next aco pipeline",
        )
        say(
            f"run {run.run_id[:8]} ({run.job_name}) was left {run.status.value} by aco pipeline "
            f"pid {pid}, which is gone: marked it failed and freed its pool slots"
        )
        repaired.append(run.run_id)
    for holder in pool_holders(instance):
        if holder.finished and holder.run_id not in repaired:
            fail_run(instance, holder.run_id, "finished")
            say(f"freed the {holder.pool} pool slot still held by finished {holder.describe()}")
            repaired.append(holder.run_id)
    return repaired


def wait_for_pools(
    instance: dg.DagsterInstance,
    pools: Iterable[str],
    say: Say,
    *,
    repair: str = "aco repair",
    poll_s: float = POLL_S,
) -> None:
    """Wait, sleeping, until no other run holds a slot of ``pools``; say once whom we wait for.

    ``repair`` is the command the message suggests for a run whose process is gone.
    """
    pools = set(pools)
    told: set[str] = set()
    while True:
        busy = [h for h in pool_holders(instance) if h.pool in pools and not h.finished]
        if not busy:
            return
        for h in busy:
            if h.run_id not in told:
                say(
                    f"waiting for {h.describe()} holding the {h.pool} pool; Ctrl-C stops. If its "
                    f"process is gone: {repair} --fail {h.run_id}"
                )
                told.add(h.run_id)
        time.sleep(poll_s)
        recover_finished(instance, say)


def recover_finished(instance: dg.DagsterInstance, say: Say) -> None:
    """Free the slots that finished runs still hold (safe without the lock)."""
    for holder in pool_holders(instance):
        if holder.finished:
            fail_run(instance, holder.run_id, "finished")
            say(f"freed the {holder.pool} pool slot still held by finished {holder.describe()}")


def repair(dagster_home: Path, *, fail_runs: Iterable[str] = (), say: Say = print) -> int:
    """``aco repair``: what :func:`recover` does, plus failing named runs; returns 0.

    Without the data folder's lock (an ``aco pipeline`` is running) only the slots of finished
    runs and the named runs are repaired: the running pipeline's own runs are alive.
    """
    import dagster as dg

    lock = DataFolderLock(dagster_home)
    with dg.DagsterInstance.get() as instance:
        held = lock.try_acquire()
        try:
            if held:
                done = recover(instance, say)
            else:
                say(f"{lock.holder()} is running on this data folder: its runs are left alone")
                done = []
                recover_finished(instance, say)
            for run_id in fail_runs:
                if not fail_run(instance, run_id, "marked failed with aco repair"):
                    from orchestration.errors import AcoInputError

                    raise AcoInputError(
                        f"no run {run_id} in {dagster_home}: copy its id from the UI's Runs page"
                    )
                say(f"run {run_id[:8]}: marked failed and freed its pool slots")
                done.append(run_id)
            left = [h for h in pool_holders(instance) if not h.finished]
            for h in left:
                say(f"{h.describe()} holds the {h.pool} pool; if its process is gone: "
                    f"aco repair --fail {h.run_id}")  # fmt: skip
            if not done and not left:
                say("nothing to repair: no run is left unfinished and no pool slot is held")
        finally:
            lock.release()
    return 0
