"""Benchmark the synthetic archive: seconds per 5-minute file, real-time factor, event coverage.

Times the stages of one file (background, events, codec write) over several files, then writes
the ``demo`` archive (unless ``--no-demo``) and prints its wall time and the share of 5 s windows
that overlap a catalogued event, by season and HST evening vs the rest.

Run on one core:  OMP_NUM_THREADS=1 python benchmarks/bench_synth.py [--files 8] [--no-demo]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402

from aco_assets.hydrophone import SAMPLES_PER_RECORD, write_file  # noqa: E402
from aco_assets.synth import read_catalog, write_archive  # noqa: E402
from aco_assets.synth.render import render_file  # noqa: E402
from aco_assets.synth.schedule import conditions, is_evening  # noqa: E402
from aco_assets.synth.soundscape import background  # noqa: E402

WINDOW_S = 5.0
N_SAMPLES = 1758 * SAMPLES_PER_RECORD


def time_files(n_files: int, out: Path) -> None:
    """Print the median time of each stage per 5-minute file over ``n_files`` whale-season files."""
    bg_s, render_s, write_s = [], [], []
    for i in range(n_files):
        start = dt.datetime(2017, 3, 14, 5) + i * dt.timedelta(minutes=5)
        rng = np.random.default_rng(i)
        t0 = time.perf_counter()
        background(N_SAMPLES, rng, params=conditions(start, rng))
        t1 = time.perf_counter()
        samples, placed = render_file(start, N_SAMPLES, np.random.default_rng(i))
        t2 = time.perf_counter()
        write_file(out / f"f{i}.HYD24BBpk", samples, start_utc=start, layout="B")
        t3 = time.perf_counter()
        bg_s.append(t1 - t0)
        render_s.append(t2 - t1)
        write_s.append(t3 - t2)
    total = statistics.median(r + w for r, w in zip(render_s, write_s, strict=True))
    print(f"per 5-minute file (median of {n_files}):")
    print(f"  background        {statistics.median(bg_s):7.3f} s")
    print(f"  render (bg+events){statistics.median(render_s):7.3f} s")
    print(f"  codec write       {statistics.median(write_s):7.3f} s")
    print(f"  total             {total:7.3f} s  -> real-time factor {300.0 / total:6.0f}x")


def coverage(root: Path) -> None:
    """Print the share of 5 s windows overlapping an event, by month and by HST evening."""
    events = read_catalog(root).to_pylist()
    by_file: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}
    for e in events:
        by_file.setdefault(e["file"], []).append((e["start_utc"], e["end_utc"]))
    groups: dict[str, list[bool]] = {}
    for path in sorted(root.rglob("*.HYD24BBpk")):
        rel = path.relative_to(root).as_posix()
        nominal = dt.datetime.strptime(path.name[:17], "%Y-%m-%d--%H.%M")
        hits = []
        for k in range(int(300 / WINDOW_S)):
            w0 = nominal + dt.timedelta(seconds=k * WINDOW_S)
            w1 = w0 + dt.timedelta(seconds=WINDOW_S)
            hits.append(any(s < w1 and e > w0 for s, e in by_file.get(rel, [])))
        key = f"{nominal:%Y-%m} {'evening' if is_evening(nominal) else 'other  '}"
        groups.setdefault(key, []).extend(hits)
    all_hits = [h for v in groups.values() for h in v]
    print(f"windows overlapping an event: {100 * np.mean(all_hits):.1f} % of {len(all_hits)}")
    for key, hits in sorted(groups.items()):
        print(f"  {key}  {100 * np.mean(hits):5.1f} %  ({len(hits)} windows)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=6, help="files timed per stage")
    parser.add_argument("--no-demo", action="store_true", help="skip writing the demo archive")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        time_files(args.files, Path(tmp))
        if args.no_demo:
            return
        t0 = time.perf_counter()
        summary = write_archive(Path(tmp) / "demo", preset="demo", seed=0)
        wall = time.perf_counter() - t0
        print(
            f"demo archive: {summary.n_files} files, {summary.n_events} events, "
            f"{summary.n_faults} faults in {wall:.1f} s ({wall / summary.n_files:.2f} s/file)"
        )
        coverage(summary.root)


if __name__ == "__main__":
    main()
