"""Raven Pro selection tables for review clips, and reviewers' verdicts read back from them.

:func:`raven_selection_table` writes the day's table (tab-separated; Raven's standard columns,
then ours), :func:`read_raven_table` reads one back typed, and :func:`read_verdicts` reads the
``Verdict`` column a reviewer filled in (or a CSV with a ``verdict`` column). Numpy and the
standard library only. All datetimes are naive UTC.

Why this module is long: the table's writer and its two readers share the columns and the class
and verdict vocabulary, and a change to one is a change to all three.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np

from aco_assets.synth.catalog import GLITCH_FAULTS

logger = logging.getLogger(__name__)

RAVEN_COLUMNS: tuple[str, ...] = (
    "Selection",
    "View",
    "Channel",
    "Begin Time (s)",
    "End Time (s)",
    "Low Freq (Hz)",
    "High Freq (Hz)",
    "Begin File",
    "File Offset (s)",
    "Begin Path",
    "Begin UTC",
    "Score",
    "Rank",
    "Model Version",
    "Detection ID",
    "Detection Begin UTC",
    "Detection End UTC",
    "Missing (s)",
)
#: Columns holding naive UTC times.
_UTC_COLUMNS = frozenset({"Begin UTC", "Detection Begin UTC", "Detection End UTC"})
_INT_COLUMNS = frozenset({"Selection", "Channel", "Rank"})
_FLOAT_COLUMNS = frozenset(
    {
        "Begin Time (s)",
        "End Time (s)",
        "Low Freq (Hz)",
        "High Freq (Hz)",
        "File Offset (s)",
        "Score",
        "Missing (s)",
    }
)
Verdict = Literal["true_event", "false_alarm", "data_fault"]
VERDICTS: tuple[str, ...] = ("true_event", "false_alarm", "data_fault")
#: Class names a reviewer may write as a verdict (meaning a true event of that class).
EVENT_CLASS_NAMES: tuple[str, ...] = (
    "humpback",
    "blue_whale",
    "fin_whale",
    "minke",
    "sperm_whale",
    "whale",
    "dolphin",
    "fish",
    "ship",
    "rain",
    "earthquake",
    "implosion",
    "other",
)
#: Class names that mean a data fault (the synthetic archive's glitch labels).
FAULT_CLASS_NAMES: tuple[str, ...] = (*GLITCH_FAULTS, "glitch")
_VERDICT_WORDS: dict[str, str] = {
    **dict.fromkeys(("true_event", "true", "event", "tp", "yes", "y", "1"), "true_event"),
    **dict.fromkeys(("false_alarm", "false", "fa", "fp", "no", "n", "0", "noise"), "false_alarm"),
    **dict.fromkeys(("data_fault", "fault", "quality", "data_quality"), "data_fault"),
}


class ReviewError(ValueError):
    """Raised for review inputs that cannot be used (a detection outside its clip, bad rows)."""


class VerdictError(ReviewError):
    """Raised for a verdict file with a missing column or an unknown verdict (file and row named)."""


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return np.datetime64(value, "us").astype(datetime)


# ---------------------------------------------------------------- Raven selection tables


_ROW_KEYS = (
    "start_utc",
    "end_utc",
    "f_low_hz",
    "f_high_hz",
    "score",
    "rank",
    "model_version",
    "wav_path",
    "clip_start_utc",
)


def raven_selection_table(
    rows: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    front_end_params: Mapping[str, Any],
    time_reference: Literal["sequence", "file"] = "sequence",
    verdict_column: bool = True,
) -> Path:
    """Write a Raven Pro selection table (tab-separated ``.txt``) for review clips.

    Columns: :data:`RAVEN_COLUMNS` (View ``"Spectrogram 1"``, Channel 1), then one column per
    ``front_end_params`` entry (the processing parameters travel with the export), then an empty
    ``Verdict`` column for the reviewer to fill (read back by :func:`read_verdicts`).

    Times. A selection is the detection cut to its clip (a detection longer than its clip is
    cut to the part the WAV holds; ``Detection Begin UTC`` / ``Detection End UTC`` keep the
    whole detection, ``Detection ID`` names it). ``File Offset (s)`` is the selection's start
    within its own WAV (``Begin File``); ``Begin UTC`` is its absolute time. ``Begin Path`` is
    the WAV's path relative to the table's folder, so a data folder moved or copied elsewhere
    keeps working. ``Begin Time (s)`` / ``End Time (s)`` are relative to the start of what the
    table is loaded against:

    - ``"sequence"`` (default): the day's clips opened together in Raven as one file sequence,
      in the order they first appear in ``rows`` (name them with :func:`review_clip_name` and
      pass rows in rank order, then name order = row order); each file's start is the sum of
      the durations of the files before it (needs ``clip_duration_s``).
    - ``"file"``: each row against its own clip: Begin Time = File Offset.

    Parameters
    ----------
    rows : mappings with ``start_utc, end_utc, f_low_hz, f_high_hz, score, rank,
        model_version, wav_path, clip_start_utc`` and, for ``"sequence"``, ``clip_duration_s``;
        optionally ``detection_id`` and ``missing_s`` (see :func:`selection_row`)
    path : the ``.txt`` file to write
    front_end_params : e.g. ``{"nfft": 4096, "hop_samples": 1024, "window_s": 5.0}``
    time_reference : see above
    verdict_column : add the empty ``Verdict`` column

    Returns
    -------
    Path of the table.
    """
    extra = [str(k) for k in front_end_params]
    clash = set(extra) & set(RAVEN_COLUMNS)
    if clash:
        raise ReviewError(f"front_end_params {sorted(clash)} clash with Raven columns")
    header = [*RAVEN_COLUMNS, *extra, *(["Verdict"] if verdict_column else [])]
    file_start_s: dict[str, float] = {}
    total_s = 0.0
    lines = [header]
    for i, row in enumerate(rows):
        need = [*_ROW_KEYS, *(["clip_duration_s"] if time_reference == "sequence" else [])]
        missing = [k for k in need if k not in row]
        if missing:
            raise ReviewError(f"row {i} for {path} lacks {missing}; it has {sorted(row)}")
        begin_path = os.path.relpath(row["wav_path"], Path(path).parent)
        if begin_path not in file_start_s:
            file_start_s[begin_path] = total_s
            total_s += float(row.get("clip_duration_s", 0.0))
        offset_s, end_s = _selection_in_clip(row)
        begin_s = offset_s + (file_start_s[begin_path] if time_reference == "sequence" else 0.0)
        start, end = _to_datetime(row["start_utc"]), _to_datetime(row["end_utc"])
        begin_utc = _to_datetime(row["clip_start_utc"]) + timedelta(seconds=offset_s)
        values = [
            i + 1, "Spectrogram 1", 1,
            f"{begin_s:.6f}", f"{begin_s + end_s - offset_s:.6f}",
            f"{float(row['f_low_hz']):.3f}", f"{float(row['f_high_hz']):.3f}",
            Path(begin_path).name, f"{offset_s:.6f}", begin_path,
            begin_utc.isoformat(timespec="microseconds"), repr(float(row["score"])),
            int(row["rank"]), str(row["model_version"]), str(row.get("detection_id", "")),
            start.isoformat(timespec="microseconds"), end.isoformat(timespec="microseconds"),
            f"{float(row.get('missing_s', 0.0)):.3f}",
            *(front_end_params[k] for k in front_end_params),
        ]  # fmt: skip
        lines.append([str(v) for v in values] + ([""] if verdict_column else []))
    for r, line in enumerate(lines):
        bad = [v for v in line if "\t" in v or "\n" in v or "\r" in v]
        if bad:
            raise ReviewError(f"row {r} for {path} has a tab or newline in {bad!r}")
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, dialect=csv.excel_tab, lineterminator="\n", quoting=csv.QUOTE_NONE).writerows(
            lines
        )
    return Path(path)


def _selection_in_clip(row: Mapping[str, Any]) -> tuple[float, float]:
    """Begin and end of a row's selection, s from its clip's start, cut to the clip."""
    clip_start = _to_datetime(row["clip_start_utc"])
    begin_s = (_to_datetime(row["start_utc"]) - clip_start).total_seconds()
    end_s = (_to_datetime(row["end_utc"]) - clip_start).total_seconds()
    clip_s = float(row.get("clip_duration_s", math.inf))
    begin_s, end_s = max(begin_s, 0.0), min(end_s, clip_s)
    if not end_s > begin_s:
        raise ReviewError(
            f"detection {row['start_utc']}..{row['end_utc']} lies outside its clip "
            f"{row['wav_path']} (from {clip_start}, {clip_s:g} s): render the clip again"
        )
    return begin_s, end_s


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (line number, row) pairs of a tab- or comma-separated text file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise VerdictError(f"cannot read {path}: {e}") from e
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip() for h in next(reader, [])]
    rows = []
    for line_no, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            raise VerdictError(
                f"{path} line {line_no}: {len(values)} fields, header has {len(header)}"
            )
        rows.append((line_no, dict(zip(header, [v.strip() for v in values], strict=False))))
    return header, rows


def read_raven_table(path: str | Path) -> list[dict[str, Any]]:
    """Read a Raven selection table (tab-separated) into typed rows.

    Known columns are converted: ``Selection, Channel, Rank`` to int; times, frequencies,
    ``File Offset (s)`` and ``Score`` to float; ``Begin UTC`` to a naive UTC datetime; others
    stay strings (empty cells of known columns become None).

    Raises
    ------
    ReviewError
        naming the file, line and column of a value that does not convert, or the missing
        Raven columns
    """
    path = Path(path)
    header, rows = _read_rows(path)
    missing = [c for c in RAVEN_COLUMNS[:7] if c not in header]
    if missing:
        raise ReviewError(f"{path} is not a Raven selection table: no column(s) {missing}")
    out = []
    for line_no, row in rows:
        typed: dict[str, Any] = {}
        for col, v in row.items():
            try:
                if col in _INT_COLUMNS or col in _FLOAT_COLUMNS or col in _UTC_COLUMNS:
                    typed[col] = _convert(col, v)
                else:
                    typed[col] = v
            except ValueError as e:
                raise ReviewError(f"{path} line {line_no}, column {col!r}: {v!r} ({e})") from e
        out.append(typed)
    return out


def _convert(col: str, v: str) -> Any:
    if v == "":
        return None
    if col in _INT_COLUMNS:
        return int(v)
    if col in _UTC_COLUMNS:
        return datetime.fromisoformat(v).replace(tzinfo=None)
    return float(v)


# ---------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class ReviewVerdict:
    """A reviewer's verdict on one detection.

    Attributes
    ----------
    line : line of the file it came from
    selection : Raven ``Selection`` number, or None
    begin_utc : the detection's start (naive UTC), or None
    detection_id : the pipeline's detection id, or None
    verdict : "true_event", "false_alarm" or "data_fault"
    class_name : the class the reviewer named (e.g. "humpback"), or None
    note : free text from a ``Note`` / ``Comment`` column, or ""
    text : the verdict cell as the reviewer wrote it (e.g. "yes")
    """

    line: int
    selection: int | None
    begin_utc: datetime | None
    detection_id: str | None
    verdict: Verdict
    class_name: str | None
    note: str
    text: str = ""


def parse_verdict(text: str) -> tuple[Verdict, str | None] | None:
    """Normalise a verdict cell; None for an empty cell, ValueError for an unknown word.

    Accepted (case, spaces and hyphens ignored): ``true event`` / ``true`` / ``yes`` / ``tp``;
    ``false alarm`` / ``false`` / ``no`` / ``fp`` / ``noise``; ``data fault`` / ``fault`` /
    ``quality``; a class name of :data:`EVENT_CLASS_NAMES` (a true event of that class) or of
    :data:`FAULT_CLASS_NAMES` (a data fault); or ``<verdict>:<class>``, e.g. ``true:humpback``.
    """
    word = text.strip().lower().replace("-", "_").replace(" ", "_")
    if not word:
        return None
    head, _, cls = word.partition(":")
    if head in _VERDICT_WORDS:
        return _VERDICT_WORDS[head], (cls or None)  # type: ignore[return-value]
    if not cls and head in EVENT_CLASS_NAMES:
        return "true_event", head
    if not cls and head in FAULT_CLASS_NAMES:
        return "data_fault", head
    raise ValueError(f"unknown verdict {text!r}")


def _column(header: Sequence[str], *names: str) -> str | None:
    norm = {h.lower().replace("_", " ").strip(): h for h in header}
    return next((norm[n] for n in names if n in norm), None)


def read_verdicts(path: str | Path) -> list[ReviewVerdict]:
    """Read reviewers' verdicts from a Raven table (``Verdict`` column) or a CSV (``verdict``).

    Each row needs a verdict (see :func:`parse_verdict`) and a key to its detection: a
    ``Selection`` number, a ``Detection Begin UTC`` (else ``Begin UTC``) time or a
    ``detection_id`` (``Detection ID``). Rows with an empty
    verdict (not yet reviewed) are skipped and counted in the log.

    Raises
    ------
    VerdictError
        naming the file (and line, value) for a missing column, an unknown verdict, a row
        without a key, or a key that does not parse
    """
    path = Path(path)
    header, rows = _read_rows(path)
    verdict_col = _column(header, "verdict")
    if verdict_col is None:
        raise VerdictError(f"{path} has no 'Verdict' column (columns: {header}); add one")
    sel_col = _column(header, "selection")
    utc_col = _column(header, "detection begin utc", "begin utc")
    id_col = _column(header, "detection id")
    note_col = _column(header, "note", "comment", "notes")
    if sel_col is None and utc_col is None and id_col is None:
        raise VerdictError(
            f"{path} has no key column: give 'Selection', 'Begin UTC' or 'detection_id' "
            f"(columns: {header})"
        )
    out, skipped = [], 0
    for line, row in rows:
        try:
            parsed = parse_verdict(row.get(verdict_col, ""))
        except ValueError as e:
            allowed = ", ".join([*VERDICTS, "a class name such as 'humpback'"])
            sel = f" (Selection {row[sel_col]})" if sel_col and row.get(sel_col) else ""
            raise VerdictError(f"{path} line {line}{sel}: {e}; use one of {allowed}") from e
        if parsed is None:
            skipped += 1
            continue
        sel, utc, det_id = (row.get(c, "") if c else "" for c in (sel_col, utc_col, id_col))
        if not (sel or utc or det_id):
            raise VerdictError(f"{path} line {line}: no Selection, Begin UTC or detection_id")
        try:
            selection = int(sel) if sel else None
            begin = _convert("Begin UTC", utc)
        except ValueError as e:
            raise VerdictError(f"{path} line {line}: bad key ({e})") from e
        out.append(
            ReviewVerdict(
                line=line,
                selection=selection,
                begin_utc=begin,
                detection_id=det_id or None,
                verdict=parsed[0],
                class_name=parsed[1],
                note=row.get(note_col, "") if note_col else "",
                text=row.get(verdict_col, ""),
            )
        )
    if skipped:
        logger.info("%s: %d row(s) without a verdict skipped", path, skipped)
    return out
