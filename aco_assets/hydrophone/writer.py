"""Write byte-faithful HYD24BBpk files (for the synthetic archive and the tests).

Headers carry the times :func:`.codec.read_file` reads back exactly (to the microsecond): the
header time of record r is the time of its sample 511 minus the 50 us lag, stored at microsecond
precision (``timecount = 10 * tuSec``, so the reader's minus-one-second rule never fires).
Fields whose meaning is not public get fixed synthetic values: sync bytes ``SYNC_BYTES``, status 0,
decimation 4 (96 -> 24 kHz), start-of-file flag 1 on the first record.

Dimension letters: R records, N samples per record (4096).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np

from .errors import AcoFormatError
from .records import HEADER_DTYPES, Layout
from .timing import (
    ANCHOR_SAMPLE,
    HEADER_BYTES,
    LAG_NS,
    SAMPLES_PER_RECORD,
    datetime_to_ns,
    samples_to_ns,
)

SYNC_BYTES: tuple[int, int] = (0xA5, 0x5A)


def minimal_bits(samples: np.ndarray) -> np.ndarray:
    """Smallest two's-complement width holding each record's samples.

    Parameters
    ----------
    samples : np.ndarray, shape (R, 4096), integer

    Returns
    -------
    np.ndarray, shape (R,), int64
        Widths in bits (1 for an all-zero or all-minus-one record).
    """
    lo = samples.min(axis=1).astype(np.int64)
    hi = samples.max(axis=1).astype(np.int64)
    m = np.maximum(hi, ~lo)  # largest magnitude to hold, as a non-negative value
    _, exp = np.frexp(m.astype(np.float64))  # exp = bit length of m (0 for m == 0)
    return exp.astype(np.int64) + 1


def _encode_run(values: np.ndarray, b: int) -> np.ndarray:
    """Pack (R, 4096) integers into (R, 512 * b) bytes, LSB-first fields of ``b`` bits."""
    n_rec = values.shape[0]
    if b in (8, 16, 32):
        return values.astype(f"<i{b // 8}").view(np.uint8).reshape(n_rec, 512 * b)
    v = (values.astype(np.int64) & ((1 << b) - 1)).astype(np.uint64)
    v = v.reshape(n_rec, SAMPLES_PER_RECORD // 8, 8)  # (R, 512, 8): 8 samples = b bytes
    out = np.zeros((n_rec, SAMPLES_PER_RECORD // 8, b), np.uint8)  # (R, 512, b)
    for k in range(8):
        byte, shift = divmod(k * b, 8)
        w = v[:, :, k] << np.uint64(shift)
        for j in range((shift + b + 7) // 8):
            out[:, :, byte + j] |= ((w >> np.uint64(8 * j)) & np.uint64(0xFF)).astype(np.uint8)
    return out.reshape(n_rec, 512 * b)


def _headers(n_rec: int, start_ns: int, layout: Layout, bits: np.ndarray, first_counter: int):
    """Header array, shape (R,), of the layout's structured dtype."""
    r = np.arange(n_rec, dtype=np.int64)
    anchor_ns = start_ns + samples_to_ns(r * SAMPLES_PER_RECORD + ANCHOR_SAMPLE)
    us = (anchor_ns - LAG_NS + 500) // 1_000  # header time at microsecond precision
    t_sec, tu_sec = us // 1_000_000, us % 1_000_000
    h = np.zeros(n_rec, HEADER_DTYPES[layout])
    counter = (first_counter + r) % (1 << 32)
    h["counter"], h["sync"] = counter, SYNC_BYTES
    h["t_sec"], h["tu_sec"], h["timecount"], h["bits"] = t_sec, tu_sec, tu_sec * 10, bits
    if layout == "A":
        sec = t_sec.astype("datetime64[s]")
        day = sec.astype("datetime64[D]")
        year = day.astype("datetime64[Y]")
        h["year"] = year.astype(np.int64) + 1970
        h["day_of_year"] = (day - year.astype("datetime64[D]")).astype(np.int64) + 1
        sod = t_sec % 86_400
        h["hms"] = np.stack([sod // 3600, sod // 60 % 60, sod % 60], axis=1)
        h["decimation"], h["start_flag"] = 4, (r == 0)
    else:
        h["counter_dup"], h["at_sec"], h["atn_sec"] = counter, t_sec, tu_sec * 1_000
    return h


def write_file(
    path: str | os.PathLike,
    samples: np.ndarray,
    *,
    start_utc: datetime,
    layout: Layout = "A",
    bits: int | np.ndarray | None = None,
    partial: Literal["pad", "truncate", "error"] = "pad",
    first_counter: int = 0,
) -> None:
    """Write samples as a HYD24BBpk file.

    Parameters
    ----------
    path : str or path-like
        Destination (parent directories are created).
    samples : np.ndarray, shape (n,), integer
        Raw counts. Real files hold whole records (n a multiple of 4096); see ``partial``.
    start_utc : datetime
        Time of sample 0, naive UTC; read back exactly (to the microsecond) as ``start_utc``.
    layout : {"A", "B"}
        Header layout (A: before December 2016; B: from then).
    bits : None, int or np.ndarray of shape (R,)
        Width per record: None picks ``max(16, minimal width)`` per record (docs/format.md); an
        int applies to all records; an array gives each record's width. Widths must be 1-32 and
        hold the record's values.
    partial : {"pad", "truncate", "error"}
        What to do with a final partial record: ``"pad"`` zero-fills it to 4096 samples (the zeros
        become real samples of the file); ``"truncate"`` writes its header and only the bytes that
        hold the given samples, producing a truly truncated file (as after a hardware fault);
        ``"error"`` raises.
    first_counter : int
        Record counter of the first record.

    Raises
    ------
    AcoFormatError
        If a width is out of range or cannot hold a record's values, or a partial record is
        refused.
    """
    x = np.asarray(samples)
    if x.ndim != 1 or not np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"samples must be a 1-D integer array, got {x.dtype} of shape {x.shape}")
    n = x.size
    n_rec = -(-n // SAMPLES_PER_RECORD)
    short = n_rec * SAMPLES_PER_RECORD - n
    if short and partial == "error":
        raise AcoFormatError(f"{path}: {n} samples is not a whole number of 4096-sample records")
    grid = np.zeros((n_rec, SAMPLES_PER_RECORD), np.int64)  # (R, N)
    grid.reshape(-1)[:n] = x
    need = minimal_bits(grid) if n_rec else np.zeros(0, np.int64)
    if bits is None:
        widths = np.maximum(need, 16)
    else:
        widths = np.broadcast_to(np.asarray(bits, dtype=np.int64), (n_rec,)).copy()
    bad = np.flatnonzero((widths < 1) | (widths > 32) | (widths < need))
    if bad.size:
        r = int(bad[0])
        raise AcoFormatError(
            f"{path}: record {r}: width {widths[r]} bits is out of 1-32 or "
            f"cannot hold its values (needs {need[r]} bits)"
        )
    h = _headers(n_rec, datetime_to_ns(start_utc), layout, widths, first_counter)
    breaks = np.flatnonzero(np.diff(widths)) + 1
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, n_rec], strict=True):
            b = int(widths[lo])
            rec = np.empty((hi - lo, HEADER_BYTES + 512 * b), np.uint8)  # (R_run, bytes)
            rec[:, :HEADER_BYTES] = h[lo:hi].view(np.uint8).reshape(hi - lo, HEADER_BYTES)
            rec[:, HEADER_BYTES:] = _encode_run(grid[lo:hi], b)
            if hi == n_rec and short and partial == "truncate":
                keep = HEADER_BYTES + -(-((SAMPLES_PER_RECORD - short) * b) // 8)
                f.write(rec[:-1].tobytes())
                f.write(rec[-1, :keep].tobytes())
            else:
                f.write(rec.tobytes())
