"""Benchmark the synthetic archive: seconds per 5-minute file, real-time factor, event coverage.

Times the stages of one file (background, events, codec write) over several files, then writes
the ``demo`` archive (unless ``--no-demo``) and prints its wall time and the share of 5 s windows
that overlap a catalogued event, by season and HST evening vs the rest.

Run on one core:  OMP_NUM_THREADS=1 python benchmarks/bench_synth.py [--files 8] [--no-demo]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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


def time_files(n_files: int, out: Path) -> dict:
    """Median time (s) of each stage per 5-minute file over ``n_files`` whale-season files."""
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
    return {"files_timed": n_files, "background_s": statistics.median(bg_s),
            "render_s": statistics.median(render_s), "write_s": statistics.median(write_s),
            "total_s": total, "rtf": 300.0 / total}  # fmt: skip


def coverage(root: Path) -> dict:
    """Share of 5 s windows overlapping an event: overall, and per month and HST evening."""
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
        key = f"{nominal:%Y-%m} {'evening' if is_evening(nominal) else 'other'}"
        groups.setdefault(key, []).extend(hits)
    all_hits = [h for v in groups.values() for h in v]
    return {
        "share": float(np.mean(all_hits)), "windows": len(all_hits),
        "groups": {k: {"share": float(np.mean(v)), "windows": len(v)}
                   for k, v in sorted(groups.items())},
    }  # fmt: skip


def print_report(r: dict) -> None:
    t = r["files"]
    print(f"per 5-minute file (median of {t['files_timed']}):")
    print(f"  background        {t['background_s']:7.3f} s")
    print(f"  render (bg+events){t['render_s']:7.3f} s")
    print(f"  codec write       {t['write_s']:7.3f} s")
    print(f"  total             {t['total_s']:7.3f} s  -> real-time factor {t['rtf']:6.0f}x")
    if "demo" not in r:
        return
    d, c = r["demo"], r["coverage"]
    print(
        f"demo archive: {d['files']} files, {d['events']} events, "
        f"{d['faults']} faults in {d['wall_s']:.1f} s ({d['s_per_file']:.2f} s/file)"
    )
    print(f"windows overlapping an event: {100 * c['share']:.1f} % of {c['windows']}")
    for key, g in c["groups"].items():
        print(f"  {key:<15}  {100 * g['share']:5.1f} %  ({g['windows']} windows)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=6, help="files timed per stage")
    parser.add_argument("--no-demo", action="store_true", help="skip writing the demo archive")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    result: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        result["files"] = time_files(args.files, Path(tmp))
        if not args.no_demo:
            t0 = time.perf_counter()
            summary = write_archive(Path(tmp) / "demo", preset="demo", seed=0)
            wall = time.perf_counter() - t0
            result["demo"] = {"preset": "demo", "seed": 0, "files": summary.n_files,
                              "events": summary.n_events, "faults": summary.n_faults,
                              "wall_s": wall, "s_per_file": wall / summary.n_files}  # fmt: skip
            result["coverage"] = coverage(summary.root)
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
