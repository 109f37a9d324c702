"""Data-quality issues in decoded hydrophone samples: gaps, dropouts, clipping, DC steps, timing.

These are faults of the recording chain, not sounds of the ocean: the pipeline reports them in
their own table and keeps them out of the acoustic anomaly queue. Everything here is vectorised
(no Python loop per sample or per record) and reads each sample a few times only: the block
extremes of one pass serve both the dropout search (only blocks of one value are examined
further) and the clipping search (records), and a file without gaps skips every mask. A 5-minute
file (7.2 million samples) takes 10-15 ms of CPU (``benchmarks/bench_quality.py``). Imports
numpy, scipy, the standard library and the mask runs of :mod:`aco_assets.hydrophone.gaps`.

Sample ``i`` is placed at ``start_utc + i / sample_rate_hz`` (naive UTC), the codec's time of
sample 0 plus the nominal rate; timing jumps are reported from the per-record header times.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
from scipy import ndimage

from aco_assets.hydrophone.gaps import mask_runs

logger = logging.getLogger(__name__)

IssueKind = Literal["gap", "dropout", "clipping", "dc_step", "timing_jump"]
ISSUE_KINDS: tuple[str, ...] = ("gap", "dropout", "clipping", "dc_step", "timing_jump")


class QualityInputError(ValueError):
    """Raised when the arrays given to :func:`find_quality_issues` do not fit together."""


@dataclass(frozen=True)
class QualityIssue:
    """One data-quality problem.

    Attributes
    ----------
    kind : "gap" (samples missing: ``valid`` False or NaN), "dropout" (a run of one constant
        value, exact zeros included), "clipping" (samples at the extremes of the sample width),
        "dc_step" (an abrupt step of the low-passed level), "timing_jump" (record header times
        off the nominal 4096 / 24000 s spacing)
    start_utc, end_utc : naive UTC
    value : the size, in the unit of ``detail``: seconds (gap, dropout, timing_jump), clipped
        sample count (clipping), step in counts (dc_step)
    detail : a sentence for people
    """

    kind: IssueKind
    start_utc: datetime
    end_utc: datetime
    value: float
    detail: str


def _extremes_block(min_len: int, spr: int) -> int:
    """Block length for the shared extremes: a power of two dividing ``spr``, at most
    ``(min_len + 1) // 2`` (then every run of ``min_len`` equal samples holds a whole block);
    0 when too short to pay off (the dropout search then reads every sample)."""
    block = 1 << int(np.log2((min_len + 1) // 2))
    while block > 1 and spr % block:
        block //= 2
    return block if block >= 64 else 0


@dataclass(frozen=True)
class _BlockExtremes:
    """Max and min of each whole block of ``block`` samples, shape (n // block,) each."""

    block: int
    max: np.ndarray
    min: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, block: int) -> _BlockExtremes | None:
        if block == 0 or len(x) < block:
            return None
        blocks = x[: len(x) // block * block].reshape(-1, block)  # (n // block, block)
        return cls(block, blocks.max(axis=1), blocks.min(axis=1))


def find_quality_issues(
    samples: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    start_utc: datetime,
    sample_rate_hz: float,
    bits: np.ndarray | int | None = None,
    record_times_utc: np.ndarray | None = None,
    samples_per_record: int = 4096,
    adc_bits: int = 24,
    min_dropout_s: float = 0.1,
    clip_merge_s: float = 0.05,
    dc_block_s: float = 0.05,
    dc_step_sigma: float = 10.0,
    dc_step_min_counts: float = 2e4,
    timing_tolerance_s: float = 1e-3,
) -> list[QualityIssue]:
    """Find the data-quality issues of one file's (or one span's) samples.

    Parameters
    ----------
    samples : int or float (n,), counts; NaN marks a missing sample in a float array
    valid : bool (n,), False where a sample is missing (e.g. a truncated record's padding);
        None = all present (but NaN)
    start_utc : naive UTC time of sample 0
    sample_rate_hz : samples per second (24000 for ACO)
    bits : sample width per record, uint (n_records,) or one int; clipping is a sample at the
        width's extremes ``-2**(b-1)`` or ``2**(b-1) - 1``. None uses ``adc_bits`` for all.
    record_times_utc : datetime64 (n_records,), header time of each record's first sample;
        None skips the timing check
    samples_per_record : samples in a record (4096 for ACO)
    adc_bits : converter width used when ``bits`` is None
    min_dropout_s : shortest run of one constant value reported as a dropout
    clip_merge_s : clipped samples closer than this are one issue
    dc_block_s : block length of the low-passed level (block means): the DC-step detector
        ignores what happens within a block and works at about ``1 / dc_block_s`` Hz
    dc_step_sigma, dc_step_min_counts : a step is reported where the jump of the block-mean
        level across two blocks, minus the local trend, exceeds both ``dc_step_sigma`` robust
        standard deviations (MAD) of that statistic and ``dc_step_min_counts``, and stands
        alone (no half as large jump 4 to 10 blocks either side: low-frequency oscillations
        such as earthquakes are not steps; a step inside such an oscillation is missed)
    timing_tolerance_s : largest accepted deviation of the record spacing from nominal

    Returns
    -------
    list of QualityIssue, sorted by start time
    """
    x = np.asarray(samples)
    if x.ndim != 1:
        raise QualityInputError(f"samples must be 1-D, got shape {x.shape}")
    ok = np.ones(len(x), bool) if valid is None else np.asarray(valid, dtype=bool)
    if ok.shape != x.shape:
        raise QualityInputError(f"valid {ok.shape} and samples {x.shape} differ in shape")
    if x.dtype.kind == "f":
        ok = ok & np.isfinite(x)
    fs = float(sample_rate_hz)
    all_ok = bool(ok.all())
    xv = x if all_ok else np.where(ok, x, x.dtype.type(0))  # missing samples read as 0
    min_len = max(2, int(round(min_dropout_s * fs)))
    extremes = _BlockExtremes.of(xv, _extremes_block(min_len, samples_per_record))
    issues: list[tuple[IssueKind, int, int, float, str]] = []  # kind, i0, i1, value, detail
    issues += [] if all_ok else _gaps(ok, fs)
    issues += _dropouts(x, ok, fs, min_len=min_len, extremes=extremes, all_ok=all_ok)
    issues += _clipping(
        xv, ok, bits, adc_bits, samples_per_record, merge=int(clip_merge_s * fs), extremes=extremes
    )
    issues += _dc_steps(
        x, ok, max(1, int(round(dc_block_s * fs))), dc_step_sigma, dc_step_min_counts
    )
    out = [
        QualityIssue(
            k, start_utc + timedelta(seconds=i0 / fs), start_utc + timedelta(seconds=i1 / fs), v, d
        )
        for k, i0, i1, v, d in issues
    ]
    if record_times_utc is not None:
        out += _timing_jumps(record_times_utc, samples_per_record / fs, timing_tolerance_s)
    out.sort(key=lambda issue: (issue.start_utc, issue.kind))
    if out:
        logger.debug("%d quality issues from %s", len(out), start_utc)
    return out


def _gaps(ok: np.ndarray, fs: float) -> list:
    starts, ends = mask_runs(~ok)
    return [
        ("gap", int(a), int(b), (b - a) / fs, f"{b - a} samples ({(b - a) / fs:.3f} s) missing")
        for a, b in zip(starts, ends, strict=True)
    ]


def _dropouts(
    x: np.ndarray,
    ok: np.ndarray,
    fs: float,
    *,
    min_len: int,
    extremes: _BlockExtremes | None,
    all_ok: bool,
) -> list:
    if extremes is None:
        return _dropouts_in(x, ok, fs, 0, len(x), min_len=min_len)
    # A run of >= min_len equal valid samples holds a whole block of one value: only the spans
    # of such blocks, widened by one block either side, can hold one.
    b = extremes.block
    candidate = extremes.max == extremes.min  # (nb,)
    if not all_ok:
        candidate &= ok[: len(candidate) * b].reshape(-1, b).all(axis=1)
    out = []
    for s, e in zip(*mask_runs(candidate), strict=True):
        lo, hi = max(0, (int(s) - 1) * b), min(len(x), (int(e) + 1) * b)
        out += _dropouts_in(x, ok, fs, lo, hi, min_len=min_len)
    return out


def _dropouts_in(x: np.ndarray, ok: np.ndarray, fs: float, lo: int, hi: int, *, min_len: int):
    """Dropouts of x[lo:hi], at indices of x."""
    xs, oks = x[lo:hi], ok[lo:hi]
    same = (xs[1:] == xs[:-1]) & oks[1:] & oks[:-1]  # (m-1,) sample i+1 repeats sample i
    starts, ends = mask_runs(same)
    keep = (ends - starts + 1) >= min_len
    out = []
    for a, b in zip(starts[keep] + lo, ends[keep] + 1 + lo, strict=True):
        v = x[a]
        what = "exact zeros" if v == 0 else f"the constant value {v:g}"
        out.append(("dropout", int(a), int(b), (b - a) / fs, f"{(b - a) / fs:.3f} s of {what}"))
    return out


def _clipping(xv, ok, bits, adc_bits: int, spr: int, *, merge: int, extremes) -> list:
    """Clipped samples of xv (n,), the samples with missing ones set to 0."""
    n = len(xv)
    n_rec = -(-n // spr)
    width = np.asarray(adc_bits if bits is None else bits, np.int64)
    if width.ndim == 0:
        width = np.full(n_rec, width)
    if width.shape != (n_rec,):
        raise QualityInputError(
            f"bits has {width.shape[0]} records but {n} samples make {n_rec} records "
            f"of {spr}; give one width per record or one int"
        )
    hi = (np.int64(1) << (width - 1)) - 1  # (R,)
    lo = -(np.int64(1) << (width - 1))
    full = n // spr
    if extremes is not None and full:  # records are whole blocks of the shared extremes
        per = spr // extremes.block
        zero = xv.dtype.type(0)
        rmax = np.maximum(extremes.max[: full * per].reshape(full, per).max(axis=1), zero)
        rmin = np.minimum(extremes.min[: full * per].reshape(full, per).min(axis=1), zero)
    else:
        rec = xv[: full * spr].reshape(full, spr)  # (R_full, spr)
        rmax, rmin = rec.max(axis=1, initial=0), rec.min(axis=1, initial=0)  # (R_full,)
    if full < n_rec:  # the partial last record
        rmax = np.append(rmax, xv[full * spr :].max())
        rmin = np.append(rmin, xv[full * spr :].min())
    hit_rec = np.flatnonzero((rmax >= hi) | (rmin <= lo))
    if len(hit_rec) == 0:
        return []
    padded = np.zeros(n_rec * spr, dtype=xv.dtype)
    padded[:n] = xv
    rec = padded.reshape(n_rec, spr)  # (R, spr)
    sub = rec[hit_rec]  # (H, spr)
    at_edge = (sub >= hi[hit_rec, None]) | (sub <= lo[hit_rec, None])
    r, c = np.nonzero(at_edge)
    idx = hit_rec[r] * spr + c
    idx = idx[(idx < n)]
    idx = idx[ok[idx]]
    if len(idx) == 0:
        return []
    split = np.flatnonzero(np.diff(idx) > merge) + 1
    out = []
    for group in np.split(idx, split):
        a, b = int(group[0]), int(group[-1]) + 1
        out.append(("clipping", a, b, float(len(group)), f"{len(group)} samples at full scale"))
    return out


def _dc_steps(x, ok, block: int, n_sigma: float, min_counts: float) -> list:
    n_blocks = len(x) // block
    if n_blocks < 6:
        return []
    m = n_blocks * block
    if ok.all():
        # integer block sums are exact in int64 (as in float64 below 2**53), and faster
        acc = np.int64 if x.dtype.kind in "iu" else np.float64
        sums = x[:m].reshape(n_blocks, block).sum(axis=1, dtype=acc).astype(np.float64)  # (nb,)
        counts = np.full(n_blocks, block)
    else:
        sums = np.where(ok[:m], x[:m], 0).reshape(n_blocks, block).sum(axis=1, dtype=np.float64)
        counts = ok[:m].reshape(n_blocks, block).sum(axis=1)  # (nb,)
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.where(counts > block // 2, sums / counts, np.nan)  # (nb,) block means
    # Jump across two blocks (so a step inside block k+1 counts fully) minus the local trend.
    jump = level[2:] - level[:-2]  # (nb-2,) level[k+2] - level[k]
    stat = jump[2:-2] - 0.5 * (jump[:-4] + jump[4:])  # (nb-6,) at k = 2 .. nb-5
    finite = np.isfinite(stat)
    if not finite.any():
        return []
    med = np.median(stat[finite])
    sigma = 1.4826 * np.median(np.abs(stat[finite] - med))
    thresh = max(n_sigma * sigma, min_counts)
    mag = np.where(finite, np.abs(stat), 0.0)
    # A step at k also gives -step/2 at k +- 2 (the trend terms): keep the local maximum only.
    local_max = ndimage.maximum_filter1d(mag, size=7, mode="constant") == mag
    peaks = np.flatnonzero((mag > thresh) & local_max)
    out = []
    for p in peaks:
        # An isolated step gives nothing beyond +-3 blocks; an oscillation (an earthquake, a
        # few Hz) repeats every few blocks: require quiet from 4 to 10 blocks on both sides.
        around = np.concatenate([mag[max(p - 10, 0) : max(p - 3, 0)], mag[p + 4 : p + 11]])
        if around.size and around.max() >= 0.5 * mag[p]:
            continue
        k = p + 2  # the step lies in block k+1
        step = float(stat[p])
        a, b = (k + 1) * block, (k + 2) * block
        out.append(("dc_step", a, b, step, f"level step of {step:+.0f} counts"))
    return out


def _timing_jumps(record_times_utc: np.ndarray, spacing_s: float, tol_s: float) -> list:
    t = np.asarray(record_times_utc).astype("datetime64[ns]")
    if len(t) < 2:
        return []
    dev_s = np.diff(t).astype(np.float64) / 1e9 - spacing_s  # (R-1,)
    bad = np.flatnonzero(np.abs(dev_s) > tol_s)
    out = []
    for r in bad:
        a = t[r].astype("datetime64[us]").item()
        b = t[r + 1].astype("datetime64[us]").item()
        d = float(dev_s[r])
        word = "forward" if d > 0 else "backwards"
        detail = f"record {r + 1} header time jumps {word} by {abs(d):.6f} s"
        out.append(QualityIssue("timing_jump", min(a, b), max(a, b), d, detail))
    return out


def issues_table(issues: list[QualityIssue]) -> dict[str, list]:
    """Issues as columns (``kind, start_utc, end_utc, value, detail``), e.g. for pyarrow/DuckDB."""
    return {f: [getattr(i, f) for i in issues] for f in QualityIssue.__dataclass_fields__}
