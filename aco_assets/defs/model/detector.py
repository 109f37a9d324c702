"""``detector``: the three-phase Neyman-Pearson model trained on the archive's windows.

The work is :func:`aco_assets.scoring.training.train_detector` (the protocol's time split, the
features, training, the false-alarm budget turned into a threshold on calibration time, the
two-sided check of the realised rate on test time, the figures) and
:func:`aco_assets.storage.model_registry.register` (the MLflow run, the registered version, the
``champion`` alias, the ``model_versions`` row); this module is their Dagster adapter. The
``champion`` alias moves to a new version only when its checks pass.
"""

from typing import Literal

import dagster as dg

from aco_assets.defs.day_reports import pct, sig
from aco_assets.defs.model.typical_windows import typical_windows
from aco_assets.defs.resources import MlflowResource, StorageResource
from aco_assets.reporting.figures import markdown_image
from aco_assets.scoring.training import TrainingOutcome, train_detector
from aco_assets.scoring.training_settings import TrainingSettings
from aco_assets.storage.model_registry import Registration, register

_DEFAULTS = TrainingSettings  # the production defaults, written once (TrainingSettings)


class DetectorTrainingConfig(dg.Config):
    """The Dagster form of :class:`aco_assets.scoring.training_settings.TrainingSettings` (each
    field is documented there, and its default comes from there)."""

    schedule: Literal["quick", "default"] = _DEFAULTS.schedule
    rho: float = _DEFAULTS.rho
    z_dim: int = _DEFAULTS.z_dim
    n_components: int = _DEFAULTS.n_components
    score: Literal["np", "gmm_nll", "combined", "recon_error"] = _DEFAULTS.score
    score_step_s: float = _DEFAULTS.score_step_s
    band_groups: int = _DEFAULTS.band_groups
    step_pool: Literal["mean", "max"] = _DEFAULTS.step_pool
    error_part: Literal["both", "excess"] = _DEFAULTS.error_part
    discriminator_floor: float | None = _DEFAULTS.discriminator_floor
    discriminator_ceiling: float | None = _DEFAULTS.discriminator_ceiling
    anomaly_source: Literal["decoded", "real", "mix"] = _DEFAULTS.anomaly_source
    normalise: Literal["feature", "row", "global", "none"] = _DEFAULTS.normalise
    phase1_steps: int | None = _DEFAULTS.phase1_steps
    phase2_steps: int | None = _DEFAULTS.phase2_steps
    eras: int | None = _DEFAULTS.eras
    max_general_windows: int = _DEFAULTS.max_general_windows
    false_alarms_per_hour: float = _DEFAULTS.false_alarms_per_hour
    false_alarms_per_day: float | None = _DEFAULTS.false_alarms_per_day
    calibration_share: float = _DEFAULTS.calibration_share
    heldout_share: float = _DEFAULTS.heldout_share
    check_alpha: float = _DEFAULTS.check_alpha
    seed: int = _DEFAULTS.seed

    def settings(self) -> TrainingSettings:
        return TrainingSettings(**self.model_dump())

    @property
    def budget_per_hour(self) -> float:
        return self.settings().budget_per_hour

    def n_steps(self, window_s: float) -> int:
        return self.settings().n_steps(window_s)

    def ml_configs(self, input_shape: tuple[int, int, int], window_s: float = 5.0):
        return self.settings().ml_configs(input_shape, window_s)


