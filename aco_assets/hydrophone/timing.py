"""File names and record times of the ACO archive.

All datetimes in this package are **naive UTC** (``datetime.datetime`` without ``tzinfo``, or
``numpy.datetime64``, which has no time zone).

Timing rule (docs/format.md): a record header's time is ``tSec + timecount / 1e7`` seconds, minus one
second if that is later than ``tSec + tuSec / 1e6``; add the 50 us acquisition lag; the result is
the time of the record's sample index 511 (its 512th sample).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import numpy as np

from .errors import FileNameError

SAMPLE_RATE_HZ: int = 24_000
SAMPLES_PER_RECORD: int = 4096
HEADER_BYTES: int = 36
FILE_DURATION_S: float = 300.0
FILES_PER_DAY: int = 288
FILE_EXTENSION: str = "HYD24BBpk"
LAG_NS: int = 50_000  # acquisition lag (96 vs 24 kHz), added to the header time
ANCHOR_SAMPLE: int = 511  # the header time belongs to this sample of its record
RECORD_PERIOD_S: float = SAMPLES_PER_RECORD / SAMPLE_RATE_HZ

_NAME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})--(\d{2})\.(\d{2})\.HYD24BBpk$")
_EPOCH = datetime(1970, 1, 1)


def parse_file_name(name: str) -> datetime:
    """Nominal start (naive UTC) from a file name such as ``2016-02-15--05.00.HYD24BBpk``.

    Parameters
    ----------
    name : str
        The base name (a path is accepted; only its last component is read).

    Raises
    ------
    FileNameError
        If the name does not follow ``YYYY-MM-DD--HH.MM.HYD24BBpk`` or is not a valid time.
    """
    base = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    m = _NAME_RE.match(base)
    if m is None:
        raise FileNameError(
            f"file name {base!r} does not follow YYYY-MM-DD--HH.MM.{FILE_EXTENSION}"
        )
    try:
        return datetime(*(int(g) for g in m.groups()))  # type: ignore[misc]
    except ValueError as e:
        raise FileNameError(f"file name {base!r} is not a valid date/time: {e}") from e


def file_name_for(start_utc: datetime) -> str:
    """The archive file name for a nominal start (naive UTC), e.g. ``2016-02-15--05.00.HYD24BBpk``."""
    return f"{start_utc:%Y-%m-%d--%H.%M}.{FILE_EXTENSION}"


def archive_path_for(start_utc: datetime) -> str:
    """Relative archive path ``YYYY/MM/DD/<name>`` for a nominal start (naive UTC)."""
    return f"{start_utc:%Y/%m/%d}/{file_name_for(start_utc)}"


def datetime_to_ns(t: datetime) -> int:
    """Nanoseconds since the Unix epoch for a naive-UTC datetime (exact)."""
    if t.tzinfo is not None:
        raise ValueError(f"expected a naive UTC datetime, got {t!r} with tzinfo")
    d = t - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000_000 + d.microseconds * 1_000


def ns_to_datetime(ns: int) -> datetime:
    """Naive-UTC datetime, rounded to the nearest microsecond, for nanoseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=(int(ns) + 500) // 1_000)


def to_datetime(t: datetime | np.datetime64) -> datetime:
    """Convert a ``datetime64`` or ``datetime`` to a naive-UTC ``datetime`` (microseconds)."""
    if isinstance(t, np.datetime64):
        return ns_to_datetime(int(t.astype("datetime64[ns]").astype(np.int64)))
    return t


def samples_to_ns(
    n_samples: float | np.ndarray, sample_rate_hz: float = SAMPLE_RATE_HZ
) -> np.ndarray:
    """Duration in integer nanoseconds of ``n_samples`` samples (rounded to the nearest ns)."""
    return np.rint(np.asarray(n_samples, dtype=np.float64) * (1e9 / sample_rate_hz)).astype(
        np.int64
    )


def header_times_ns(t_sec: np.ndarray, tu_sec: np.ndarray, timecount: np.ndarray) -> np.ndarray:
    """Header times in ns since the epoch, per docs/format.md (before the lag and anchor shift).

    Parameters
    ----------
    t_sec, tu_sec, timecount : np.ndarray, shape (R,), unsigned ints
        The header fields tSec (s), tuSec (us) and timecount (100 ns units).

    Returns
    -------
    np.ndarray, shape (R,), int64
        ``tSec + timecount/1e7`` in ns, minus 1 s where that is later than ``tSec + tuSec/1e6``.
    """
    t_sec = t_sec.astype(np.int64)
    sub_ns = timecount.astype(np.int64) * 100
    later = sub_ns > tu_sec.astype(np.int64) * 1_000
    return t_sec * 1_000_000_000 + sub_ns - later * 1_000_000_000


def record_start_ns(header_ns: np.ndarray) -> np.ndarray:
    """Time (ns since epoch) of each record's first sample from its header time: lag and anchor."""
    anchor_ns = int(samples_to_ns(ANCHOR_SAMPLE))
    return header_ns + LAG_NS - anchor_ns
