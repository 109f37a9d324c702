"""Per-file work of the per-day stages, pure and picklable so a process pool can run it.

One file in, plain rows and arrays out: :func:`inventory_file` for ``raw_files`` and
:func:`file_windows` for ``spectrograms``. A file that cannot be read at all (random bytes, no
bytes, a folder under a file's name) becomes a row saying so, with its reason; so does a
misfiled entry (:func:`misfiled_row`, :func:`misfiled_windows`, or
:func:`misfiled_entry_windows` from its ``raw_files`` row). None of them ever stops the rest
of the day. Messages name files relative to the archive root, the same for a local
archive and one on object storage (:func:`aco_assets.storage.paths.relative_posix`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aco_assets.hydrophone import (
    SAMPLE_RATE_HZ,
    SAMPLES_PER_RECORD,
    AcoFormatError,
    Fault,
    MisfiledFile,
    RawFile,
    read_file,
)
from aco_assets.hydrophone.codec import decode_scanned, read_buffer
from aco_assets.hydrophone.records import RecordTable, scan_buffer
from aco_assets.hydrophone.timing import ns_to_datetime
from aco_assets.signal.features import LEVEL_COLUMNS, FrontEnd, FrontEndConfig
from aco_assets.signal.quality import find_quality_issues
from aco_assets.storage.paths import AnyPath, relative_posix

logger = logging.getLogger(__name__)


def _utc(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[us]").item()
    return value


def _faults_json(faults: Sequence[Fault]) -> str:
    return json.dumps([{"kind": f.kind, "record": f.record, "message": f.message} for f in faults])


def _relative(faults: Sequence[Fault], path: AnyPath, rel: str) -> list[Fault]:
    """The faults with the file named by its archive path instead of this machine's path."""
    return [Fault(f.kind, f.record, f.message.replace(str(path), rel, 1)) for f in faults]


def _detail(fault: Fault, rel: str) -> str:
    """A fault's message without the file name: ``record 12: bad_width: ...``."""
    return fault.message.removeprefix(rel).lstrip(", :")


def _os_fault(e: OSError, rel: str) -> Fault:
    """The fault of a file the operating system will not read (a folder, no permission)."""
    if isinstance(e, IsADirectoryError):
        what = "a folder, not a file; remove or rename it"
    else:
        what = f"cannot be read ({e.strerror or type(e).__name__}); check its permissions"
    return Fault("unreadable", None, f"{rel}: unreadable: {what}")


def _reason(faults: Sequence[Fault], rel: str, *, nothing_decodes: bool) -> str | None:
    """One line for the ``reason`` column: the first faults, and how many more."""
    if not faults:
        return None
    head = "; ".join(_detail(f, rel) for f in faults[:2])
    more = f" (+{len(faults) - 2} more faults)" if len(faults) > 2 else ""
    lead = "nothing decodes: " if nothing_decodes else ""
    return f"{lead}{head}{more}"


def _widths(bits: np.ndarray) -> str:
    values, counts = np.unique(np.asarray(bits), return_counts=True)
    return " ".join(f"{v}:{c}" for v, c in zip(values.tolist(), counts.tolist(), strict=True))


def inventory_file(path: AnyPath, root: AnyPath) -> dict[str, Any]:
    """One ``raw_files`` row for ``path`` (relative to ``root``), whatever state the file is in.

    Reads the record headers only (no sample decoding): every fault kind, the record widths and
    the samples a decode would mark missing (the undecodable tail of a truncated record, every
    sample of a bad-width record) follow from the header walk, as in :func:`read_file`.
    """
    rel = relative_posix(path, root)
    try:
        data = path.read_bytes()
        table = scan_buffer(data, len(data), source=rel, on_fault="warn")
    except (AcoFormatError, OSError) as e:
        return _unreadable_row(e, rel)
    return _inventory_row(rel, table)


