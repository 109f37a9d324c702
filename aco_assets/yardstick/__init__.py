"""The yardstick: the field's baseline detector and the metrics every model decision is taken on.

Pure (numpy, scipy, scikit-learn, pyarrow).

- :mod:`~aco_assets.yardstick.bands`: third-octave band levels per step and the band-energy
  z-score detector PAM users run (:class:`BandEnergyDetector`).
- :mod:`~aco_assets.yardstick.truth`: ground truth per step (:func:`step_truth`).
- :mod:`~aco_assets.yardstick.intervals`: the anomaly rule (:func:`is_anomalous`), episodes.
"""

from aco_assets.yardstick.bands import (
    BandEnergyDetector,
    BandReference,
    BandScore,
    ThirdOctaveBands,
    third_octave_bands,
)
from aco_assets.yardstick.intervals import Episodes, episodes, is_anomalous, union_seconds
from aco_assets.yardstick.truth import StepTruth, step_truth

__all__ = [
    "BandEnergyDetector",
    "BandReference",
    "BandScore",
    "Episodes",
    "StepTruth",
    "ThirdOctaveBands",
    "episodes",
    "is_anomalous",
    "step_truth",
    "third_octave_bands",
    "union_seconds",
]
