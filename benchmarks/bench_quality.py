"""Time find_quality_issues on one 5-minute ACO file (7.2 million samples) of realistic counts.

Run with one thread: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_quality.py``.
Prints the median CPU time per file (``time.process_time``: other processes on the machine count
less than in wall time) and the real-time factor.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from aco_assets.signal.quality import find_quality_issues

FS, SPR, SECONDS = 24000, 4096, 300.0


def measure(repeats: int = 7) -> dict:
    """Median CPU time of find_quality_issues on one file; returns the figures."""
    rng = np.random.default_rng(0)
    n = int(SECONDS * FS)
    t = np.arange(n) / FS
    x = np.round(6e4 * np.sin(2 * np.pi * 0.12 * t) + rng.normal(0, 3500, n)).astype(np.int32)
    x[1_000_000:1_004_800] = 0  # one dropout, so that every path runs
    valid = np.ones(n, bool)
    n_rec = -(-n // SPR)
    bits = np.full(n_rec, 18, np.uint8)  # the minimal width of these values
    t0 = datetime(2017, 3, 1)
    times = np.datetime64(t0, "ns") + (np.arange(n_rec) * SPR / FS * 1e9).astype("timedelta64[ns]")
    runs = []
    for _ in range(repeats):
        start = time.process_time()
        issues = find_quality_issues(
            x, valid, start_utc=t0, sample_rate_hz=FS, bits=bits, record_times_utc=times
        )
        runs.append(time.process_time() - start)
    med = float(np.median(runs))
    return {"samples": n, "issues": len(issues), "repeats": repeats, "median_ms": med * 1e3,
            "rtf": SECONDS / med}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    r = measure(args.repeats)
    print(f"find_quality_issues: {r['samples']} samples, {r['issues']} issue(s)")
    print(f"median {r['median_ms']:.1f} ms per 5-minute file, {r['rtf']:,.0f}x real time")
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
