"""The code location's executor: in one process, in subprocesses, on a Dask cluster, or as
Kubernetes Jobs.

Dagster's default executor offers ``in_process`` and ``multiprocess``; :data:`aco_executor` adds
``dask`` (``dagster_dask.dask_executor``) and ``k8s`` (``dagster_k8s.k8s_job_executor``), chosen
by run config, so the same jobs run on a laptop, on a ``dask.distributed`` cluster and on
Kubernetes without a second set of job definitions:

.. code-block:: yaml

    execution:
      config:
        dask:
          cluster:
            existing:
              address: tcp://scheduler:8786

.. code-block:: yaml

    execution:
      config:
        k8s:
          job_image: registry.example.org/aco:1.0   # or the user-code deployment's image
          job_namespace: aco

On Kubernetes each step is a Kubernetes Job (a pod) of the image, which the cluster schedules; the
step pods get the :data:`WORKER_SETTINGS` of the process that launches them (the run pod), and
the instance must be the deployment's (Postgres, runs launched by ``K8sRunLauncher``), as
docs/deploy.md sets up.

On Dask each step is one task, run by whichever worker is free; the worker rebuilds the job from
the code location (so the project must be importable there) and writes its events to the
instance (so the instance must be persistent and reachable: Postgres in a deployment). Dask
ignores Dagster's pools: the steps that must not overlap (training) are run one at a time by the
launcher, and the per-day steps need no pool (their tables are one Parquet file per day).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster._core.definitions.executor_definition import (
    IN_PROC_CONFIG,
    MULTI_PROC_CONFIG,
    _core_in_process_executor_creation,
    _core_multiprocess_executor_creation,
)
from dagster._core.executor.init import InitExecutorContext

# ``dagster_dask.dask_executor``'s schema for the two clusters used here (importing dagster_dask
# costs 2-3 s of dask.distributed at every load of the code location, so it is imported only
# when a run uses it)
DASK_CONFIG = dg.Field(
    {
        "cluster": dg.Field(
            dg.Selector(
                {
                    "existing": dg.Field(
                        {"address": dg.StringSource}, description="Connect to a running scheduler."
                    ),
                    "local": dg.Field(
                        dg.Permissive(), description="A LocalCluster in this process."
                    ),
                }
            )
        )
    },
    description="Execute each step as a task on a dask.distributed cluster (dagster-dask).",
)


K8S_CONFIG = dg.Field(
    dg.Permissive(),
    description=(
        "Execute each step as a Kubernetes Job (dagster-k8s k8s_job_executor): job_image, "
        "job_namespace, env_vars, step_k8s_config, max_concurrent, ... as that executor takes "
        "them; checked against its schema when the run starts (importing dagster_k8s costs "
        "about a second at every load of the code location, so it is imported only then)."
    ),
)


def _requirements(executor_config):
    if "in_process" in executor_config:
        return []
    return dg.multiple_process_executor_requirements()


@dg.executor(
    name="aco_executor",
    config_schema=dg.Field(
        dg.Selector(
            {
                "multiprocess": MULTI_PROC_CONFIG,
                "in_process": IN_PROC_CONFIG,
                "dask": DASK_CONFIG,
                "k8s": K8S_CONFIG,
            }
        ),
        default_value={"multiprocess": {}},
    ),
    requirements=_requirements,
)
def aco_executor(init_context: InitExecutorContext) -> dg.Executor:
    """Dagster's default executor (``multiprocess`` / ``in_process``), ``dask`` or ``k8s``."""
    ((kind, config),) = init_context.executor_config.items()
    if kind == "in_process":
        return _core_in_process_executor_creation(config)
    if kind == "multiprocess":
        return _core_multiprocess_executor_creation(config)
    if kind == "k8s":
        return _k8s_executor(init_context, config)
    ((cluster_type, cluster_config),) = config["cluster"].items()
    return _dask_executor_class()(cluster_type, cluster_config)


@dataclass(frozen=True)
class _StepOnWorker:
    """The arguments of ``dagster_dask.executor.query_on_dask_worker`` in one opaque object.

    dask 2024.12+ walks every tuple argument of ``Client.submit`` looking for futures, and
    Dagster's ``@record`` types (``DagsterRun``, ``KnownExecutionState``: named tuples) forbid
    iteration, so ``DaskExecutor.execute`` of dagster-dask 0.29 fails at its first submit. A
    dataclass is passed through as it is.
    """

    recon_job: Any
    dagster_run: Any
    run_config: Any
    step_keys: list[str]
    instance_ref: Any
    known_state: Any

    def __call__(self, dependencies: list) -> list:
        from dagster_dask.executor import query_on_dask_worker

        return query_on_dask_worker(
            dependencies,
            self.recon_job,
            self.dagster_run,
            self.run_config,
            self.step_keys,
            self.instance_ref,
            self.known_state,
        )


