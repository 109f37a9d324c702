"""Recovery on the persistent instance of a data folder, in process: what the next `aco
pipeline` (and `aco repair`) does with the runs and pool slots a dead process left behind."""

from __future__ import annotations

import dagster as dg

from orchestration.recovery import (
    LAUNCHED_BY,
    LAUNCHED_BY_TAG,
    PID_TAG,
    DataFolderLock,
    pool_holders,
    recover,
    repair,
)
from tests.orchestration.pipeline_processes import data_instance


def _run_holding_the_pool(instance, *, status, tags=None, step="raw_files") -> dg.DagsterRun:
    run = instance.add_run(dg.DagsterRun(job_name="ingest_job", status=status, tags=tags or {}))
    instance.event_log_storage.set_concurrency_slots("duckdb", 2)  # room for two holders
    claim = instance.event_log_storage.claim_concurrency_slot("duckdb", run.run_id, step)
    assert claim.is_claimed
    return run


def test_recover_fails_a_dead_pipelines_run_and_frees_its_slot(tmp_path):
    said: list[str] = []
    with data_instance(tmp_path / "data") as instance:
        dead = _run_holding_the_pool(
            instance,
            status=dg.DagsterRunStatus.STARTED,
            tags={LAUNCHED_BY_TAG: LAUNCHED_BY, PID_TAG: "4242"},
        )
        assert recover(instance, said.append) == [dead.run_id]
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert pool_holders(instance) == []
    assert said == [
        f"run {dead.run_id[:8]} (ingest_job) was left STARTED by aco pipeline pid 4242, which is "
        "gone: marked it failed and freed its pool slots"
    ]


def test_recover_frees_the_slot_of_a_finished_run_and_leaves_a_live_ui_run_alone(tmp_path):
    said: list[str] = []
    with data_instance(tmp_path / "data") as instance:
        finished = _run_holding_the_pool(instance, status=dg.DagsterRunStatus.SUCCESS)
        ui = _run_holding_the_pool(
            instance, status=dg.DagsterRunStatus.STARTED, step="spectrograms"
        )
        assert recover(instance, said.append) == [finished.run_id]
        (left,) = pool_holders(instance)
        assert left.run_id == ui.run_id and not left.finished and not left.launched_by_aco
        assert instance.get_run_by_id(ui.run_id).status == dg.DagsterRunStatus.STARTED
    assert said == [
        f"freed the duckdb pool slot still held by finished run {finished.run_id[:8]} "
        "(ingest_job, launched by the UI or the daemon)"
    ]


def test_repair_leaves_the_runs_of_a_live_pipeline_alone(tmp_path, monkeypatch):
    home = tmp_path / "data" / "dagster_home"
    said: list[str] = []
    with data_instance(tmp_path / "data") as instance:
        alive = _run_holding_the_pool(
            instance,
            status=dg.DagsterRunStatus.STARTED,
            tags={LAUNCHED_BY_TAG: LAUNCHED_BY, PID_TAG: "1"},
        )
        with DataFolderLock(home) as lock:  # as a running aco pipeline holds it
            assert lock.try_acquire()
            lock.describe("run 0123abcd (ingest_job) of aco pipeline pid 1")
            monkeypatch.setenv("DAGSTER_HOME", str(home))  # as aco repair --data sets it
            assert repair(home, say=said.append) == 0
        assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
    assert said[0] == (
        "run 0123abcd (ingest_job) of aco pipeline pid 1 is running on this data folder: its runs "
        "are left alone"
    )
