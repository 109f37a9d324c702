"""Record headers of HYD24BBpk files: layouts, the record walk and the consistency checks.

A file is a concatenation of records, each a 36-byte header then ``512 * bits`` payload bytes
(docs/format.md). :func:`scan_buffer` walks the headers (one cheap Python step per *record*, never
per sample), reads every header field at once with NumPy, and lists the faults it finds. The
payload is decoded separately (:mod:`.codec`).

Dimension letters: R records.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .errors import Fault, OnFault
from .timing import (
    HEADER_BYTES,
    RECORD_PERIOD_S,
    SAMPLES_PER_RECORD,
    header_times_ns,
    record_start_ns,
)

logger = logging.getLogger(__name__)

Layout = Literal["A", "B"]

# Header fields, by layout (little-endian, explicit offsets; docs/format.md tables).
HEADER_A = np.dtype(
    {
        "names": [
            "counter",
            "decimation",
            "start_flag",
            "sync",
            "status",
            "pad",
            "left_right",
            "t_sec",
            "tu_sec",
            "timecount",
            "year",
            "day_of_year",
            "hms",
            "alignment",
            "s_sec",
            "dynamic_range",
            "bits",
        ],
        "formats": [
            "<u4",
            "u1",
            "u1",
            "(2,)u1",
            "(2,)u1",
            "u1",
            "u1",
            "<u4",
            "<u4",
            "<u4",
            "<i2",
            "<i2",
            "(3,)u1",
            "u1",
            "<i2",
            "u1",
            "u1",
        ],
        "offsets": [0, 4, 5, 6, 8, 10, 11, 12, 16, 20, 24, 26, 28, 31, 32, 34, 35],
        "itemsize": HEADER_BYTES,
    }
)
HEADER_B = np.dtype(
    {
        "names": [
            "counter",
            "counter_dup",
            "sync",
            "status",
            "t_sec",
            "tu_sec",
            "timecount",
            "at_sec",
            "atn_sec",
            "correction",
            "id",
            "left_right",
            "bits",
        ],
        "formats": [
            "<u4",
            "<u4",
            "(2,)u1",
            "(2,)u1",
            "<u4",
            "<u4",
            "<u4",
            "<u4",
            "<u4",
            "u1",
            "u1",
            "u1",
            "u1",
        ],
        "offsets": [0, 4, 8, 10, 12, 16, 20, 24, 28, 32, 33, 34, 35],
        "itemsize": HEADER_BYTES,
    }
)
HEADER_DTYPES: dict[str, np.dtype] = {"A": HEADER_A, "B": HEADER_B}

_T_MIN, _T_MAX = 946_684_800, 4_102_444_800  # 2000-01-01 .. 2100-01-01, Unix seconds
_RESYNC_MAX_S = 60  # a resync candidate's tSec must lie within this of the bad record's
_LAYOUT_B_FROM = 1_480_550_400  # 2016-12-01: fallback when a header matches neither layout


@dataclass
class RecordTable:
    """What the header walk found in one file.

    Attributes
    ----------
    offsets : np.ndarray, shape (R,), int64
        Byte offset of each record header.
    bits : np.ndarray, shape (R,), uint8
        Width byte of each header (may be 0 or > 32 for a ``bad_width`` record).
    n_decodable : np.ndarray, shape (R,), int64
        Samples that can be decoded from each record (4096; fewer for a truncated last record;
        0 for a bad-width record).
    headers : np.ndarray, shape (R,), structured (``HEADER_A`` or ``HEADER_B``)
        Every header field.
    record_start_ns : np.ndarray, shape (R,), int64
        Time of each record's first sample, ns since the Unix epoch (UTC).
    layout : {"A", "B"}
    faults : list of Fault
    """

    offsets: np.ndarray
    bits: np.ndarray
    n_decodable: np.ndarray
    headers: np.ndarray
    record_start_ns: np.ndarray
    layout: Layout
    faults: list[Fault] = field(default_factory=list)

    @property
    def n_records(self) -> int:
        return int(self.offsets.size)


class _FaultLog:
    """Collects faults under an ``on_fault`` policy (raise at once, log, or keep silently)."""

    def __init__(self, source: str, on_fault: OnFault) -> None:
        if on_fault not in ("raise", "warn", "skip"):
            raise ValueError(f"on_fault must be 'raise', 'warn' or 'skip', got {on_fault!r}")
        self.source, self.on_fault, self.faults = source, on_fault, []

    def add(self, kind: str, record: int | None, detail: str) -> None:
        where = f"{self.source}" + (f", record {record}" if record is not None else "")
        fault = Fault(kind=kind, record=record, message=f"{where}: {kind}: {detail}")
        if self.on_fault == "raise":
            raise fault.to_error()
        if self.on_fault == "warn":
            if len(self.faults) < 10:
                logger.warning("%s", fault.message)
            elif len(self.faults) == 10:
                logger.warning("%s: further faults are recorded without logging", self.source)
        self.faults.append(fault)


def _u32(mv: memoryview, off: int) -> int:
    return struct.unpack_from("<I", mv, off)[0]


def _plausible(mv: memoryview, off: int, *, check_bits: bool) -> bool:
    t_sec, tu_sec, timecount = struct.unpack_from("<III", mv, off + 12)
    ok = _T_MIN <= t_sec < _T_MAX and tu_sec < 1_000_000 and timecount < 10_000_000
    return ok and (not check_bits or 1 <= mv[off + 35] <= 32)


def _resync(mv: memoryview, size: int, off: int) -> int | None:
    """Offset of the record after a bad-width record at ``off``, or None if none is found."""
    pattern = struct.pack("<I", (_u32(mv, off) + 1) & 0xFFFFFFFF)
    t_bad = _u32(mv, off + 12)
    data = bytes(mv[off + HEADER_BYTES : min(size, off + 2 * HEADER_BYTES + 512 * 32)])
    start = 0
    while (i := data.find(pattern, start)) >= 0:
        cand, start = off + HEADER_BYTES + i, i + 1
        gap = cand - off - HEADER_BYTES
        if gap % 512 or not 1 <= gap // 512 <= 32 or cand + HEADER_BYTES > size:
            continue
        if (
            _plausible(mv, cand, check_bits=True)
            and abs(_u32(mv, cand + 12) - t_bad) <= _RESYNC_MAX_S
        ):
            return cand
    return None


def _walk(mv: memoryview, size: int, log: _FaultLog) -> tuple[list[int], list[int], list[int]]:
    """Header offsets, width bytes and decodable sample counts, in file order."""
    offsets: list[int] = []
    widths: list[int] = []
    n_ok: list[int] = []
    off = 0
    while off + HEADER_BYTES <= size:
        b, r = mv[off + 35], len(offsets)
        offsets.append(off)
        widths.append(b)
        if not 1 <= b <= 32:
            nxt = _resync(mv, size, off)
            n_ok.append(0)
            tail = "" if nxt is not None else f"; no next record found, {size - off} bytes skipped"
            log.add("bad_width", r, f"sample width {b} bits at byte {off} (must be 1-32){tail}")
            if nxt is None:
                return offsets, widths, n_ok
            off = nxt
            continue
        end = off + HEADER_BYTES + 512 * b
        if end > size:
            got = (size - off - HEADER_BYTES) * 8 // b
            n_ok.append(got)
            log.add(
                "truncated_record",
                r,
                f"{got} of {SAMPLES_PER_RECORD} samples present "
                f"({size - off - HEADER_BYTES} of {512 * b} payload bytes at {b} bits); "
                "the rest are marked missing",
            )
            return offsets, widths, n_ok
        n_ok.append(SAMPLES_PER_RECORD)
        off = end
    if off < size:
        log.add(
            "partial_header",
            len(offsets),
            f"{size - off} trailing bytes at byte {off}, shorter than a {HEADER_BYTES}-byte "
            "header; ignored",
        )
    return offsets, widths, n_ok


def _detect_layout(h: np.ndarray) -> Layout:
    """Layout of a header (read as layout A): A if its date fields agree with tSec, B if its
    duplicate counter agrees, else by the date layout B was introduced (December 2016)."""
    t_sec = int(h["t_sec"])
    day = np.datetime64(t_sec, "s").astype("datetime64[D]")
    year = int(day.astype("datetime64[Y]").astype(np.int64)) + 1970
    doy = int((day - day.astype("datetime64[Y]")).astype(np.int64)) + 1
    if int(h["year"]) == year and int(h["day_of_year"]) == doy:
        return "A"
    if int(np.frombuffer(h.tobytes()[4:8], "<u4")[0]) == int(h["counter"]):
        return "B"
    return "B" if t_sec >= _LAYOUT_B_FROM else "A"


def _check_headers(table: RecordTable, log: _FaultLog, *, time_tolerance_s: float) -> None:
    h = table.headers
    step = (h["counter"][1:].astype(np.int64) - h["counter"][:-1]) % (1 << 32)
    for r in np.flatnonzero(step != 1)[:100]:
        log.add(
            "bad_header",
            int(r) + 1,
            f"record counter {int(h['counter'][r + 1])} does not follow {int(h['counter'][r])}",
        )
    if table.layout == "B":
        for r in np.flatnonzero(h["counter_dup"] != h["counter"])[:100]:
            log.add(
                "bad_header",
                int(r),
                f"duplicate counter {int(h['counter_dup'][r])} differs "
                f"from counter {int(h['counter'][r])}",
            )
    for r in np.flatnonzero(np.any(h["sync"] != h["sync"][:1], axis=1))[:100]:
        log.add(
            "bad_header",
            int(r),
            f"sync bytes {h['sync'][r].tolist()} differ from the first "
            f"record's {h['sync'][0].tolist()}",
        )
    diff_s = np.diff(table.record_start_ns) / 1e9
    for r in np.flatnonzero(np.abs(diff_s - RECORD_PERIOD_S) > time_tolerance_s):
        kind = "time_jump" if diff_s[r] > RECORD_PERIOD_S else "time_backwards"
        log.add(
            kind,
            int(r) + 1,
            f"record starts {diff_s[r]:.6f} s after the previous one "
            f"(expected {RECORD_PERIOD_S:.6f} s +- {time_tolerance_s} s)",
        )


def scan_buffer(
    buf: np.ndarray | bytes | memoryview,
    size: int,
    *,
    source: str = "<buffer>",
    on_fault: OnFault = "warn",
    time_tolerance_s: float = 1e-3,
) -> RecordTable:
    """Walk the record headers of a HYD24BBpk byte buffer and check them.

    Parameters
    ----------
    buf : array of uint8, bytes or memoryview
        The file's bytes (it may be longer than ``size``: extra bytes are ignored).
    size : int
        Number of file bytes in ``buf``.
    source : str
        Name used in fault messages (the file path).
    on_fault : {"raise", "warn", "skip"}
        Raise the first fault as its typed :class:`AcoFormatError`, or record it (and log it,
        for ``"warn"``).
    time_tolerance_s : float
        Allowed deviation of consecutive record start times from 4096 / 24000 s.

    Returns
    -------
    RecordTable
    """
    log = _FaultLog(source, on_fault)
    mv = memoryview(buf).cast("B")
    if size == 0:
        log.add("empty_file", None, "the file holds no bytes")
    elif size >= HEADER_BYTES and not _plausible(mv, 0, check_bits=False):
        t_sec, tu_sec, timecount = struct.unpack_from("<III", mv, 12)
        log.add(
            "not_hyd_format",
            None,
            f"first header is not plausible (tSec={t_sec}, "
            f"tuSec={tu_sec}, timecount={timecount}); not a HYD24BBpk file",
        )
        size = 0
    offsets, widths, n_ok = _walk(mv, size, log)
    offs = np.asarray(offsets, dtype=np.int64)
    raw = np.frombuffer(mv, dtype=np.uint8)
    hdr_bytes = raw[offs[:, None] + np.arange(HEADER_BYTES)]  # (R, 36)
    layout: Layout = "A" if offs.size == 0 else _detect_layout(hdr_bytes[0].view(HEADER_A)[0])
    headers = hdr_bytes.reshape(-1).view(HEADER_DTYPES[layout])  # (R,)
    t_ns = header_times_ns(headers["t_sec"], headers["tu_sec"], headers["timecount"])
    table = RecordTable(
        offsets=offs,
        bits=np.asarray(widths, dtype=np.uint8),
        n_decodable=np.asarray(n_ok, dtype=np.int64),
        headers=headers,
        record_start_ns=record_start_ns(t_ns),
        layout=layout,
    )
    _check_headers(table, log, time_tolerance_s=time_tolerance_s)
    table.faults = log.faults
    return table
