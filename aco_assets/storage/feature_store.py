"""The per-day feature arrays: one ``.npy`` file per UTC day and its JSON sidecar.

``<store>/features/YYYY/YYYY-MM-DD.npy`` holds shape (N, 1, F, T) float32 (row i =
``window_index`` i); ``YYYY-MM-DD.json`` beside it holds the front-end config and N. The store is
a local folder or object storage (:mod:`aco_assets.storage.paths`): either way a write replaces
the array whole (temporary file + rename, or one upload), and a read memory-maps a local file,
from S3 a copy fetched once into the local cache (keyed by URL, ETag and size).

Pure: numpy, the standard library and :mod:`aco_assets.storage.paths`.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from aco_assets.storage.paths import AnyPath, as_path, is_remote, local_copy, write_bytes_atomic

__all__ = ["load_day_features", "read_sidecar", "save_day_features", "sidecar_path"]


def sidecar_path(path: AnyPath) -> AnyPath:
    """The JSON sidecar beside a day's feature array."""
    return path.with_suffix(".json")


def save_day_features(path: str | os.PathLike | AnyPath, features: np.ndarray, front_end) -> None:
    """Write the array, then its config sidecar, each atomically.

    Parameters
    ----------
    path
        The day's ``.npy`` file, local or on object storage.
    features : np.ndarray, shape (N, 1, F, T), float32
    front_end
        The :class:`aco_assets.signal.features.FrontEndConfig` that computed them (``to_dict()``).
    """
    path = as_path(path)
    sidecar = json.dumps({"front_end": front_end.to_dict(), "n_windows": len(features)})
    if is_remote(path):
        buffer = io.BytesIO()
        np.save(buffer, features)
        write_bytes_atomic(path, buffer.getbuffer())
        write_bytes_atomic(sidecar_path(path), sidecar.encode())
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, features)
    os.replace(tmp, path)
    write_bytes_atomic(sidecar_path(path), sidecar.encode())


def load_day_features(
    path: str | os.PathLike | AnyPath,
    *,
    expected_rows: int | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> np.ndarray:
    """Memory-map a day's features; a clear error when missing or out of step with the tables.

    Parameters
    ----------
    path
        The day's ``.npy`` file. On object storage it is fetched once into ``cache_dir``
        (required then: the layout's ``cache_dir``) and memory-mapped from there.
    expected_rows
        The number of windows the ``windows`` table lists for the day.

    Returns
    -------
    np.ndarray, shape (N, 1, F, T), float32, read-only memory map
    """
    path = as_path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: materialize the spectrograms partition first")
    if is_remote(path):
        if cache_dir is None:
            raise ValueError(
                f"{path} is on object storage: pass cache_dir (the layout's cache_dir) to "
                "memory-map a local copy"
            )
        local = local_copy(path, cache_dir)
    else:
        local = Path(path)
    features = np.load(local, mmap_mode="r")
    if expected_rows is not None and features.shape[0] != expected_rows:
        raise ValueError(
            f"{path} has {features.shape[0]} windows but the windows table lists {expected_rows}: "
            "re-materialize the spectrograms partition"
        )
    return features


def read_sidecar(path: str | os.PathLike | AnyPath) -> dict[str, Any]:
    """The sidecar of a day's feature array: ``{"front_end": {...}, "n_windows": N}``."""
    return json.loads(sidecar_path(as_path(path)).read_text())
