"""Header-only summaries of HYD24BBpk files (no payload decoding): for inventories and coverage."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from ..storage.paths import AnyPath, as_path
from .errors import Fault, FileNameError
from .records import Layout, scan_buffer
from .timing import SAMPLE_RATE_HZ, SAMPLES_PER_RECORD, ns_to_datetime, parse_file_name


@dataclass(frozen=True)
class FileSummary:
    """What the headers of one file say. Times are naive UTC.

    Attributes
    ----------
    path : Path or UPath
    nominal_start_utc : datetime or None
        From the file name (None if the name does not follow the archive rule).
    start_utc, end_utc : datetime or None
        Time of the first sample and just after the last record (header times); None if no record.
    n_records : int
    widths : dict of int to int
        Number of records per stated sample width (bits).
    layout : {"A", "B"}
    size_bytes : int
    faults : list of Fault
    """

    path: AnyPath
    nominal_start_utc: datetime | None
    start_utc: datetime | None
    end_utc: datetime | None
    n_records: int
    widths: dict[int, int]
    layout: Layout
    size_bytes: int
    faults: list[Fault] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        """Duration of the records, seconds (``4096 * n_records / 24000``)."""
        return self.n_records * SAMPLES_PER_RECORD / SAMPLE_RATE_HZ

    @property
    def ok(self) -> bool:
        """True if no fault was found."""
        return not self.faults


def scan_file(path: str | os.PathLike, *, time_tolerance_s: float = 1e-3) -> FileSummary:
    """Walk and check a file's record headers without decoding its samples.

    Every fault kind is detectable from the headers and the file size, so ``faults`` lists the same
    faults :func:`.codec.read_file` would (with ``on_fault="skip"``).

    Parameters
    ----------
    path : str or path-like
    time_tolerance_s : float
        Allowed deviation of consecutive record times from 4096 / 24000 s.
    """
    path = as_path(path)
    data = path.read_bytes()
    table = scan_buffer(
        data, len(data), source=str(path), on_fault="skip", time_tolerance_s=time_tolerance_s
    )
    try:
        nominal = parse_file_name(path.name)
    except FileNameError:
        nominal = None
    start = end = None
    if table.n_records:
        start = ns_to_datetime(int(table.record_start_ns[0]))
        last_ns = int(table.record_start_ns[-1]) + round(SAMPLES_PER_RECORD / SAMPLE_RATE_HZ * 1e9)
        end = ns_to_datetime(last_ns)
    values, counts = np.unique(table.bits, return_counts=True)
    return FileSummary(
        path=path,
        nominal_start_utc=nominal,
        start_utc=start,
        end_utc=end,
        n_records=table.n_records,
        widths={int(v): int(c) for v, c in zip(values, counts, strict=True)},
        layout=table.layout,
        size_bytes=len(data),
        faults=table.faults,
    )
