"""Benchmark: train and score the detector on spectrogram-shaped windows on the CPU.

Prints the seconds per stage for N random (1, 64, 32) windows with ``TrainConfig.quick()`` (or
the default schedule), so the pipeline's CPU budget can be checked::

    python -m ml.experiments.bench_windows --n 10000 --threads 2 [--default]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ml.config import DetectorConfig, TrainConfig
from ml.trainer import fit_detector


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(prog="python -m ml.experiments.bench_windows")
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--default", action="store_true", help="default schedule instead of quick")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    shape = (1, 64, 32)
    x = (rng.normal(size=(args.n, *shape)) + np.linspace(0, 3, 64)[None, None, :, None]).astype(
        np.float32
    )  # (N, 1, 64, 32) log-power-like
    train = TrainConfig.default() if args.default else TrainConfig.quick()
    t0 = time.perf_counter()
    fitted = fit_detector(x, x[: args.n // 2], config=DetectorConfig(input_shape=shape),
                          train=train)  # fmt: skip
    t1 = time.perf_counter()
    fitted.score(x)
    t2 = time.perf_counter()
    out = {"n_windows": float(args.n), "threads": float(args.threads), "fit_s": t1 - t0,
           "score_s": t2 - t1, "score_windows_per_s": args.n / (t2 - t1)}  # fmt: skip
    print(" ".join(f"{k}={v:.4g}" for k, v in out.items()))  # noqa: T201  (benchmark output)
    return out


if __name__ == "__main__":
    main()