def _dask_executor_class():
    """``dagster_dask.DaskExecutor`` whose steps are submitted as :class:`_StepOnWorker`."""
    import dask.distributed
    from dagster._core.errors import raise_execution_interrupts
    from dagster._utils import iterate_with_context
    from dagster_dask.executor import DaskExecutor, get_dask_resource_requirements

    class AcoDaskExecutor(DaskExecutor):
        def execute(self, plan_context, execution_plan):
            if not plan_context.instance.is_persistent:
                raise dg.DagsterInvariantViolationError(
                    "the dask executor needs a persistent instance: set DAGSTER_HOME"
                )
            if self.cluster_type == "existing":
                cluster = self.cluster_configuration["address"]
            else:
                cluster = dask.distributed.LocalCluster(**self.build_dict(plan_context.job_name))
            with dask.distributed.Client(cluster) as client:
                futures: dict[str, Any] = {}
                for level in execution_plan.get_steps_to_execute_by_level():
                    for step in level:
                        upstream = [
                            futures[key]
                            for step_input in step.step_inputs
                            for key in step_input.dependency_keys
                        ]
                        task = _StepOnWorker(
                            plan_context.reconstructable_job,
                            plan_context.dagster_run,
                            plan_context.run_config,
                            [step.key],
                            plan_context.instance.get_ref(),
                            execution_plan.known_state,
                        )
                        futures[step.key] = client.submit(
                            task,
                            upstream,
                            key=f"{plan_context.job_name}.{step.key}.{plan_context.run_id}",
                            resources=get_dask_resource_requirements(step.tags),
                            pure=False,
                        )
                done = dask.distributed.as_completed(list(futures.values()), with_results=True)
                for _, events in iterate_with_context(raise_execution_interrupts, done):
                    yield from events

    return AcoDaskExecutor


def _k8s_executor(init_context: InitExecutorContext, config: dict) -> dg.Executor:
    """``dagster_k8s.k8s_job_executor`` of ``config`` (checked against its schema), its step
    pods given this process's :data:`WORKER_SETTINGS` that are set (``env_vars`` entries
    without a value take the launching process's)."""
    from dagster._config import process_config
    from dagster_k8s import K8sRunLauncher, k8s_job_executor

    launcher = init_context.instance.run_launcher
    if not isinstance(launcher, K8sRunLauncher):
        raise dg.DagsterInvariantViolationError(
            "the k8s executor needs an instance whose run launcher is dagster_k8s's "
            f"K8sRunLauncher (the run pod launches the step pods), not {type(launcher).__name__}:"
            " set run_launcher in dagster.yaml, as docs/deploy.md does"
        )
    checked = process_config(k8s_job_executor.config_schema.config_type, config)
    if not checked.success:
        raise dg.DagsterInvalidConfigError(
            "Error in the k8s executor's config (execution: config: k8s)", checked.errors, config
        )
    settings = [name for name, value in _settings_of_worker(WORKER_SETTINGS).items() if value]
    given = list(checked.value.get("env_vars") or [])
    named = {entry.split("=", 1)[0] for entry in given}
    executor_config = {**checked.value, "env_vars": given + [n for n in settings if n not in named]}
    return k8s_job_executor.executor_creation_fn(
        InitExecutorContext(
            job=init_context.job,
            executor_def=k8s_job_executor,
            executor_config=executor_config,
            instance=init_context.instance,
        )
    )


def k8s_execution(image: str, namespace: str, **more: Any) -> dict:
    """The run config's ``execution`` block for step pods of ``image`` in ``namespace``."""
    return {"config": {"k8s": {"job_image": image, "job_namespace": namespace, **more}}}


def dask_execution(address: str) -> dict:
    """The run config's ``execution`` block for the Dask scheduler at ``address``."""
    return {"config": {"dask": {"cluster": {"existing": {"address": address}}}}}


# Settings a Dask worker reads from its own environment, which must match the launcher's: the
# partitions (read when the code location loads), the instance's Postgres URL (read when the
# worker opens the instance from the run's instance ref), and the object store's endpoint.
WORKER_SETTINGS = (
    "ACO_FIRST_DAY",
    "ACO_DAGSTER_POSTGRES_URL",
    "AWS_ENDPOINT_URL",
    "MLFLOW_S3_ENDPOINT_URL",
)


def _settings_of_worker(names: tuple[str, ...]) -> dict[str, str | None]:
    import os

    return {name: os.environ.get(name) for name in names}


def dask_workers(address: str, *, timeout_s: float = 10.0) -> int:
    """The number of workers of the Dask scheduler at ``address``, checked for use by a run.

    Raises :class:`~orchestration.errors.AcoInputError` when the scheduler cannot be reached,
    has no worker, or a worker's :data:`WORKER_SETTINGS` differ from this process's.
    """
    from dask.distributed import Client

    from orchestration.errors import AcoInputError

    try:
        client = Client(address, timeout=timeout_s)
    except (OSError, TimeoutError) as e:
        raise AcoInputError(
            f"dask scheduler not reachable at {address} ({e}): start one (`dask scheduler`) and "
            "its workers (`dask worker ADDRESS`), or pass --dask-scheduler tcp://HOST:PORT"
        ) from e
    with client:
        try:
            client.wait_for_workers(1, timeout=timeout_s)
        except TimeoutError as e:
            raise AcoInputError(
                f"the dask scheduler at {address} has no worker: start one with "
                f"`dask worker {address}` (in the project's venv, with its settings)"
            ) from e
        ours = _settings_of_worker(WORKER_SETTINGS)
        theirs = client.run(_settings_of_worker, WORKER_SETTINGS)
        for worker, settings in sorted(theirs.items()):
            for name, value in settings.items():
                if value != ours[name]:
                    raise AcoInputError(
                        f"dask worker {worker} has {name}={value!r}, this process "
                        f"{ours[name]!r}: start the workers with the same {name} "
                        f"(the settings workers read: {', '.join(WORKER_SETTINGS)})"
                    )
        return len(theirs)
