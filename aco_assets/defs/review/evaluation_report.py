"""``evaluation``: detection quality of a model version against ground truth, baselines and reviews.

The methods compared on the same windows (valid, finite under every method, no data-quality
flag) are those of :mod:`aco_assets.scoring.methods` (``production``, ``np``, ``gmm_nll``,
``recon_error``, ``energy``).

Window level (when the archive has ``catalog.parquet``): AUC, pAUC for FPR <= ``max_fpr`` in
two normalisations (``pauc_mcclish``: McClish-standardised, 0.5 = chance, as scikit-learn's
``roc_auc_score(max_fpr=)``; ``pauc_normalized``: area / max_fpr, the DCASE definition, chance =
max_fpr / 2), average precision, and TPR with the realised FPR at the operating threshold under
the model's rule ``score > threshold``: the model's threshold for ``production``; for every other
method the threshold that flags the same share of windows (an equal alarm budget). Event level:
the production detections (table ``detections``); for the others, their flagged windows merged
the same way. Recall per class and per SNR bucket, precision, alarms per day and precision@k.
With reviewer verdicts (table ``reviews``), precision@k of the reviewed detections (subset
``reviews``).

This module is the Dagster adapter only: :mod:`aco_assets.storage.evaluation_store` reads and
writes, :func:`aco_assets.scoring.version_evaluation.evaluate_model_version` computes,
:mod:`aco_assets.reporting.evaluation_page` draws.
"""

from typing import Any

import dagster as dg
import numpy as np

from aco_assets.defs.detect.anomaly_scores import anomaly_scores
from aco_assets.defs.detect.detections import detections
from aco_assets.defs.resources import MlflowResource, StorageResource
from aco_assets.reporting.evaluation_page import FIGURES, EvaluationPage, write_evaluation_page
from aco_assets.reporting.evaluation_summary import headline, top_detections_markdown
from aco_assets.reporting.figures import markdown_image, sparkline_markdown
from aco_assets.scoring.version_evaluation import (
    EvaluationOutcome,
    EvaluationSettings,
    VersionInputs,
    evaluate_model_version,
)
from aco_assets.storage.evaluation_store import (
    evaluation_dir,
    load_evaluation_inputs,
    log_evaluation,
    newest_scored_version,
    top_detections,
    write_evaluation_metrics,
)
from aco_assets.storage.layout import DataLayout

__all__ = ["EvaluationConfig", "evaluation"]


class EvaluationConfig(dg.Config):
    model_version: int | None = None  # default: the newest version that scored windows
    max_fpr: float = 0.1  # pAUC limit
    tolerance_s: float = 2.0  # slack when matching detections to catalog events, s
    max_gap_s: float = 5.0  # merging of flagged baseline windows (as the detections asset)
    ks: list[int] = [10, 50, 100]  # precision@k cut-offs

    def settings(self) -> EvaluationSettings:
        return EvaluationSettings(self.max_fpr, self.tolerance_s, self.max_gap_s, tuple(self.ks))


@dg.asset(
    deps=[
        dg.AssetDep(anomaly_scores, partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep(detections, partition_mapping=dg.AllPartitionMapping()),
    ],
    pool="duckdb",
    group_name="review",
    kinds={"duckdb", "mlflow"},
)
def evaluation(
    context: dg.AssetExecutionContext,
    config: EvaluationConfig,
    storage: StorageResource,
    mlflow_resource: MlflowResource,
) -> dg.MaterializeResult:
    """Score the model version against the archive's catalog, the baselines and the reviewers."""
    layout, warehouse = storage.layout(), storage.warehouse()
    version = config.model_version or newest_scored_version(warehouse)
    inputs = load_evaluation_inputs(layout, warehouse, version)
    outcome = evaluate_model_version(inputs, config.settings())
    for note in outcome.notes:
        context.log.info(note)
    directory = evaluation_dir(layout, version)
    page = write_evaluation_page(
        outcome, list(inputs.per_day), version=version, max_fpr=config.max_fpr, directory=directory
    )
    write_evaluation_metrics(warehouse, version, outcome.rows)
    run_id = inputs.model["run_id"]
    if run_id:
        log_evaluation(mlflow_resource.client(), run_id, outcome.rows, directory, FIGURES)
    top = top_detections_markdown(top_detections(warehouse, version), version)
    metadata = evaluation_metadata(inputs, outcome, page, layout, top_detections=top)
    metadata.update({"metrics": len(outcome.rows), "mlflow_run_id": run_id or ""})
    return dg.MaterializeResult(metadata=metadata)


def evaluation_metadata(
    inputs: VersionInputs,
    outcome: EvaluationOutcome,
    page: EvaluationPage,
    layout: DataLayout,
    *,
    top_detections: str,
) -> dict[str, Any]:
    """The page's metadata: the headline first, the alarms, then the tables and figures."""
    version, per_day = inputs.version, inputs.per_day
    n_detections = inputs.production.num_rows
    metadata: dict[str, Any] = {
        "summary": dg.MetadataValue.text(
            headline(version, inputs.n_days, n_detections, outcome.rows)
        ),
        "alarms": dg.MetadataValue.md(
            sparkline_markdown(
                np.array([n for _, n in per_day], float),
                alt=f"model v{version}: detections per day, {len(per_day)} days in time order",
            )
        ),
        "model_version": version,
        "windows": inputs.windows.num_rows,
        "days": inputs.n_days,
        "alarms_per_day": round(n_detections / max(inputs.n_days, 1), 2),
        "top_detections": dg.MetadataValue.md(top_detections),
    }
    if page.methods is not None:
        metadata["methods"] = dg.MetadataValue.md(page.methods)
    if page.figures:
        metadata["figures"] = dg.MetadataValue.md(
            "\n\n".join(markdown_image(p, n) for n, p in page.figures.items())
        )
        directory = evaluation_dir(layout, version)
        metadata["figures_dir"] = dg.MetadataValue.path(layout.relative(directory))
    if page.held_out is not None and page.yardstick is not None:
        metadata["held_out"] = dg.MetadataValue.md(page.held_out)
        metadata["yardstick"] = dg.MetadataValue.path(layout.relative(page.yardstick))
    return metadata
