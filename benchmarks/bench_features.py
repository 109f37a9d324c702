"""Benchmark of the spectrogram front end on 5-minute ACO files, against a floor of the same run.

Usage: ``python benchmarks/bench_features.py [--files 5] [--repeats 3] [--day-files 4]``

CPU seconds (``time.process_time``) with BLAS/OpenMP threads pinned to 1 and one FFT thread, so
that other processes on the machine (which make wall times noisy) count less. Two parts:

* **arrays**: ``FrontEnd.windows`` alone on synthetic 7.2M-sample float64 arrays: seconds per
  file (mean and min over runs), samples per second, x real time and the peak memory the front
  end allocates (tracemalloc, NumPy buffers). Target: <= 0.1 s per file on one core.
* **files**: ``--day-files`` files of a synthetic archive day (``aco_assets.synth``, preset
  ``full``) written to a temporary folder, then, per file and interleaved, repeated ``--repeats``
  times with the production config (5 s windows, file-median normalisation):

  - the *floor*: read + decode + Hann-window rfft frames (the main path's frame length and hop)
    + log power of every bin: what any spectrogram of these files costs;
  - read + decode alone;
  - the *front end*: read + decode + ``FrontEnd.windows`` on the decoder's int32 counts and valid
    mask, and, as ``processing.file_windows`` prepares them today, on a float64 copy with NaN;
  - ``find_quality_issues`` on the decoded file;
  - ``processing.file_windows`` whole (decode, front end, quality, window rows).

  Prints per-file medians, the ratio front end / floor (target <= 1.5) and x real time.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.fft  # noqa: E402
import scipy.signal  # noqa: E402

from aco_assets.signal.features import FrontEnd, FrontEndConfig  # noqa: E402

SAMPLE_RATE_HZ = 24000
FILE_SAMPLES = 7_200_000  # one 5-minute file
FILE_S = FILE_SAMPLES / SAMPLE_RATE_HZ
TARGET_RATIO = 1.5
PRODUCTION = FrontEndConfig(window_s=5.0, normalise="file_median")


def synthetic_file(rng: np.random.Generator) -> np.ndarray:
    """A file's counts (7.2M,) float64: noise, a slow +-8e4 offset wander, one lost record."""
    t = np.arange(FILE_SAMPLES) / SAMPLE_RATE_HZ
    x = rng.standard_normal(FILE_SAMPLES) * 5000 + 8e4 * np.sin(2 * np.pi * 0.1 * t)
    x[1_000_000 : 1_000_000 + 4096] = np.nan
    return x


def measure(*, n_files: int, repeats: int) -> dict:
    """Time the front end on ``n_files`` arrays ``repeats`` times; returns the figures."""
    front_end = FrontEnd()
    rng = np.random.default_rng(0)
    files = [synthetic_file(rng) for _ in range(2)]
    front_end.windows(files[0])  # warm up (FFT plans, caches)
    per_file = []
    for _ in range(repeats):
        for i in range(n_files):
            t0 = time.process_time()
            front_end.windows(files[i % len(files)])
            per_file.append(time.process_time() - t0)
    tracemalloc.start()
    out = front_end.windows(files[0])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    mean_s, min_s = float(np.mean(per_file)), float(np.min(per_file))
    return {
        "files_timed": len(per_file), "samples_per_file": FILE_SAMPLES, "file_s": FILE_S,
        "n_windows": int(out.n_windows), "feature_shape": list(front_end.feature_shape),
        "mean_s": mean_s, "min_s": min_s, "target_s": 0.1,
        "samples_per_s_mean": FILE_SAMPLES / mean_s, "samples_per_s_best": FILE_SAMPLES / min_s,
        "rtf_mean": FILE_S / mean_s, "rtf_best": FILE_S / min_s, "day_s": 288 * mean_s,
        "peak_mib": peak / 2**20, "peak_x_input": peak / files[0].nbytes,
        "input_mib": files[0].nbytes / 2**20,
    }  # fmt: skip


def floor_spectrogram(path: Path, config: FrontEndConfig, *, chunk_windows: int = 2) -> float:
    """The floor: read, decode, Hann rfft frames and 10 log10 power of every bin of one file.

    Frames of ``config.nfft`` samples every ``config.hop_samples`` within each window, as the
    front end's main path, batched ``chunk_windows`` windows at a time into one reused buffer;
    the power is floored at ``config.floor_db`` before the log. Returns a checksum.
    """
    from aco_assets.hydrophone import read_file

    raw = read_file(path, on_fault="skip")
    x = raw.samples.astype(np.float32)  # (n,)
    w = int(round(config.window_s * config.sample_rate_hz))
    n, m = len(x) // w, (w - config.nfft) // config.hop_samples + 1
    s = x.strides[0]
    frames = np.lib.stride_tricks.as_strided(
        x, shape=(n, m, config.nfft), strides=(w * s, config.hop_samples * s, s), writeable=False
    )  # (N, M, nfft)
    hann = scipy.signal.get_window("hann", config.nfft).astype(np.float32)
    buf = np.empty((chunk_windows, m, config.nfft), np.float32)
    floor, to_db = np.float32(10.0 ** (config.floor_db / 10)), np.float32(10 / np.log(10))
    checksum = 0.0
    for i in range(0, n, chunk_windows):
        c = min(chunk_windows, n - i)
        spec = scipy.fft.rfft(np.multiply(frames[i : i + c], hann, out=buf[:c]), axis=-1)
        power = np.square(spec.real)  # (c, M, nfft // 2 + 1)
        power += np.square(spec.imag)
        db = np.log(np.maximum(power, floor, out=power), out=power)
        db *= to_db
        checksum += float(db[0, 0, 1])
    return checksum


