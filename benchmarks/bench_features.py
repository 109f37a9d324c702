"""Benchmark of the spectrogram front end on 5-minute ACO-like files.

Usage: ``python benchmarks/bench_features.py [--files 5] [--repeats 3]``

Prints seconds per file (mean and min over runs), samples per second, the real-time factor and
the peak memory the front end allocates (tracemalloc, NumPy buffers), with BLAS/OpenMP threads
pinned to 1. Target: <= 0.1 s per 7.2M-sample file on one core. Other processes on the machine
make single runs noisy; the min is the figure to compare.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from aco_assets.features import FrontEnd  # noqa: E402

SAMPLE_RATE_HZ = 24000
FILE_SAMPLES = 7_200_000  # one 5-minute file


def synthetic_file(rng: np.random.Generator) -> np.ndarray:
    """A file's counts (7.2M,) float64: noise, a slow +-8e4 offset wander, one lost record."""
    t = np.arange(FILE_SAMPLES) / SAMPLE_RATE_HZ
    x = rng.standard_normal(FILE_SAMPLES) * 5000 + 8e4 * np.sin(2 * np.pi * 0.1 * t)
    x[1_000_000 : 1_000_000 + 4096] = np.nan
    return x


def measure(*, n_files: int, repeats: int) -> dict:
    """Time the front end on ``n_files`` files ``repeats`` times; returns the figures."""
    front_end = FrontEnd()
    rng = np.random.default_rng(0)
    files = [synthetic_file(rng) for _ in range(2)]
    front_end.windows(files[0])  # warm up (FFT plans, caches)
    per_file = []
    for _ in range(repeats):
        for i in range(n_files):
            t0 = time.perf_counter()
            front_end.windows(files[i % len(files)])
            per_file.append(time.perf_counter() - t0)
    tracemalloc.start()
    out = front_end.windows(files[0])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    mean_s, min_s = float(np.mean(per_file)), float(np.min(per_file))
    file_s = FILE_SAMPLES / SAMPLE_RATE_HZ
    return {
        "files_timed": len(per_file), "samples_per_file": FILE_SAMPLES, "file_s": file_s,
        "n_windows": int(out.n_windows), "feature_shape": list(front_end.feature_shape),
        "mean_s": mean_s, "min_s": min_s, "target_s": 0.1,
        "samples_per_s_mean": FILE_SAMPLES / mean_s, "samples_per_s_best": FILE_SAMPLES / min_s,
        "rtf_mean": file_s / mean_s, "rtf_best": file_s / min_s, "day_s": 288 * mean_s,
        "peak_mib": peak / 2**20, "peak_x_input": peak / files[0].nbytes,
        "input_mib": files[0].nbytes / 2**20,
    }  # fmt: skip


def print_report(r: dict) -> None:
    print(
        f"front end, one core, {r['files_timed']} files of {r['samples_per_file']} samples "
        f"({r['file_s']:.0f} s)"
    )
    print(f"  windows per file     {r['n_windows']} x {tuple(r['feature_shape'])}")
    print(f"  s/file   mean {r['mean_s']:.4f}  min {r['min_s']:.4f}  (target <= {r['target_s']:g})")
    print(f"  samples/s mean {r['samples_per_s_mean']:.3g}  best {r['samples_per_s_best']:.3g}")
    print(f"  real-time factor mean {r['rtf_mean']:.0f}x  best {r['rtf_best']:.0f}x")
    print(f"  a 288-file day: {r['day_s']:.1f} s")
    print(
        f"  peak allocation {r['peak_mib']:.0f} MiB ({r['peak_x_input']:.1f}x the "
        f"{r['input_mib']:.0f} MiB float64 input)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5, help="files per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    result = measure(n_files=args.files, repeats=args.repeats)
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
