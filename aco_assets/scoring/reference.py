"""What scoring needs beside the model: :class:`DetectorReference`, stored as ``reference.json``.

A registered detector version holds the fitted model and this reference: the front end that
computed its features, the typical windows' median spectrum (the baseline of a detection's
dominant band) and band levels (the energy detector's noise floor), the time split that trained
it, and the operating point it was registered with. ``to_dict`` writes the JSON form the
registry stores; ``from_dict`` reads it back, including references written before the operating
point and the version were part of it (those fields are then None until the registry fills them
from the loaded model).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aco_assets.scoring.protocol import TimeSplit
from aco_assets.signal.features import FrontEndConfig

__all__ = ["DetectorReference", "ReferenceError"]


class ReferenceError(ValueError):
    """A stored reference that cannot be read (names the key and what was expected)."""


@dataclass(frozen=True)
class DetectorReference:
    """The reference of one detector version.

    Attributes
    ----------
    front_end : FrontEndConfig
        The front end of the training features; a day scored by the version must match it.
    typical_median_db : tuple of float, (F,)
        Median band level (dB) of the training typical windows over windows and frames.
    typical_levels_db : mapping of str to tuple of float
        Median band levels (dB) of the training typical windows, per ``windows`` level column.
    n_typical : int
        Training typical windows.
    level_columns : tuple of str
        The level columns of ``typical_levels_db``, in order.
    trained_at : str or None
        ISO time (naive UTC) the reference was built.
    split : TimeSplit or None
        The time split that trained, calibrated and tested the version.
    score_name, threshold, budget_per_hour : str, float, float or None
        The production score, the threshold above which a step is anomalous, and the
        false-alarm budget (alarms per hour) that set it.
    model_version : int or None
        The registered version (known once registered: filled when loaded).
    typical_selection_id : str or None
        The typical selection (``typical_selections``) the version was trained on.
    """

    front_end: FrontEndConfig
    typical_median_db: tuple[float, ...] = ()
    typical_levels_db: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    n_typical: int = 0
    level_columns: tuple[str, ...] = ()
    trained_at: str | None = None
    split: TimeSplit | None = None
    score_name: str | None = None
    threshold: float | None = None
    budget_per_hour: float | None = None
    model_version: int | None = None
    typical_selection_id: str | None = None

    @property
    def median_db(self) -> np.ndarray:
        """(F,) float64 ``typical_median_db`` as an array."""
        return np.asarray(self.typical_median_db, dtype=float)

    def levels_db(self) -> dict[str, list[float]]:
        """``typical_levels_db`` as the energy detector takes it (column -> values)."""
        return {c: list(v) for c, v in self.typical_levels_db.items()}

    def bound(
        self, *, model_version: int, score_name: str, threshold: float, budget_per_hour=None
    ) -> DetectorReference:
        """A copy naming the registered version and the loaded model's operating point."""
        return dataclasses.replace(
            self,
            model_version=int(model_version),
            score_name=str(score_name),
            threshold=float(threshold),
            budget_per_hour=(
                self.budget_per_hour if budget_per_hour is None else float(budget_per_hour)
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``reference.json``); the keys of older references keep their meaning."""
        out: dict[str, Any] = {
            "typical_median_db": list(self.typical_median_db),
            "typical_levels_db": self.levels_db(),
            "front_end": self.front_end.to_dict(),
            "n_typical": self.n_typical,
            "level_columns": list(self.level_columns),
            "trained_at": self.trained_at,
        }
        if self.split is not None:
            out["split"] = self.split.to_dict()
        for key in (
            "score_name",
            "threshold",
            "budget_per_hour",
            "model_version",
            "typical_selection_id",
        ):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DetectorReference:
        """Inverse of :meth:`to_dict`; reads every stored form (missing keys take defaults)."""
        if not isinstance(data, Mapping) or "front_end" not in data:
            raise ReferenceError(
                "a detector reference needs a 'front_end' entry (the front-end config of its "
                f"features); got keys {sorted(data) if isinstance(data, Mapping) else data!r}"
            )
        split = data.get("split")
        return cls(
            front_end=FrontEndConfig.from_dict(data["front_end"]),
            typical_median_db=tuple(float(v) for v in data.get("typical_median_db", ())),
            typical_levels_db={
                str(c): tuple(float(x) for x in v)
                for c, v in (data.get("typical_levels_db") or {}).items()
            },
            n_typical=int(data.get("n_typical", 0)),
            level_columns=tuple(data.get("level_columns", ())),
            trained_at=data.get("trained_at"),
            split=_split(split) if split else None,
            score_name=data.get("score_name"),
            threshold=None if data.get("threshold") is None else float(data["threshold"]),
            budget_per_hour=(
                None if data.get("budget_per_hour") is None else float(data["budget_per_hour"])
            ),
            model_version=(
                None if data.get("model_version") is None else int(data["model_version"])
            ),
            typical_selection_id=data.get("typical_selection_id"),
        )


def _split(data: Mapping[str, Any]) -> TimeSplit:
    try:
        return TimeSplit(
            unit=data["unit"],
            train=tuple(data["train"]),
            calibration=tuple(data["calibration"]),
            test=tuple(data["test"]),
        )
    except KeyError as e:
        raise ReferenceError(
            f"the reference's 'split' lacks {e.args[0]!r} (needs unit, train, calibration, test)"
        ) from None
