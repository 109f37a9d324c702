"""The yardstick applied to one model version: every score and baseline on held-out days.

Pure building block of the ``evaluation`` asset. Every method is scored on its own steps (the
model's 5 s windows; the band-energy baseline's 1 s and 5 s steps) over the same days, with the
ground truth of the archive's catalog, and reported per part of the model's time split:

- ``test``: the held-out days (never seen in training or calibration): the evidence;
- ``train``: the training days, labelled as such (the model has seen them).

Calibration days are in neither. :func:`held_out_summary` gathers it all for one model version
(the band-energy baselines read the archive's files). Dimension letters: S steps, B bands.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from aco_assets.scoring.baselines import StepLevels, archive_step_levels, band_energy_scores
from aco_assets.scoring.protocol import TimeSplit, audio_hours, unit_keys, utc_micros
from aco_assets.scoring.tables import Table, table_columns
from aco_assets.yardstick import MethodEvaluation, evaluate_truth, step_truth

#: model method -> ``anomaly_scores`` column.
MODEL_COLUMNS: dict[str, str] = {
    "production": "score", "np": "np_error", "gmm_nll": "latent_nll", "combined": "combined",
    "recon_error": "recon_error",
}  # fmt: skip
PARTS: tuple[str, ...] = ("test", "train")
#: Fault classes that damage a whole file: any quality issue of that file finds them.
FILE_FAULTS: frozenset[str] = frozenset(
    {"truncated_file", "corrupt_width", "missing_file", "clock_offset", "bad_width"}
)


def part_masks(start_us: np.ndarray, split: TimeSplit) -> dict[str, np.ndarray]:
    """(S,) bool mask of each reported part (``test``, ``train``) for steps starting at
    ``start_us``."""
    keys = unit_keys(start_us, split.unit)
    return {
        "test": np.isin(keys, list(split.test)),
        "train": np.isin(keys, list(split.train)),
    }


def method_summary(ev: MethodEvaluation) -> dict[str, Any]:
    """The JSON-able figures of one method that the results page shows."""
    b = ev.at_budget
    out: dict[str, Any] = {
        "class_balanced_auc": ev.class_balanced_auc,
        "event_balanced_auc": ev.event_balanced_auc,
        "auc": ev.auc,
        "pauc": ev.pauc_mcclish,
        "recall_at_budget": b.recall,
        "threshold_at_budget": b.threshold,
        "fa_per_hour_at_budget": b.false_alarms_per_hour,
        "n_events": b.n_events,
        "n_steps": ev.n_steps,
        "per_class_recall": {k: v["recall"] for k, v in b.recall_by_class.items()},
        "per_snr_recall": {k: v["recall"] for k, v in b.recall_by_snr.items()},
        "per_class_auc": dict(ev.auc_by_class),
    }
    at = ev.at_threshold
    if at is not None:
        out |= {
            "threshold": at.threshold,
            "fa_per_hour_at_threshold": at.false_alarms_per_hour,
            "recall_at_threshold": at.recall,
            "precision_at_threshold": at.precision,
            "n_false_alarms_at_threshold": at.n_false_alarms,
            "per_class_recall_at_threshold": {
                k: v["recall"] for k, v in at.recall_by_class.items()
            },
        }
    return out


def evaluate_version(
    windows: Table,
    energy: Mapping[str, tuple[StepLevels, np.ndarray]],
    split: TimeSplit,
    events: Table,
    faults: Table | None,
    *,
    threshold: float,
    budget_per_hour: float,
) -> dict[str, Any]:
    """Every method on every part: ``{"parts": {part: {"hours", "methods": {name: summary}}}}``.

    Parameters
    ----------
    windows : the version's ``anomaly_scores`` rows (``window_start, window_end`` and the columns
        of :data:`MODEL_COLUMNS`), valid windows with finite scores
    energy : baseline name -> (its steps, their scores (S,))
    split : the model's time split
    events, faults : the archive's catalog tables
    threshold : the production threshold (the model's operating point)
    budget_per_hour : the false-alarm budget of the recall-at-budget figures
    """
    cols = table_columns(windows, ("window_start", "window_end", *MODEL_COLUMNS.values()),
                         name="anomaly_scores")  # fmt: skip
    start = np.asarray(cols["window_start"]).astype("datetime64[us]")
    end = np.asarray(cols["window_end"]).astype("datetime64[us]")
    methods: dict[str, tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]] = {
        "model": (start, end, {m: np.asarray(cols[c], float) for m, c in MODEL_COLUMNS.items()})
    }
    for name, (steps, scores) in energy.items():
        s, e = steps.start_us.astype("datetime64[us]"), steps.end_us.astype("datetime64[us]")
        methods[name] = (s, e, {name: np.asarray(scores, float)})
    parts: dict[str, Any] = {}
    for part in PARTS:
        results: dict[str, Any] = {}
        hours = np.nan
        for group, (s, e, scores) in methods.items():
            mask = part_masks(s.astype(np.int64), split)[part]
            mask &= np.all([np.isfinite(v) for v in scores.values()], axis=0)
            if not mask.any():
                continue
            truth = step_truth(s[mask], e[mask], events, faults)
            if group == "model":
                hours = audio_hours(s[mask].astype(np.int64), e[mask].astype(np.int64))
            for name, v in scores.items():
                thr = threshold if name == "production" else None
                ev = evaluate_truth(name, v[mask], truth, budget_per_hour=budget_per_hour,
                                    threshold=thr)  # fmt: skip
                results[name] = method_summary(ev)
        parts[part] = {"hours": hours, "methods": results}
    return {"parts": parts, "budget_per_hour": budget_per_hour, "split": split.to_dict()}


def fault_findings(faults: Table | None, issues: Table) -> dict[str, dict[str, int]]:
    """Per fault class: catalogued faults, and how many a quality issue overlaps in time or file.

    ``issues`` is the ``quality_issues`` table (``file, start_utc, end_utc``).
    """
    if faults is None:
        return {}
    f = table_columns(faults, ("class", "start_utc", "end_utc", "file"), name="faults")
    q = table_columns(issues, ("file", "start_utc", "end_utc"), name="quality_issues")
    q_start = np.asarray(q["start_utc"]).astype("datetime64[us]")
    q_end = np.asarray(q["end_utc"]).astype("datetime64[us]")
    q_files = {str(x) for x in q["file"]}
    out: dict[str, dict[str, int]] = {}
    for cls, s, e, file in zip(f["class"], f["start_utc"], f["end_utc"], f["file"], strict=True):
        s64, e64 = np.datetime64(s, "us"), np.datetime64(e, "us")
        hit = bool(np.any((q_start <= e64) & (q_end >= s64)))
        hit |= str(cls) in FILE_FAULTS and str(file) in q_files
        entry = out.setdefault(str(cls), {"n": 0, "found": 0})
        entry["n"] += 1
        entry["found"] += int(hit)
    return out


#: The ``model_versions`` columns the held-out summary repeats.
MODEL_FIELDS: tuple[str, ...] = (
    "model_version", "score_name", "threshold", "threshold_rule",
    "heldout_false_alarms_per_hour", "heldout_hours", "checks_passed",
)  # fmt: skip


def held_out_summary(
    windows: pa.Table,
    typical: pa.Table,
    archive_root: str | os.PathLike,
    model: Mapping[str, Any],
    split: TimeSplit,
    catalog: Table,
    faults: Table | None,
    issues: Table,
) -> dict[str, Any]:
    """The yardstick of one model version on its test and training days, with the energy
    baselines fitted on the typical windows of the training days.

    Parameters
    ----------
    windows : the version's ``anomaly_scores`` steps with finite scores (``day, window_start,
        window_end`` and the columns of :data:`MODEL_COLUMNS`)
    typical : spans of the typical windows (``window_start, window_end``)
    archive_root : the archive whose files the band-energy baselines read
    model : the ``model_versions`` row
    split : its time split
    catalog, faults : the archive's ground truth
    issues : the ``quality_issues`` table (``file, start_utc, end_utc``)
    """
    days = sorted(set(windows["day"].to_pylist()))
    t_start = utc_micros(typical["window_start"])
    in_train = np.isin(unit_keys(t_start, split.unit), list(split.train))
    t_start, t_end = t_start[in_train], utc_micros(typical["window_end"])[in_train]
    energy = {}
    for step, steps in archive_step_levels(archive_root, days, steps_s=(1.0, 5.0)).items():
        reference = steps.inside(t_start, t_end)
        energy[f"energy_{step:g}s"] = (steps, band_energy_scores(steps, reference))
    summary = evaluate_version(
        windows,
        energy,
        split,
        catalog,
        faults,
        threshold=float(model["threshold"]),
        budget_per_hour=float(model.get("false_alarms_per_hour") or 1.0),
    )
    summary |= {key: model.get(key) for key in MODEL_FIELDS}
    summary["faults"] = fault_findings(faults, issues)
    return summary