@dg.asset(
    deps=[typical_windows],
    pool="training",
    group_name="model",
    kinds={"pytorch", "mlflow"},
    check_specs=[
        dg.AssetCheckSpec(
            "threshold_is_sane",
            asset="detector",
            description="The realised false alarms per hour on the held-out test time lie inside "
            "the exact 99 % Poisson interval of the budget, and the threshold is finite. The "
            "champion alias moves only to a version that passes.",
        ),
        dg.AssetCheckSpec(
            "gmm_converged",
            asset="detector",
            description="The EM fit of the latent Gaussian mixture converged (WARN otherwise: "
            "raise gmm_max_iter or lower n_components).",
        ),
    ],
)
def detector(
    context: dg.AssetExecutionContext,
    config: DetectorTrainingConfig,
    storage: StorageResource,
    mlflow_resource: MlflowResource,
) -> dg.MaterializeResult:
    """Train the detector on the training days, set its threshold from the false-alarm budget
    on the calibration days, check the realised alarm rate on the test days, log an MLflow run,
    register a version, and move ``champion`` to it when the check passes."""
    layout, warehouse = storage.layout(), storage.warehouse()
    outcome = train_detector(layout, warehouse, config.settings(), log=context.log.info)
    done = register(
        outcome,
        client=mlflow_resource.client(),
        experiment_id=mlflow_resource.experiment_id(),
        registered_model_name=mlflow_resource.registered_model_name,
        warehouse=warehouse,
        run_name=f"detector-{context.run.run_id[:8]}",
        tags={"dagster_run_id": context.run.run_id},
    )
    context.log.info(summary_line(outcome, done))
    return dg.MaterializeResult(
        metadata=detector_metadata(outcome, done, config.score_step_s),
        check_results=check_results(outcome),
        # the champion's version: scores go stale when the champion moves, not when a
        # version that failed its check is registered beside it
        data_version=dg.DataVersion(str(done.champion_version)),
    )


def summary_line(outcome: TrainingOutcome, done: Registration) -> str:
    """The run log's line about the new version."""
    budget, check = outcome.budget, outcome.check
    provisional = "" if done.checks_passed or not done.champion else " (provisional: no other)"
    return (
        f"model version {done.version}: threshold {outcome.fitted.threshold:.4g} for "
        f"{budget.budget_per_hour:g} false alarms/h ({budget.method}), held-out "
        f"{check.rate_per_hour:.2f}/h over {check.hours:.2f} h; check passed: "
        f"{done.checks_passed}, champion: {done.champion}{provisional}"
    )


def detector_metadata(outcome: TrainingOutcome, done: Registration, score_step_s: float) -> dict:
    """The materialization's metadata: version, run, budget, threshold, check, split, figures."""
    budget, check, split = outcome.budget, outcome.check, outcome.split
    threshold = sig(float(outcome.fitted.threshold))
    return {
        "model_version": done.version,
        "mlflow_run_id": done.run_id,
        "champion": done.champion,
        "checks_passed": done.checks_passed,
        "score": outcome.fitted.score_name,
        "false_alarm_budget_per_hour": budget.budget_per_hour,
        "summary": dg.MetadataValue.text(
            f"model version {done.version}: {budget.budget_per_hour:g} false alarm(s) per hour "
            f"budget, threshold {threshold:g} ({budget.method}); held-out "
            f"{check.rate_per_hour:.2f} alarms/h over {check.hours:.2f} h; check "
            f"{'passed' if done.checks_passed else 'failed'}"
        ),
        "threshold": threshold,
        "threshold_rule": budget.method,
        "heldout_false_alarms_per_hour": round(float(check.rate_per_hour), 3),
        "heldout_hours": round(float(check.hours), 3),
        "heldout_step_fpr_pct": pct(outcome.heldout_fpr, digits=2),
        "score_step_s": score_step_s,
        "train_units": ", ".join(split.train),
        "calibration_units": ", ".join(split.calibration),
        "test_units": ", ".join(split.test),
        "n_general": outcome.n_general,
        "n_typical": outcome.n_typical,
        "typical_selection_id": outcome.reference.typical_selection_id or "",
        "figures": dg.MetadataValue.md(
            "\n\n".join(markdown_image(f.small, n) for n, f in outcome.figures.items())
        ),
    }


def check_results(outcome: TrainingOutcome) -> list[dg.AssetCheckResult]:
    """``threshold_is_sane`` and ``gmm_converged``."""
    fitted, finite = outcome.fitted, outcome.threshold_is_finite
    return [
        dg.AssetCheckResult(
            check_name="threshold_is_sane",
            passed=outcome.passed,
            description="The realised false alarms per hour on held-out typical time agree with "
            "the budget (two-sided exact Poisson interval) and the threshold is finite.",
            metadata={
                "threshold": float(fitted.threshold) if finite else str(fitted.threshold),
                **{k: v for k, v in outcome.check.to_dict().items() if k != "passed"},
            },
        ),
        dg.AssetCheckResult(
            check_name="gmm_converged",
            passed=outcome.gmm_converged,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"n_components": fitted.config.n_components},
        ),
    ]
