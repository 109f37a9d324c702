"""Run the benchmarks and write ``docs/benchmarks.md`` from the figures they measure.

Usage::

    python benchmarks/report.py --work DIR [--out docs/benchmarks.md] [--run codec features ...]

Each benchmark runs as its own process (the single-core ones with ``OMP_NUM_THREADS=1``) and
writes its figures with ``--json DIR/<name>.json``; the machine facts (cores, CPU model, Python,
NumPy, torch, load average) are measured in the same run. ``--run`` picks which benchmarks run
now (default: codec, features, quality, synth); the others are read from ``DIR`` when an earlier
run left their JSON there (the document says when each was measured), so ``--run pipeline``
(``make bench-pipeline``) adds the full-day pipeline to the document without rerunning the rest.
Everything lands in ``DIR/benchmarks.json`` too (what the README's generated block quotes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: name -> (script, extra arguments, single core?)
BENCHES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "codec": ("bench_codec.py", (), True),
    "features": ("bench_features.py", (), True),
    "quality": ("bench_quality.py", (), True),
    "synth": ("bench_synth.py", (), True),
    "pipeline": ("bench_pipeline.py", ("--workers", "2"), False),
}
DEFAULT_RUN = ("codec", "features", "quality", "synth")
SINGLE_CORE_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, else ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_facts() -> dict[str, Any]:
    """Cores, CPU, Python, NumPy and torch versions and the load average, measured now."""
    import numpy as np

    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    return {
        "measured_at": dt.datetime.now().isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "system": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch_version,
        "load_avg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def run_bench(name: str, work: Path) -> dict[str, Any]:
    """Run one benchmark (its output goes to this terminal); returns its figures."""
    script, extra, single_core = BENCHES[name]
    out = work / f"{name}.json"
    argv = [sys.executable, str(HERE / script), *extra, "--json", str(out)]
    if name == "pipeline":
        argv += ["--work", str(work / "pipeline")]
    env = {**os.environ, **(SINGLE_CORE_ENV if single_core else {})}
    facts = machine_facts()
    print(f"--- benchmarks/{script}", flush=True)
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, env=env)
    figures = json.loads(out.read_text())
    facts["load_avg_1min_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    figures["machine"], figures["bench_wall_s"] = facts, time.perf_counter() - t0
    out.write_text(json.dumps(figures, indent=2))
    return figures


def collect(work: Path, run: list[str]) -> dict[str, Any]:
    """Run the benchmarks of ``run``, read the others' earlier JSON; returns the whole report."""
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"machine": machine_facts(), "ran": list(run)}
    for name in BENCHES:
        if name in run:
            report[name] = run_bench(name, work)
        elif (work / f"{name}.json").exists():
            report[name] = json.loads((work / f"{name}.json").read_text())
    return report


def main(argv: list[str] | None = None) -> int:
    from benchmarks.report_markdown import benchmarks_markdown

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, required=True, help="folder of the per-benchmark JSON")
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    p.add_argument("--run", nargs="+", choices=sorted(BENCHES), default=list(DEFAULT_RUN))
    args = p.parse_args(argv)
    report = collect(args.work, args.run)
    (args.work / "benchmarks.json").write_text(json.dumps(report, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(benchmarks_markdown(report))
    print(f"wrote {args.out} and {args.work / 'benchmarks.json'} (ran: {', '.join(args.run)})")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))  # `python benchmarks/report.py` from the project root
    raise SystemExit(main())
