"""One scoring context per run and day: the model that scores, and the day's features.

The per-day stages of a run (``anomaly_scores``, ``detections``, ``review_clips``) each need the
model and the day's feature array. :data:`SCORING_CONTEXTS` keeps them for the run in this
process: the champion alias is resolved once per run (a champion that moves mid-run does not
split a run between two versions), a version is loaded once, and a day's features are
memory-mapped once. Entries are keyed by the run id, so a later run resolves the champion anew;
only the latest few runs are kept. Steps of a run in other processes (the multiprocess
executor) each build their own, with the same result.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aco_assets.scoring.reference import DetectorReference
from aco_assets.storage.feature_store import load_day_features
from aco_assets.storage.layout import DataLayout
from aco_assets.storage.model_registry import LoadedDetector, champion_version, load_version
from aco_assets.storage.registry_errors import registry_uri

__all__ = ["SCORING_CONTEXTS", "ScoringContext", "ScoringContexts"]


@dataclass(frozen=True)
class ScoringContext:
    """The model that scores a day and the day's features (N, 1, F, T), memory-mapped."""

    model: LoadedDetector
    day: dt.date
    features: np.ndarray

    @property
    def reference(self) -> DetectorReference:
        return self.model.reference

    @property
    def version(self) -> int:
        return self.model.version


class ScoringContexts:
    """The scoring contexts of the latest ``max_runs`` runs of this process."""

    def __init__(self, max_runs: int = 4) -> None:
        self.max_runs = max_runs
        self._runs: OrderedDict[str, dict[tuple, Any]] = OrderedDict()
        self._lock = threading.RLock()

    def _entries(self, run_id: str) -> dict[tuple, Any]:
        with self._lock:
            entries = self._runs.pop(run_id, None) or {}
            self._runs[run_id] = entries  # the most recent run last
            while len(self._runs) > self.max_runs:
                self._runs.popitem(last=False)
            return entries

    def champion(self, run_id: str, client: Any, name: str, *, cache_dir: Path) -> LoadedDetector:
        """The champion of ``name`` for run ``run_id``: the alias resolved on the run's first call."""
        entries = self._entries(run_id)
        key = ("champion", registry_uri(client), name)
        with self._lock:
            if key not in entries:
                entries[key] = champion_version(client, name)
        return self.model(run_id, client, name, entries[key], cache_dir=cache_dir)

    def model(
        self, run_id: str, client: Any, name: str, version: int, *, cache_dir: Path
    ) -> LoadedDetector:
        """Version ``version`` of ``name``, loaded once per run."""
        entries = self._entries(run_id)
        key = ("model", registry_uri(client), name, int(version), str(cache_dir))
        with self._lock:
            if key not in entries:
                entries[key] = load_version(client, name, int(version), cache_dir=cache_dir)
            return entries[key]

    def day(
        self,
        run_id: str,
        model: LoadedDetector,
        layout: DataLayout,
        day: dt.date,
        *,
        expected_rows: int | None = None,
    ) -> ScoringContext:
        """The day's context for ``model``; ``expected_rows``: the windows the tables list (a
        mismatch raises, naming the file and the fix)."""
        entries = self._entries(run_id)
        path = layout.features_path(day)
        key = ("features", str(path))
        with self._lock:
            features = entries.get(key)
            if features is None or (
                expected_rows is not None and features.shape[0] != expected_rows
            ):
                features = load_day_features(
                    path, expected_rows=expected_rows, cache_dir=layout.cache_dir
                )
                entries[key] = features
        return ScoringContext(model, day, features)

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()


#: The contexts of this process (one per run, day and version).
SCORING_CONTEXTS = ScoringContexts()
