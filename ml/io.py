"""Saving and loading a fitted detector as functions: state dict + JSON config + arrays.

The layout of a model directory and its checks (SHA-256 per file, format version) are those of
:mod:`ml.detector_files`; :func:`save_detector` and :func:`load_detector` are
:meth:`FittedDetector.save <ml.scoring.FittedDetector.save>` and
:meth:`FittedDetector.load <ml.scoring.FittedDetector.load>`. This module depends on the fitted
detector, never the reverse.
"""

from __future__ import annotations

from pathlib import Path

from ml.detector_files import CHECKSUMS_FILE, FORMAT_VERSION, file_digests
from ml.scoring import FittedDetector

__all__ = ["save_detector", "load_detector", "file_digests", "FORMAT_VERSION", "CHECKSUMS_FILE"]


def save_detector(fitted: FittedDetector, directory: str | Path) -> Path:
    """Write ``fitted`` into ``directory`` (created if needed); returns the directory."""
    return fitted.save(directory)


def load_detector(directory: str | Path) -> FittedDetector:
    """Rebuild a detector written by :func:`save_detector`.

    Raises
    ------
    ModelFileError
        If a file is missing, truncated or corrupt (its SHA-256 differs from
        ``checksums.json``, or it does not parse), the format version is unknown, or the state
        dict does not fit the saved configuration.
    """
    return FittedDetector.load(directory)
