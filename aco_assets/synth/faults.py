"""Fault injection into written synthetic files: missing file, truncated file, corrupt width.

Faults are applied to the bytes after :func:`aco_assets.hydrophone.write_file` has written the
file, as real hardware faults damage real files: the reader must find them on its own.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np

from aco_assets.hydrophone import SAMPLE_RATE_HZ, SAMPLES_PER_RECORD, minimal_bits
from aco_assets.synth.catalog import FAULT_CLASSES

_HEADER_BYTES = 36


def fault_row(
    label: str, rel: str, start_utc: dt.datetime, first: int, last: int, detail: str = ""
) -> dict:
    """Faults-table row of a fault spanning samples [first, last) of the file at ``start_utc``.

    The row carries ``table="fault"`` so that it can travel in one list with event rows.
    """

    def at(sample: int) -> dt.datetime:
        return start_utc + dt.timedelta(microseconds=round(sample * 1e6 / SAMPLE_RATE_HZ))

    return {
        "table": "fault",
        "class": label,
        "start_utc": at(first),
        "end_utc": at(last),
        "file": rel,
        "detail": detail or f"samples {first}-{last}",
    }


def _record_offsets(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Byte offset of every record header and each record's width, as ``write_file`` lays them."""
    bits = np.maximum(16, minimal_bits(samples.reshape(-1, SAMPLES_PER_RECORD)))  # (R,)
    sizes = _HEADER_BYTES + 512 * bits
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]), bits


def inject(
    fault: str,
    path: Path,
    samples: np.ndarray,
    rows: list[dict],
    rng: np.random.Generator,
    rel: str,
    start_utc: dt.datetime,
) -> dict:
    """Damage a written file in place; trim the rows it destroys; return the fault row.

    ``rows`` holds the file's event and fault rows (dicts with ``start_utc`` and ``end_utc``):
    a missing file empties it, a truncation drops the rows after the cut and shortens the others.
    """
    offsets, bits = _record_offsets(samples)
    n_rec = bits.size
    if fault == "missing_file":
        path.unlink()
        rows.clear()
        return fault_row(fault, rel, start_utc, 0, samples.size, "file not written")
    if fault == "corrupt_width":
        r = int(rng.integers(1, n_rec - 1))
        with open(path, "r+b") as f:
            f.seek(int(offsets[r]) + 35)
            f.write(b"\x00")
        first = r * SAMPLES_PER_RECORD
        detail = f"record {r}: header byte 35 (bits) set to 0"
        return fault_row(fault, rel, start_utc, first, first + SAMPLES_PER_RECORD, detail)
    r = int(rng.integers(n_rec // 2, n_rec - 1))  # truncated_file: cut inside record r's payload
    payload = int(rng.integers(1, 512 * int(bits[r])))
    os.truncate(path, int(offsets[r]) + _HEADER_BYTES + payload)
    cut = r * SAMPLES_PER_RECORD + payload * 8 // int(bits[r])
    cut_utc = start_utc + dt.timedelta(microseconds=round(cut * 1e6 / SAMPLE_RATE_HZ))
    rows[:] = [
        dict(row, end_utc=min(row["end_utc"], cut_utc))
        for row in rows
        if row["start_utc"] < cut_utc
    ]
    detail = f"cut inside record {r} after {payload} payload bytes"
    return fault_row(fault, rel, start_utc, cut, n_rec * SAMPLES_PER_RECORD, detail)


def fault_plan(n_files: int, rng: np.random.Generator) -> dict[int, str]:
    """File index -> fault: ``max(1, n_files // 60)`` of each kind on distinct files."""
    per_kind = max(1, n_files // 60)
    n = min(n_files, per_kind * len(FAULT_CLASSES))
    chosen = rng.choice(n_files, size=n, replace=False)
    return {int(i): FAULT_CLASSES[k % len(FAULT_CLASSES)] for k, i in enumerate(chosen)}