def _unreadable_row(e: AcoFormatError | OSError, rel: str) -> dict[str, Any]:
    """The ``raw_files`` row of a file that cannot be read or walked at all."""
    fault = (
        _os_fault(e, rel)
        if isinstance(e, OSError)
        else Fault(type(e).__name__, None, f"{rel}: {e}")
    )
    logger.warning("%s", fault.message)
    return {
        "path": rel,
        "header_start": None,
        "duration_s": 0.0,
        "n_records": 0,
        "n_samples": 0,
        "n_missing_samples": 0,
        "widths": "",
        "n_faults": 1,
        "faults": _faults_json([fault]),
        "status": "unreadable",
        "reason": _detail(fault, rel).removeprefix("unreadable: "),
    }


def _inventory_row(rel: str, table: RecordTable) -> dict[str, Any]:
    """The ``raw_files`` row of a file walked as ``rel`` (its faults name it so)."""
    faults = table.faults
    n_samples = table.n_records * SAMPLES_PER_RECORD
    n_missing = int(np.sum(SAMPLES_PER_RECORD - table.n_decodable))
    start = ns_to_datetime(int(table.record_start_ns[0])) if table.n_records else None
    nothing = n_samples == n_missing
    status = "ok" if not faults else ("unreadable" if nothing else "faulty")
    return {
        "path": rel,
        "header_start": start,
        "duration_s": float(n_samples / SAMPLE_RATE_HZ),
        "n_records": table.n_records,
        "n_samples": n_samples,
        "n_missing_samples": n_missing,
        "widths": _widths(table.bits),
        "n_faults": len(faults),
        "faults": _faults_json(faults),
        "status": status,
        "reason": _reason(faults, rel, nothing_decodes=nothing),
    }


def misfiled_row(row: dict[str, Any], misfiled: MisfiledFile) -> dict[str, Any]:
    """The ``raw_files`` row of a misfiled entry: its headers as :func:`inventory_file` read
    them, status ``misfiled`` (not decoded by any stage) and the listing's reason first."""
    fault = Fault(misfiled.kind, None, misfiled.reason)
    earlier = json.loads(row["faults"])
    return {
        **row,
        "nominal_start": misfiled.nominal_start_utc,
        "n_faults": row["n_faults"] + 1,
        "faults": json.dumps(
            [{"kind": fault.kind, "record": None, "message": fault.message}, *earlier]
        ),
        "status": "misfiled",
        "reason": misfiled.reason,
    }


@dataclass
class FileWindows:
    """The analysis windows of one file: features plus one table row per window."""

    file: str
    features: np.ndarray  # (N, 1, F, T) float32
    rows: dict[str, list] = field(default_factory=dict)  # windows-table columns, N each
    issues: list[dict[str, Any]] = field(default_factory=list)  # quality_issues rows
    error: str | None = None

    @property
    def n_windows(self) -> int:
        return int(self.features.shape[0])


def file_windows(path: AnyPath, root: AnyPath, config: FrontEndConfig) -> FileWindows:
    """Decode ``path`` and cut it into scored windows; gaps stay as missing samples (the
    decoder's mask goes to the front end beside its int32 counts: no float copy)."""
    front_end = FrontEnd(config)
    rel = relative_posix(path, root)
    try:
        raw = read_file(path, on_fault="warn")
    except (AcoFormatError, OSError) as e:
        return _unreadable_windows(e, path, rel, front_end)
    return _windows(raw, path, rel, front_end)


def ingest_file(
    path: AnyPath, root: AnyPath, config: FrontEndConfig
) -> tuple[dict[str, Any], FileWindows]:
    """:func:`inventory_file` and :func:`file_windows` of ``path`` from one read and one header
    walk: the day's ingest reads each file once."""
    front_end = FrontEnd(config)
    rel = relative_posix(path, root)
    try:
        buf, size = read_buffer(path)
        table = scan_buffer(buf, size, source=rel, on_fault="warn")  # faults name ``rel``
    except (AcoFormatError, OSError) as e:
        return _unreadable_row(e, rel), _unreadable_windows(e, path, rel, front_end)
    raw = decode_scanned(buf, size, table, path=path, source=rel)
    return _inventory_row(rel, table), _windows(raw, path, rel, front_end)


