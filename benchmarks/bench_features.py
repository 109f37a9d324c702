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
import time  # noqa: E402
import tracemalloc  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5, help="files per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs")
    args = parser.parse_args()

    front_end = FrontEnd()
    rng = np.random.default_rng(0)
    files = [synthetic_file(rng) for _ in range(2)]
    front_end.windows(files[0])  # warm up (FFT plans, caches)

    per_file = []
    for _ in range(args.repeats):
        for i in range(args.files):
            t0 = time.perf_counter()
            front_end.windows(files[i % len(files)])
            per_file.append(time.perf_counter() - t0)
    tracemalloc.start()
    out = front_end.windows(files[0])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    mean_s, min_s = float(np.mean(per_file)), float(np.min(per_file))
    file_s = FILE_SAMPLES / SAMPLE_RATE_HZ
    input_mb = files[0].nbytes / 2**20
    print(f"front end, one core, {len(per_file)} files of {FILE_SAMPLES} samples ({file_s:.0f} s)")
    print(f"  windows per file     {out.n_windows} x {front_end.feature_shape}")
    print(f"  s/file   mean {mean_s:.4f}  min {min_s:.4f}  (target <= 0.1)")
    print(f"  samples/s mean {FILE_SAMPLES / mean_s:.3g}  best {FILE_SAMPLES / min_s:.3g}")
    print(f"  real-time factor mean {file_s / mean_s:.0f}x  best {file_s / min_s:.0f}x")
    print(f"  a 288-file day: {288 * mean_s:.1f} s")
    print(
        f"  peak allocation {peak / 2**20:.0f} MiB ({peak / files[0].nbytes:.1f}x the "
        f"{input_mb:.0f} MiB float64 input)"
    )


if __name__ == "__main__":
    main()
