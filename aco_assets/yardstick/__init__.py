"""The yardstick: the field's baseline detector and the metrics every model decision is taken on.

Pure (numpy, scipy, scikit-learn, pyarrow).

- :mod:`~aco_assets.yardstick.bands`: third-octave band levels per step and the band-energy
  z-score detector PAM users run (:class:`BandEnergyDetector`).
- :mod:`~aco_assets.yardstick.truth`: ground truth per step (:func:`step_truth`).
- :mod:`~aco_assets.yardstick.intervals`: the anomaly rule (:func:`is_anomalous`, the one of
  :mod:`aco_assets.scoring.protocol`), episodes of flagged steps, audio hours.
- :mod:`~aco_assets.yardstick.ranking`: class-balanced and event-balanced AUC, pAUC.
- :mod:`~aco_assets.yardstick.operating`: recall, false alarms per hour and precision at a
  threshold, and the best recall within a false-alarm budget.
- :mod:`~aco_assets.yardstick.report`: :func:`evaluate_method`, :func:`compare_methods`.

Dimension letters (all modules): S steps, B bands, E events, F faults, Q episodes.
"""

from aco_assets.yardstick.bands import (
    BandEnergyDetector,
    BandReference,
    BandScore,
    ThirdOctaveBands,
    third_octave_bands,
)
from aco_assets.yardstick.intervals import Episodes, episodes, is_anomalous, union_seconds
from aco_assets.yardstick.operating import (
    OperatingPoint,
    candidate_thresholds,
    operating_point,
    recall_at_budget,
)
from aco_assets.yardstick.ranking import (
    auc_by_class,
    class_balanced_auc,
    event_balanced_auc,
    event_weights,
    window_auc,
)
from aco_assets.yardstick.report import (
    MethodEvaluation,
    compare_methods,
    evaluate_method,
    evaluate_truth,
    results_table,
)
from aco_assets.yardstick.truth import StepTruth, step_truth

__all__ = [
    "BandEnergyDetector",
    "BandReference",
    "BandScore",
    "Episodes",
    "MethodEvaluation",
    "OperatingPoint",
    "StepTruth",
    "ThirdOctaveBands",
    "auc_by_class",
    "candidate_thresholds",
    "class_balanced_auc",
    "compare_methods",
    "episodes",
    "evaluate_method",
    "evaluate_truth",
    "event_balanced_auc",
    "event_weights",
    "is_anomalous",
    "operating_point",
    "recall_at_budget",
    "results_table",
    "step_truth",
    "third_octave_bands",
    "union_seconds",
    "window_auc",
]
