"""Errors raised by the detector package.

A small hierarchy so callers can catch everything from ``ml`` with one clause, or one kind of
failure precisely. Every message names the offending value and says how to fix it.
"""

from __future__ import annotations

__all__ = [
    "DetectorError",
    "ConfigError",
    "InputShapeError",
    "SamplerCapError",
    "NotFittedError",
    "ModelFileError",
    "FitError",
]


class DetectorError(Exception):
    """Base class of every error raised by ``ml``."""


class ConfigError(DetectorError, ValueError):
    """A configuration value is out of range or inconsistent."""


class InputShapeError(DetectorError, ValueError):
    """An input array has the wrong shape, dtype or non-finite values."""


class SamplerCapError(DetectorError, RuntimeError):
    """Rejection sampling hit its attempt cap before drawing enough samples."""


class NotFittedError(DetectorError, RuntimeError):
    """A model or mixture was used before it was fitted."""


class ModelFileError(DetectorError, OSError):
    """A saved model directory is missing a file or holds inconsistent contents."""


class FitError(DetectorError, RuntimeError):
    """Fitting failed on the data given, e.g. a mixture covariance that is not positive definite."""
