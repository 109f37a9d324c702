"""The code location's executor on a real (in-process) Dask cluster, and the clear errors of
the deployment settings: an unreachable Dask scheduler or Postgres server.

The whole deployment shape (Postgres, an S3 server, two Dask worker processes) is exercised by
`make test-scale` (orchestration/checks/scale_check.py)."""

from __future__ import annotations

import os

import dagster as dg
import pytest

from orchestration.checks.scale_services import free_port
from orchestration.errors import AcoInputError
from orchestration.executors import aco_executor


@dg.op
def where_am_i() -> int:
    return os.getpid()


@dg.op
def plus_one(pid: int) -> int:
    return pid + 1


@dg.job(executor_def=aco_executor)
def two_steps():
    plus_one(where_am_i())


def test_the_dask_executor_runs_each_step_as_a_task_of_the_cluster(tmp_path):
    # a local cluster of one in-process worker: the same submit path as an existing scheduler
    local = {"n_workers": 1, "processes": False, "dashboard_address": None}
    config = {"execution": {"config": {"dask": {"cluster": {"local": local}}}}}
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        job = dg.reconstructable(two_steps)
        with dg.execute_job(job, instance=instance, run_config=config) as result:
            assert result.success
            assert result.output_for_node("plus_one") == result.output_for_node("where_am_i") + 1
        records = instance.get_records_for_run(
            result.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS
        ).records
        assert sorted(r.event_log_entry.step_key for r in records) == ["plus_one", "where_am_i"]


def test_the_default_executor_stays_dagsters_multiprocess_one(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.execute_job(dg.reconstructable(two_steps), instance=instance)
        assert result.success
        pids = [e.pid for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START]
        assert len(pids) == 2 and os.getpid() not in pids  # a subprocess per step


def test_an_unreachable_dask_scheduler_is_one_clear_error():
    from orchestration.executors import dask_workers

    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(AcoInputError, match=f"dask scheduler not reachable at {address}"):
        dask_workers(address, timeout_s=2)


def test_an_unreachable_postgres_is_one_clear_error_without_the_password():
    from orchestration.runner import check_postgres

    url = f"postgresql+psycopg2://aco:secret@127.0.0.1:{free_port()}/dagster"
    with pytest.raises(AcoInputError, match="postgres not reachable at") as caught:
        check_postgres(url, what="ACO_DAGSTER_POSTGRES_URL")
    assert "secret" not in str(caught.value)
    assert "aco:***@127.0.0.1" in str(caught.value)
    assert "ACO_DAGSTER_POSTGRES_URL" in str(caught.value)
