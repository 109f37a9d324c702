"""The archive index: files by time, coverage per day, and span loads into a :class:`Clip`.

The archive is a tree ``YYYY/MM/DD/YYYY-MM-DD--HH.MM.HYD24BBpk`` (docs/format.md); each file
nominally covers five minutes from the time in its name. Entries of a day folder that break the
naming rule are listed as misfiled (:mod:`.listing`), never silently dropped. All datetimes are
naive UTC.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from ..storage.paths import as_path
from .clip import Clip, NoDataWarning, as_utc
from .codec import read_file
from .coverage import missing_starts
from .errors import OnFault
from .listing import (
    DAY_FOLDERS_GLOB,
    FILE_GLOB,
    ArchiveFile,
    MisfiledFile,
    classify,
    day_folders,
)
from .summary import FileSummary, scan_file
from .timing import (
    FILE_EXTENSION,
    FILES_PER_DAY,
    RECORD_PERIOD_S,
    SAMPLE_RATE_HZ,
    SAMPLES_PER_RECORD,
    datetime_to_ns,
)

logger = logging.getLogger(__name__)

__all__ = ["Archive", "ArchiveFile", "DayCoverage", "MisfiledFile"]


@dataclass
class DayCoverage:
    """Coverage of one UTC day.

    Attributes
    ----------
    day : date
    expected : int
        288 five-minute files.
    found : int
        Files present for the day (named for one of its five-minute slots, in its folder).
    missing : int
        Five-minute slots without a file.
    faulty : int
        Files with at least one fault (see :mod:`.errors`); 0 when headers were not checked.
    missing_starts : list of datetime
        Nominal starts of the missing slots.
    faulty_files : list of FileSummary
        The faulty files, with their faults.
    misfiled : list of MisfiledFile
        Entries of the day's folder that break the naming rule (not counted in ``found``).
    """

    day: date
    expected: int
    found: int
    missing: int
    faulty: int
    missing_starts: list[datetime] = field(default_factory=list)
    faulty_files: list[FileSummary] = field(default_factory=list)
    misfiled: list[MisfiledFile] = field(default_factory=list)


class Archive:
    """An ACO archive, on disk or on object storage.

    Parameters
    ----------
    root : str or path-like
        The directory holding the ``YYYY/MM/DD`` tree: a local path, or a URL such as
        ``s3://bucket/prefix`` (read through fsspec, :mod:`aco_assets.storage.paths`).
    storage_options : mapping, optional
        Options of the URL's fsspec file system (credentials and endpoint otherwise come from
        the standard environment variables, e.g. ``AWS_ENDPOINT_URL``).

    Notes
    -----
    The file index is built on first use and cached; call :meth:`refresh` after files change.
    Entries of day folders that break the naming rule are not read: they are logged at WARNING
    level and listed by :meth:`misfiled` under the day of their folder (:mod:`.listing`).
    """

    def __init__(
        self, root: str | os.PathLike, *, storage_options: Mapping[str, Any] | None = None
    ) -> None:
        self.root = as_path(root, storage_options=storage_options)
        self._index: tuple[list[ArchiveFile], list[MisfiledFile]] | None = None
        self._day_index: dict[date, tuple[list[ArchiveFile], list[MisfiledFile]]] = {}

    def __repr__(self) -> str:
        return f"Archive({str(self.root)!r})"

    def refresh(self) -> None:
        """Forget the cached file index."""
        self._index = None
        self._day_index = {}

    def _all(self) -> list[ArchiveFile]:
        if self._index is None:
            self._index = classify(self.root, self.root.glob(DAY_FOLDERS_GLOB))
        return self._index[0]

    def _day(self, day: date) -> tuple[list[ArchiveFile], list[MisfiledFile]]:
        if self._index is not None:
            files, misfiled = self._index
            return (
                [f for f in files if f.nominal_start_utc.date() == day],
                [m for m in misfiled if m.day == day],
            )
        if day not in self._day_index:
            paths = [p for d in day_folders(self.root, day) for p in d.glob(FILE_GLOB)]
            self._day_index[day] = classify(self.root, paths)
        return self._day_index[day]

    def day_files(self, day: date) -> list[ArchiveFile]:
        """Files of one UTC day, in time order: named for the day, in the day's folder.

        Reads only the day's own ``YYYY/MM/DD`` folder (and, at the edge of a month, the names
        of impossible sibling folders) unless the whole index is already cached, so a per-day
        run never walks a multi-year tree.
        """
        return self._day(day)[0]

    def misfiled(self, day: date | None = None) -> list[MisfiledFile]:
        """Entries of day folders that break the naming rule (of ``day``, or of the archive).

        They are not read by :meth:`load` nor listed by :meth:`day_files`; each one says why
        and how to fix it (:class:`.listing.MisfiledFile`).
        """
        if day is None:
            self._all()
            return list(self._index[1])
        return self._day(day)[1]

    def files(
        self, start_utc: datetime | None = None, end_utc: datetime | None = None
    ) -> list[ArchiveFile]:
        """Files whose nominal five minutes overlap ``[start_utc, end_utc)``, in time order."""
        return [
            f
            for f in self._all()
            if (start_utc is None or f.nominal_end_utc > start_utc)
            and (end_utc is None or f.nominal_start_utc < end_utc)
        ]

    def days(self) -> list[date]:
        """UTC days with at least one file or misfiled entry, in order."""
        files = self._all()
        return sorted(
            {f.nominal_start_utc.date() for f in files} | {m.day for m in self.misfiled()}
        )

    def coverage(self, day: date, *, check_headers: bool = True) -> DayCoverage:
        """Coverage of one UTC day: expected, found, missing and faulty files.

        Parameters
        ----------
        day : date
        check_headers : bool
            Walk every file's headers (:func:`.summary.scan_file`) to count faulty files; False
            looks at names only.
        """
        files = self.day_files(day)
        missing = missing_starts(day, (f.nominal_start_utc for f in files))
        faulty = []
        if check_headers:
            faulty = [s for s in (scan_file(f.path) for f in files) if s.faults]
        return DayCoverage(
            day=day,
            expected=FILES_PER_DAY,
            found=len(files),
            missing=len(missing),
            faulty=len(faulty),
            missing_starts=missing,
            faulty_files=faulty,
            misfiled=self.misfiled(day),
        )

    def coverage_report(
        self,
        start_day: date | None = None,
        end_day: date | None = None,
        *,
        check_headers: bool = True,
    ) -> str:
        """A readable table, one line per day in ``[start_day, end_day]`` (inclusive)."""
        days = [
            d
            for d in self.days()
            if (start_day is None or d >= start_day) and (end_day is None or d <= end_day)
        ]
        lines = [f"{'day':<10}  {'expected':>8}  {'found':>5}  {'missing':>7}  {'faulty':>6}"]
        misfiled: list[MisfiledFile] = []
        for d in days:
            c = self.coverage(d, check_headers=check_headers)
            lines.append(
                f"{d.isoformat():<10}  {c.expected:>8}  {c.found:>5}  {c.missing:>7}  {c.faulty:>6}"
            )
            misfiled += c.misfiled
        if not days:
            lines.append(f"(no {FILE_EXTENSION} files under {self.root} in this range)")
        if misfiled:
            lines.append(f"{len(misfiled)} misfiled (not counted above, not read):")
            lines += [f"  {m.day}  {m.reason}" for m in misfiled]
        return "\n".join(lines)

    def load(
        self,
        start_utc: datetime | str,
        duration: timedelta | float,
        *,
        on_fault: OnFault = "warn",
        search_margin_s: float = 2.0,
        snap_tolerance_s: float = 1e-3,
        progress: Callable[[int, int], None] | None = None,
    ) -> Clip:
        """Load a span of the archive, across files, placing every record by its header time.

        Parameters
        ----------
        start_utc : datetime or str
            Start of the span, naive UTC (or an ISO 8601 string, e.g. ``"2016-02-14T05:00"``;
            see :func:`.clip.as_utc`).
        duration : timedelta or float
            Length of the span (float: seconds).
        on_fault : {"raise", "warn", "skip"}
            Passed to :func:`.codec.read_file`.
        search_margin_s : float
            Files whose nominal span comes this close to the requested span are read too (their
            header times may run past the nominal five minutes).
        snap_tolerance_s : float
            A run of records that starts within this of where the previous run ended is joined
            to it without a gap (clock jitter); farther, it is placed at its own time.
        progress : callable(done, total) or None
            Called after each file.

        Returns
        -------
        Clip
            ``round(duration * 24000)`` samples; NaN where no file, record or sample covers the
            time (missing files, gaps, truncated records). ``clip.gaps`` lists those spans. A
            span with no sample at all warns (:class:`.clip.NoDataWarning`), naming it.
        """
        start_utc = as_utc(start_utc, name="start_utc")
        if not isinstance(duration, timedelta):
            duration = timedelta(seconds=float(duration))
        if duration <= timedelta(0):
            raise ValueError(f"duration must be positive, got {duration}")
        n = round(duration / timedelta(microseconds=1) * SAMPLE_RATE_HZ / 1e6)
        out = np.full(n, np.nan)  # (n,)
        margin = timedelta(seconds=search_margin_s)
        files = self.files(start_utc - margin, start_utc + duration + margin)
        t0_ns = datetime_to_ns(start_utc)
        snap = round(snap_tolerance_s * SAMPLE_RATE_HZ)
        prev_end: int | None = None
        for i, f in enumerate(files):
            raw = read_file(f.path, on_fault=on_fault)
            for r0, r1 in _contiguous_runs(raw.record_times_utc.astype(np.int64), snap_tolerance_s):
                t_ns = int(raw.record_times_utc[r0].astype(np.int64))
                idx = round((t_ns - t0_ns) * SAMPLE_RATE_HZ / 1e9)
                if prev_end is not None and abs(idx - prev_end) <= snap:
                    idx = prev_end
                seg = slice(r0 * SAMPLES_PER_RECORD, r1 * SAMPLES_PER_RECORD)
                _place(out, idx, raw.samples[seg], raw.valid[seg])
                prev_end = idx + (r1 - r0) * SAMPLES_PER_RECORD
            if progress is not None:
                progress(i + 1, len(files))
        clip = Clip(out, start_utc=start_utc, sample_rate_hz=SAMPLE_RATE_HZ)
        if n and not np.isfinite(out).any():
            warnings.warn(
                f"no archive data in {start_utc} .. {start_utc + duration} UTC under {self.root} "
                f"({len(files)} file(s) near the span): the clip is all NaN; "
                "Archive.coverage_report() lists the days that hold files",
                NoDataWarning,
                stacklevel=2,
            )
        elif clip.gaps:
            logger.info("%s: %d gap(s) in %s + %s", self, len(clip.gaps), start_utc, duration)
        return clip


def _contiguous_runs(record_ns: np.ndarray, tolerance_s: float) -> list[tuple[int, int]]:
    """Record index ranges [r0, r1) whose consecutive times are one record apart (within tol)."""
    step = np.diff(record_ns) / 1e9
    breaks = np.flatnonzero(np.abs(step - RECORD_PERIOD_S) > tolerance_s) + 1
    edges = np.r_[0, breaks, record_ns.size]
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def _place(out: np.ndarray, idx: int, samples: np.ndarray, valid: np.ndarray) -> None:
    """Copy the valid ``samples`` into ``out`` from index ``idx`` on, clipped to ``out``."""
    lo, hi = max(idx, 0), min(idx + samples.size, out.size)
    if hi <= lo:
        return
    src = slice(lo - idx, hi - idx)
    dst = out[lo:hi]
    ok = valid[src]
    dst[ok] = samples[src][ok]