def ingest_entry(
    entry: tuple[AnyPath, bool], root: AnyPath, config: FrontEndConfig
) -> tuple[dict[str, Any], FileWindows | None]:
    """An entry of the ingest step, ``(path, cut into windows)``: :func:`ingest_file`, or the
    ``raw_files`` row alone (a misfiled entry, or ``raw_files`` materialized without
    ``spectrograms``)."""
    path, windows = entry
    if windows:
        return ingest_file(path, root, config)
    return inventory_file(path, root), None


def _unreadable_windows(
    e: AcoFormatError | OSError, path: AnyPath, rel: str, front_end: FrontEnd
) -> FileWindows:
    fault = _os_fault(e, rel) if isinstance(e, OSError) else Fault("unreadable", None, str(e))
    detail = _detail(fault, rel).removeprefix("unreadable: ")
    empty = np.zeros((0, *front_end.feature_shape), dtype=np.float32)
    return FileWindows(file=rel, features=empty, error=detail.replace(str(path), rel))


def _windows(raw: RawFile, path: AnyPath, rel: str, front_end: FrontEnd) -> FileWindows:
    """The windows of a decoded file (read from ``path``, named ``rel``)."""
    config = front_end.config
    faults = _relative(raw.faults, path, rel)
    if not raw.valid.any():  # empty, not a HYD24BBpk file, or no record decodes
        detail = _reason(faults, rel, nothing_decodes=True)
        empty = np.zeros((0, *front_end.feature_shape), dtype=np.float32)
        return FileWindows(file=rel, features=empty, error=detail or "no sample decodes")
    out = front_end.windows(raw.samples, valid=raw.valid)
    start = np.datetime64(_utc(raw.start_utc), "us")
    offsets_us = np.round(out.offsets_s * 1e6).astype("timedelta64[us]")
    window_us = np.timedelta64(int(round(config.window_s * 1e6)), "us")
    rows: dict[str, list] = {
        "file": [rel] * out.n_windows,
        "offset_s": out.offsets_s.astype(float).tolist(),
        "window_start": (start + offsets_us).tolist(),
        "window_end": (start + offsets_us + window_us).tolist(),
        "valid": out.valid.astype(bool).tolist(),
        "missing_share": out.missing_share.astype(float).tolist(),
    }
    for column, band in LEVEL_COLUMNS.items():
        rows[column] = np.asarray(out.levels[band], dtype=float).tolist()
    issues = [
        {
            "file": rel,
            "kind": i.kind,
            "start_utc": _utc(i.start_utc),
            "end_utc": _utc(i.end_utc),
            "detail": i.detail,
        }
        for i in quality_issues(raw)
    ]
    issues += [
        {"file": rel, "kind": f.kind, "start_utc": None, "end_utc": None, "detail": _detail(f, rel)}
        for f in faults
    ]
    return FileWindows(file=rel, features=out.features, rows=rows, issues=issues)


def quality_issues(raw) -> list:
    """The quality finder's issues of a decoded file (``read_file``'s result)."""
    return find_quality_issues(
        raw.samples,
        raw.valid,
        start_utc=_utc(raw.start_utc),
        sample_rate_hz=raw.sample_rate_hz,
        bits=raw.bits,
        record_times_utc=raw.record_times_utc,
    )


def misfiled_windows(
    misfiled: MisfiledFile, root: AnyPath, feature_shape: tuple[int, ...]
) -> FileWindows:
    """No windows and one ``misfiled`` issue for an entry the archive rule does not place."""
    return misfiled_entry_windows(
        relative_posix(misfiled.path, root), misfiled.reason, feature_shape
    )


def misfiled_entry_windows(rel: str, reason: str, feature_shape: tuple[int, ...]) -> FileWindows:
    """:func:`misfiled_windows` of the entry named ``rel`` (relative to the archive root), from
    its ``raw_files`` row: the listing's ``reason`` (``"<rel>: why"``) becomes the issue."""
    issue = {
        "file": rel,
        "kind": "misfiled",
        "start_utc": None,
        "end_utc": None,
        "detail": reason.removeprefix(rel).lstrip(": "),
    }
    empty = np.zeros((0, *feature_shape), dtype=np.float32)
    return FileWindows(file=rel, features=empty, issues=[issue])
