"""Rows for the warehouse tests, importable by their child processes (no pytest import)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa


def windows(day: dt.date, n: int, file: str = "a.HYD24BBpk") -> pa.Table:
    """``n`` valid ``windows`` rows of ``day`` from ``file``."""
    start = dt.datetime.combine(day, dt.time())
    return pa.table(
        {
            "day": [day] * n,
            "window_index": list(range(n)),
            "window_start": [start + dt.timedelta(seconds=5 * i) for i in range(n)],
            "window_end": [start + dt.timedelta(seconds=5 * i + 5) for i in range(n)],
            "file": [file] * n,
            "offset_s": [5.0 * i for i in range(n)],
            "valid": [True] * n,
        }
    )
