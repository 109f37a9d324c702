"""Ground truth per step from the synthetic archive's events and faults tables.

Overlap rule (the same as :func:`aco_assets.scoring.evaluation.window_labels`): a step and an event
overlap when their intersection lasts at least ``min(min_overlap_s, 0.5 * event duration)``, so an
implosion of 50 ms counts in the step that holds it and an event split across two steps counts in
both. A step is a fault step when it shares any positive time with a fault (damaged samples
anywhere in it); fault steps are scored apart, outside every acoustic metric. Event classes of
the older catalogs' glitches (:data:`~aco_assets.scoring.evaluation.GLITCH_LABELS`) count as faults.

Dimension letters: S steps, E events, F faults, P (step, event) pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aco_assets.scoring.tables import Table, table_columns
from aco_assets.synth.catalog import GLITCH_LABELS
from aco_assets.yardstick.intervals import check_spans, overlap_pairs

EVENT_COLUMNS = ("event_id", "class", "start_utc", "end_utc", "snr_db")
FAULT_COLUMNS = ("class", "start_utc", "end_utc")


@dataclass(frozen=True)
class StepTruth:
    """Per-step ground truth, arrays (S,) in the order of the steps given, plus the tables.

    Attributes
    ----------
    start_utc, end_utc : datetime64[us] (S,), the steps
    is_event : bool (S,), the step overlaps an acoustic event (overlap rule above)
    event_class : str object (S,), class of the strongest overlapping event, "" if none
    event_id : int64 (S,), its ``event_id``, -1 if none
    snr_db : float64 (S,), dB, its ``snr_db``, NaN if none
    is_fault : bool (S,), the step overlaps a data fault: left out of the acoustic metrics
    fault_class : str object (S,), class of an overlapping fault, "" if none
    events : dict of column -> (E,) arrays of the acoustic events (``event_id, class,
        start_utc, end_utc, snr_db, need_s``) where ``need_s`` is each event's overlap need, s
    event_evaluated : bool (E,), the event overlaps at least one non-fault step (the events
        whose recall is measured; events only in missing or faulty data cannot be found)
    faults : dict of column -> (F,) arrays (``class, start_utc, end_utc``), glitch events included
    min_overlap_s : float, s, the overlap rule's parameter
    """

    start_utc: np.ndarray
    end_utc: np.ndarray
    is_event: np.ndarray
    event_class: np.ndarray
    event_id: np.ndarray
    snr_db: np.ndarray
    is_fault: np.ndarray
    fault_class: np.ndarray
    events: dict[str, np.ndarray] = field(repr=False)
    event_evaluated: np.ndarray = field(repr=False)
    faults: dict[str, np.ndarray] = field(repr=False)
    min_overlap_s: float = 0.5

    @property
    def is_negative(self) -> np.ndarray:
        """bool (S,), event-free and fault-free steps: the negatives of every acoustic metric."""
        return ~self.is_event & ~self.is_fault

    @property
    def is_positive(self) -> np.ndarray:
        """bool (S,), event steps that are not fault steps."""
        return self.is_event & ~self.is_fault

    def to_dict(self) -> dict[str, np.ndarray]:
        """The per-step columns, e.g. for a pyarrow table."""
        names = ("start_utc", "end_utc", "is_event", "event_class", "event_id", "snr_db")
        return {k: getattr(self, k) for k in (*names, "is_fault", "fault_class")}


def _tables(events: Table, faults: Table | None, min_overlap_s: float) -> tuple[dict, dict]:
    """Acoustic events and faults (glitch-class events moved to the faults) as columns."""
    ev = table_columns(events, EVENT_COLUMNS, name="events")
    cls = ev["class"].astype(str)
    glitch = np.isin(cls, list(GLITCH_LABELS))
    acoustic = {
        "event_id": ev["event_id"].astype(np.int64)[~glitch],
        "class": cls[~glitch].astype(object),
        "start_utc": ev["start_utc"][~glitch],
        "end_utc": ev["end_utc"][~glitch],
        "snr_db": ev["snr_db"].astype(np.float64)[~glitch],
    }
    check_spans(acoustic["start_utc"], acoustic["end_utc"], name="events")
    duration_s = (acoustic["end_utc"] - acoustic["start_utc"]).astype(np.float64) / 1e6
    acoustic["need_s"] = np.minimum(min_overlap_s, 0.5 * duration_s)
    f = table_columns(faults, FAULT_COLUMNS, name="faults") if faults is not None else None
    parts = [(cls[glitch], ev["start_utc"][glitch], ev["end_utc"][glitch])]
    if f is not None:
        parts.append((f["class"].astype(str), f["start_utc"], f["end_utc"]))
    fault_cols = {
        "class": np.concatenate([p[0] for p in parts]).astype(object),
        "start_utc": np.concatenate([p[1] for p in parts]).astype("datetime64[us]"),
        "end_utc": np.concatenate([p[2] for p in parts]).astype("datetime64[us]"),
    }
    check_spans(fault_cols["start_utc"], fault_cols["end_utc"], name="faults")
    return acoustic, fault_cols


def step_truth(
    start_utc: np.ndarray,
    end_utc: np.ndarray,
    events: Table,
    faults: Table | None = None,
    *,
    min_overlap_s: float = 0.5,
) -> StepTruth:
    """Label every step from the events and faults tables (rules in the module docstring).

    Parameters
    ----------
    start_utc, end_utc : datetime64[us] (S,), naive UTC, any order, may overlap
    events : events table (``event_id, class, start_utc, end_utc, snr_db``; other columns such
        as ``group, low_hz, high_hz, source, file`` are ignored); pyarrow, mapping or rows
    faults : faults table (``class, start_utc, end_utc``; ``fault_id, file, detail`` ignored)
    min_overlap_s : float, s, see the overlap rule

    Returns
    -------
    StepTruth; where several events overlap a step it carries the one of highest ``snr_db``
    (the first in table order among equals)
    """
    start, end = check_spans(start_utc, end_utc)
    ev, ft = _tables(events, faults, min_overlap_s)
    n = start.size
    i_s, i_e = overlap_pairs(start, end, ev["start_utc"], ev["end_utc"], min_overlap_s=ev["need_s"])
    snr = np.where(np.isnan(ev["snr_db"]), -np.inf, ev["snr_db"])[i_e]  # (P,)
    order = np.lexsort((i_e, -snr, i_s))  # by step, strongest event first
    i_s, i_e = i_s[order], i_e[order]
    first = np.r_[True, i_s[1:] != i_s[:-1]] if i_s.size else np.zeros(0, bool)
    step, best = i_s[first], i_e[first]
    is_event = np.zeros(n, bool)
    is_event[step] = True
    event_class = np.full(n, "", object)
    event_class[step] = ev["class"][best]
    event_id = np.full(n, -1, np.int64)
    event_id[step] = ev["event_id"][best]
    snr_db = np.full(n, np.nan)
    snr_db[step] = ev["snr_db"][best]
    f_s, f_f = overlap_pairs(start, end, ft["start_utc"], ft["end_utc"])
    is_fault = np.zeros(n, bool)
    is_fault[f_s] = True
    fault_class = np.full(n, "", object)
    fault_class[f_s] = ft["class"][f_f]
    evaluated = np.zeros(ev["event_id"].size, bool)
    evaluated[i_e[~is_fault[i_s]]] = True
    return StepTruth(
        start_utc=start,
        end_utc=end,
        is_event=is_event,
        event_class=event_class,
        event_id=event_id,
        snr_db=snr_db,
        is_fault=is_fault,
        fault_class=fault_class,
        events=ev,
        event_evaluated=evaluated,
        faults=ft,
        min_overlap_s=float(min_overlap_s),
    )
