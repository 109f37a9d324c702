"""Benchmark the HYD24BBpk decoder against a straightforward per-record ``np.unpackbits`` decoder.

Writes a realistic 5-minute file (1758 records, mixed 16/17-bit runs) to a temporary directory,
then times ``read_file`` (median of several runs, file read included) and the reference decoder
in the same process, and prints MB/s, samples/s, the ratio and peak memory.

Run on one core:  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/bench_codec.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import tracemalloc
from datetime import datetime
from pathlib import Path

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402

from aco_assets.hydrophone import SAMPLES_PER_RECORD, read_file, write_file  # noqa: E402

N = SAMPLES_PER_RECORD
ACOIO_MB_S = 45.0  # ACOio, as measured for the codec's target


def realistic_file(path: Path, *, n_records: int, frac17: float, seed: int) -> None:
    """Noise plus a slow offset; runs of records at 16 and 17 bits in about ``frac17`` mix."""
    rng = np.random.default_rng(seed)
    n = n_records * N
    t = np.arange(n) / 24000
    x = 8000 * np.sin(2 * np.pi * 0.07 * t) + rng.normal(0, 3000, n)
    widths = np.full(n_records, 16)
    r = 0
    while r < n_records:  # alternate runs of 5-60 records
        run = int(rng.integers(5, 60))
        if rng.random() < frac17:
            widths[r : r + run] = 17
        r += run
    x = np.clip(x, -32768, 32767).astype(np.int64)
    big = np.repeat(widths == 17, N)
    x[big] = np.clip(x[big] * 2, -65536, 65535)  # 17-bit records need their 17th bit
    write_file(path, x, start_utc=datetime(2016, 2, 15, 5, 0), bits=widths)


def unpackbits_decoder(path: Path) -> np.ndarray:
    """Reference: per record, unpack the payload bits and weight them (vectorised per record)."""
    data = np.fromfile(path, np.uint8)
    out, off = [], 0
    while off + 36 <= data.size:
        b = int(data[off + 35])
        payload = data[off + 36 : off + 36 + 512 * b]
        bits = np.unpackbits(payload, bitorder="little").reshape(N, b).astype(np.int64)
        v = bits @ (np.int64(1) << np.arange(b, dtype=np.int64))
        out.append(np.where(v >= 1 << (b - 1), v - (1 << b), v).astype(np.int32))
        off += 36 + 512 * b
    return np.concatenate(out)


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(*, records: int, frac17: float, repeats: int) -> dict:
    """Time both decoders on one file; returns the figures (times in ms, rates in MB/s)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "2016-02-15--05.00.HYD24BBpk"
        realistic_file(path, n_records=records, frac17=frac17, seed=0)
        size = path.stat().st_size
        raw = read_file(path, on_fault="raise")
        ref = unpackbits_decoder(path)
        if not np.array_equal(raw.samples, ref):
            raise RuntimeError("read_file and the unpackbits decoder disagree")
        widths = {int(b): int((raw.bits == b).sum()) for b in np.unique(raw.bits)}
        n_runs = 1 + int(np.count_nonzero(np.diff(raw.bits.astype(int))))
        ours = median_time(lambda: read_file(path, on_fault="raise"), repeats)
        theirs = median_time(lambda: unpackbits_decoder(path), max(3, repeats // 3))
        tracemalloc.start()
        read_file(path, on_fault="raise")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    mb = size / 1e6
    return {
        "file_mb": mb, "records": records, "widths": widths, "equal_width_runs": n_runs,
        "read_file_ms": ours * 1e3, "read_file_mb_s": mb / ours,
        "read_file_msamples_s": raw.samples.size / ours / 1e6,
        "reference_ms": theirs * 1e3, "reference_mb_s": mb / theirs,
        "ratio_vs_reference": theirs / ours, "acoio_mb_s": ACOIO_MB_S,
        "ratio_vs_acoio": mb / ours / ACOIO_MB_S, "target_ratio_vs_acoio": 15.0,
        "peak_mb": peak / 1e6, "peak_x_file": peak / size,
    }  # fmt: skip


def print_report(r: dict) -> None:
    print(
        f"file: {r['file_mb']:.2f} MB, {r['records']} records, widths {r['widths']}, "
        f"{r['equal_width_runs']} equal-width runs"
    )
    print(
        f"read_file:          {r['read_file_ms']:7.2f} ms  {r['read_file_mb_s']:8.1f} MB/s  "
        f"{r['read_file_msamples_s']:7.1f} Msamples/s"
    )
    print(f"unpackbits decoder: {r['reference_ms']:7.2f} ms  {r['reference_mb_s']:8.1f} MB/s")
    print(
        f"ratio vs unpackbits: {r['ratio_vs_reference']:.1f}x; vs ACOio ({r['acoio_mb_s']:g} MB/s): "
        f"{r['ratio_vs_acoio']:.1f}x (target >= {r['target_ratio_vs_acoio']:g}x)"
    )
    print(
        f"peak traced memory of read_file: {r['peak_mb']:.1f} MB = {r['peak_x_file']:.2f} x file size"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1758, help="records in the file (5 min)")
    ap.add_argument("--frac17", type=float, default=0.4, help="fraction of 17-bit runs")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    result = measure(records=args.records, frac17=args.frac17, repeats=args.repeats)
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
