"""The three-phase Neyman-Pearson anomaly detector (pure PyTorch / NumPy).

Knows nothing of the ACO archive or of Dagster: arrays in, arrays out.
"""

from ml.config import DetectorConfig, TrainConfig
from ml.errors import (
    ConfigError,
    DetectorError,
    FitError,
    InputShapeError,
    ModelFileError,
    NotFittedError,
    SamplerCapError,
)
from ml.gmm import ConvergenceWarning, GaussianMixture
from ml.model import NPDetector
from ml.scoring import FittedDetector, Scores
from ml.trainer import fit_detector

__all__ = [
    "DetectorConfig",
    "TrainConfig",
    "NPDetector",
    "GaussianMixture",
    "ConvergenceWarning",
    "fit_detector",
    "FittedDetector",
    "Scores",
    "DetectorError",
    "ConfigError",
    "InputShapeError",
    "SamplerCapError",
    "NotFittedError",
    "ModelFileError",
    "FitError",
]
