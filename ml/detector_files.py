"""The files of a saved detector: state dict + JSON config + arrays, no pickled objects.

Layout of a model directory::

    config.json        detector config, train config, thresholds, combination statistics
    model.pt           the module's state_dict (tensors only; loaded with weights_only=True)
    gmm.npz            the GMM arrays
    calibration.npz    calibration scores per score name
    history.json       per-step training metrics
    checksums.json     SHA-256 of each file above; :func:`read_detector_files` verifies them, so
                       a truncated or corrupt copy is a :class:`~ml.errors.ModelFileError` that
                       names the file (directories written before it existed load unverified)

This module knows the parts of a fitted detector (:class:`DetectorFiles`), not the fitted
detector itself: :class:`ml.scoring.FittedDetector` saves and loads itself through it, and
:mod:`ml.io` offers the same as functions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml.config import DetectorConfig, TrainConfig
from ml.errors import ModelFileError
from ml.gmm import GaussianMixture
from ml.model import NPDetector

__all__ = [
    "DetectorFiles",
    "write_detector_files",
    "read_detector_files",
    "file_digests",
    "FORMAT_VERSION",
    "CHECKSUMS_FILE",
]

logger = logging.getLogger(__name__)
# 2: recon_error calibration scores, operating point; 3: scoring steps, error scales
FORMAT_VERSION = 3
_FILES = ("config.json", "model.pt", "gmm.npz", "calibration.npz", "history.json")
CHECKSUMS_FILE = "checksums.json"


@dataclass(frozen=True)
class DetectorFiles:
    """What a model directory holds, rebuilt into objects.

    Attributes
    ----------
    model
        The network with its state dict (normalisation buffers and error scales included).
    gmm
        The fitted typical-latent mixture.
    train
        The training configuration (``rho`` sets the thresholds).
    calibration_scores
        Score name -> calibration scores (flattened over scoring steps).
    combine_stats
        The calibration statistics of the ``combined`` score.
    history
        Per-step training metrics.
    thresholds
        Score name -> threshold, as recorded when saved (a check on the recomputed ones).
    operating_point
        The production operating point when one was set, else ``None``.
    """

    model: NPDetector
    gmm: GaussianMixture
    train: TrainConfig
    calibration_scores: dict[str, np.ndarray]
    combine_stats: dict[str, float]
    history: list[dict[str, Any]]
    thresholds: dict[str, float]
    operating_point: dict[str, Any] | None = None


def file_digests(directory: str | Path, names: tuple[str, ...] | None = None) -> dict[str, str]:
    """SHA-256 (hex) of the files ``names`` of ``directory`` (default: every file in it, by name).

    Files in subfolders are named by their path relative to ``directory`` with ``/``.
    """
    root = Path(directory)
    if names is None:
        names = tuple(
            sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        )
    digests = {}
    for name in names:
        sha = hashlib.sha256()
        with open(root / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                sha.update(block)
        digests[name] = sha.hexdigest()
    return digests


def _verify_checksums(src: Path) -> None:
    """Raise :class:`ModelFileError` naming the first file whose SHA-256 differs from the record."""
    recorded = src / CHECKSUMS_FILE
    if not recorded.is_file():
        return  # written before checksums existed
    try:
        expected = json.loads(recorded.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{recorded} is not valid JSON ({e}); the copy is corrupt") from e
    actual = file_digests(src, tuple(expected))
    for name, digest in expected.items():
        if actual[name] != digest:
            size = (src / name).stat().st_size
            raise ModelFileError(
                f"{src / name} ({size} bytes) does not match its SHA-256 in {CHECKSUMS_FILE}: "
                "the copy is truncated or corrupt"
            )


def write_detector_files(files: DetectorFiles, directory: str | Path) -> Path:
    """Write ``files`` into ``directory`` (created if needed); returns the directory."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "format_version": FORMAT_VERSION,
        "detector_config": files.model.config.to_dict(),
        "train_config": files.train.to_dict(),
        "thresholds": files.thresholds,
        "combine_stats": files.combine_stats,
        "operating_point": files.operating_point,
    }
    (out / "config.json").write_text(json.dumps(meta, indent=2))
    torch.save(files.model.state_dict(), out / "model.pt")
    np.savez(out / "gmm.npz", **files.gmm.state_dict())
    np.savez(out / "calibration.npz", **files.calibration_scores)
    (out / "history.json").write_text(json.dumps(files.history))
    (out / CHECKSUMS_FILE).write_text(json.dumps(file_digests(out, _FILES), indent=2))
    logger.info("saved detector to %s", out)
    return out


def read_detector_files(directory: str | Path) -> DetectorFiles:
    """Read a directory written by :func:`write_detector_files`.

    Raises
    ------
    ModelFileError
        If a file is missing, truncated or corrupt (its SHA-256 differs from
        ``checksums.json``, or it does not parse), the format version is unknown, or the state
        dict does not fit the saved configuration.
    """
    src = Path(directory)
    missing = [name for name in _FILES if not (src / name).is_file()]
    if missing:
        raise ModelFileError(f"model directory {src} lacks {missing}; was it written by save()?")
    _verify_checksums(src)
    return _read(src)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0].split(". ")[0][:200] if text else type(e).__name__


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn whatever a truncated or corrupt ``path`` raises into one ModelFileError naming it."""
    try:
        yield
    except ModelFileError:
        raise
    # torch raises RuntimeError ("failed finding central directory") or OSError (errno 22),
    # numpy BadZipFile / ValueError / EOFError, json ValueError, a config KeyError
    except (OSError, RuntimeError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise ModelFileError(f"{path} is truncated or corrupt: {_first_line(e)}") from e


def _read(src: Path) -> DetectorFiles:
    with _reading(src / "config.json"):
        meta = json.loads((src / "config.json").read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{src / 'config.json'}: format_version {meta.get('format_version')!r}, "
            f"this code reads {FORMAT_VERSION}; retrain the detector (`aco pipeline --retrain`)"
        )
    with _reading(src / "config.json"):
        model = NPDetector(DetectorConfig.from_dict(meta["detector_config"]))
        train = TrainConfig.from_dict(meta["train_config"])
    with _reading(src / "model.pt"):
        state = torch.load(src / "model.pt", map_location="cpu", weights_only=True)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ModelFileError(
            f"{src / 'model.pt'} does not match its config.json: {_first_line(e)}"
        ) from e
    with _reading(src / "gmm.npz"), np.load(src / "gmm.npz") as f:
        gmm = GaussianMixture.from_state_dict({k: f[k] for k in f.files})
    with _reading(src / "calibration.npz"), np.load(src / "calibration.npz") as f:
        calibration = {k: f[k] for k in f.files}
    with _reading(src / "history.json"):
        history = json.loads((src / "history.json").read_text())
    operating_point = meta.get("operating_point")
    return DetectorFiles(
        model=model,
        gmm=gmm,
        train=train,
        calibration_scores=calibration,
        combine_stats=meta["combine_stats"],
        history=history,
        thresholds=meta["thresholds"],
        operating_point=None if operating_point is None else dict(operating_point),
    )
