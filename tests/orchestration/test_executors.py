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


class _ApiServer:
    """An HTTP server on 127.0.0.1 standing in for a Kubernetes API server (none runs here):
    it records each request and refuses it as the API does a forbidden one (403 and a Status
    object), so a client gets its answer at once."""

    def __init__(self) -> None:
        import http.server
        import json
        import threading

        self.requests: list[dict] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _refuse(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "body": json.loads(body) if body else None,
                    }  # fmt: skip
                )
                status = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                          "reason": "Forbidden", "code": 403, "message": "recorded by the test"}  # fmt: skip
                payload = json.dumps(status).encode()
                self.send_response(403)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = do_PATCH = _refuse

            def log_message(self, *args) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> _ApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def kubeconfig(self, path) -> str:
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
            f"clusters: [{{name: test, cluster: {{server: '{self.url}'}}}}]\n"
            "users: [{name: test, user: {token: not-a-secret}}]\n"
            "contexts: [{name: test, context: {cluster: test, user: test}}]\n"
        )
        return str(path)


def test_the_k8s_executor_submits_each_step_as_a_kubernetes_job_of_the_image(tmp_path, monkeypatch):
    from orchestration.executors import k8s_execution

    monkeypatch.setenv("ACO_FIRST_DAY", "2016-01-01")  # a worker setting the step pods need
    with _ApiServer() as api:
        kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
        execution = k8s_execution("registry.example.org/aco:test", "aco",
                                  load_incluster_config=False, kubeconfig_file=kubeconfig)  # fmt: skip
        with (
            _k8s_instance(tmp_path, kubeconfig) as instance,
            dg.execute_job(
                dg.reconstructable(two_steps),
                instance=instance,
                run_config={"execution": execution},
            ) as result,
        ):
            assert not result.success  # the stand-in server refuses the Job
    posts = [r for r in api.requests if r["method"] == "POST"]
    assert posts, f"no Job submitted; requests: {api.requests}"
    job = posts[0]["body"]
    assert posts[0]["path"] == "/apis/batch/v1/namespaces/aco/jobs"
    assert job["kind"] == "Job"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example.org/aco:test"
    assert container["args"][:3] == ["dagster", "api", "execute_step"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ACO_FIRST_DAY"] == "2016-01-01"
    assert job["metadata"]["labels"]["dagster/op"] == "where_am_i"  # the first step alone


def _k8s_instance(tmp_path, kubeconfig: str):
    """A test instance whose runs are launched by dagster-k8s's K8sRunLauncher, as in the
    deployment (docs/deploy.md)."""
    launcher = {"module": "dagster_k8s", "class": "K8sRunLauncher",
                "config": {"service_account_name": "aco", "instance_config_map": "aco-instance",
                           "job_namespace": "aco", "load_incluster_config": False,
                           "kubeconfig_file": kubeconfig}}  # fmt: skip
    return dg.instance_for_test(temp_dir=str(tmp_path), overrides={"run_launcher": launcher})


def _run_failure(tmp_path, execution: dict, instance_of) -> str:
    with (
        instance_of() as instance,
        dg.execute_job(
            dg.reconstructable(two_steps), instance=instance, run_config={"execution": execution}
        ) as result,
    ):
        assert not result.success
        failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
        return " ".join(str(e.event_specific_data) + str(e.message) for e in failures)


def test_a_wrong_k8s_executor_setting_is_one_clear_error_naming_it(tmp_path):
    from orchestration.executors import k8s_execution

    with _ApiServer() as api:
        kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
        execution = k8s_execution("aco:test", "aco", max_concurrent="many")
        text = _run_failure(tmp_path, execution, lambda: _k8s_instance(tmp_path, kubeconfig))
    assert "max_concurrent" in text and "k8s executor" in text


def test_the_k8s_executor_without_the_k8s_run_launcher_says_what_to_set(tmp_path):
    from orchestration.executors import k8s_execution

    execution = k8s_execution("aco:test", "aco")
    text = _run_failure(tmp_path, execution, lambda: dg.instance_for_test(temp_dir=str(tmp_path)))
    assert "K8sRunLauncher" in text and "DefaultRunLauncher" in text