def _cpu_s(fn, *args, **kwargs) -> float:
    t0 = time.process_time()
    fn(*args, **kwargs)
    return time.process_time() - t0


def _front_end_int(path: Path, front_end: FrontEnd) -> None:
    from aco_assets.hydrophone import read_file

    raw = read_file(path, on_fault="skip")
    front_end.windows(raw.samples, valid=raw.valid)


def _front_end_float(path: Path, front_end: FrontEnd) -> None:
    from aco_assets.hydrophone import read_file

    raw = read_file(path, on_fault="skip")
    samples = raw.samples.astype(np.float64)
    samples[~raw.valid] = np.nan
    front_end.windows(samples)


def _quality(raw) -> None:
    from aco_assets.signal.processing import quality_issues

    quality_issues(raw)


def measure_files(*, n_files: int, repeats: int) -> dict:
    """Per-file CPU seconds of the floor and the per-file work on a synthetic archive day."""
    from aco_assets.hydrophone import read_file
    from aco_assets.signal.processing import file_windows
    from aco_assets.synth import write_archive

    front_end = FrontEnd(PRODUCTION)
    times: dict[str, list[float]] = {
        k: [] for k in ("floor", "decode", "front_end", "front_end_float", "quality", "per_file")
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_archive(root, preset="full", days=1, files_per_day=n_files)
        paths = sorted(root.rglob("*.HYD24BBpk"))
        floor_spectrogram(paths[0], PRODUCTION)  # warm up (imports, FFT plans)
        file_windows(paths[0], root, PRODUCTION)
        for _ in range(repeats):
            for path in paths:
                times["floor"].append(_cpu_s(floor_spectrogram, path, PRODUCTION))
                times["decode"].append(_cpu_s(read_file, path, on_fault="skip"))
                times["front_end"].append(_cpu_s(_front_end_int, path, front_end))
                times["front_end_float"].append(_cpu_s(_front_end_float, path, front_end))
                times["quality"].append(_cpu_s(_quality, read_file(path, on_fault="skip")))
                times["per_file"].append(_cpu_s(file_windows, path, root, PRODUCTION))
    med = {k: float(np.median(v)) for k, v in times.items()}
    best = {k: float(np.min(v)) for k, v in times.items()}
    return {
        "files": len(paths), "repeats": repeats, "file_s": FILE_S,
        "median_s": med, "min_s": best, "target_ratio": TARGET_RATIO,
        "ratio_front_end": med["front_end"] / med["floor"],
        "ratio_front_end_float": med["front_end_float"] / med["floor"],
        "ratio_per_file": med["per_file"] / med["floor"],
        "rtf": {k: FILE_S / v for k, v in med.items()},
        "day_per_file_s_2_cores": 288 * med["per_file"] / 2,
    }  # fmt: skip


def print_report(r: dict) -> None:
    print(
        f"front end, one core, {r['files_timed']} arrays of {r['samples_per_file']} samples "
        f"({r['file_s']:.0f} s), CPU time"
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
    f = r.get("files_part")
    if not f:
        return
    print(
        f"files of a synthetic day ({f['files']} files x {f['repeats']} runs, production config), "
        "CPU s per file, median (min), x real time:"
    )
    rows = (
        ("floor: read + decode + Hann rfft + log power", "floor"),
        ("  read + decode", "decode"),
        ("front end: read + decode + windows(int32, valid)", "front_end"),
        ("  as file_windows calls it (float64 + NaN)", "front_end_float"),
        ("quality issues (decoded file)", "quality"),
        ("processing.file_windows whole", "per_file"),
    )
    for label, key in rows:
        print(
            f"  {label:50s} {f['median_s'][key]:.4f} ({f['min_s'][key]:.4f})  {f['rtf'][key]:6.0f}x"
        )
    ok = "met" if f["ratio_front_end"] <= f["target_ratio"] else "NOT met"
    print(
        f"  front end / floor {f['ratio_front_end']:.2f} (target <= {f['target_ratio']:g}: {ok}); "
        f"as called today {f['ratio_front_end_float']:.2f}; "
        f"file_windows / floor {f['ratio_per_file']:.2f}"
    )
    print(f"  a 288-file day of file_windows on 2 cores: {f['day_per_file_s_2_cores']:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5, help="arrays per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs")
    parser.add_argument("--day-files", type=int, default=4, help="archive files (0: skip)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    result = measure(n_files=args.files, repeats=args.repeats)
    if args.day_files:
        result["files_part"] = measure_files(n_files=args.day_files, repeats=args.repeats)
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
