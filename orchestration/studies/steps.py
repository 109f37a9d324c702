"""One step of ``make results``: run a command, say so, and record how long it took.

Usage::

    python -m orchestration.studies.steps NAME --timings FILE [--of N/M] -- COMMAND [ARG ...]

Prints a header before the command (its own output follows, so long steps show their progress)
and the wall time after it, and adds ``NAME -> {seconds, finished}`` to ``FILE`` (JSON; the
README's ``timings`` block quotes it). Exits with the command's status; a failing step names
itself.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["record_step", "main"]


def record_step(timings: Path, name: str, seconds: float, *, command: list[str]) -> dict[str, Any]:
    """Add one step to the timings file (created when missing); returns its new content."""
    data = json.loads(timings.read_text()) if timings.exists() else {"steps": {}}
    now = dt.datetime.now().isoformat(timespec="seconds")
    data["steps"][name] = {"seconds": seconds, "finished": now, "command": " ".join(command)}
    data |= {"finished": now, "cores": os.cpu_count()}
    timings.parent.mkdir(parents=True, exist_ok=True)
    timings.write_text(json.dumps(data, indent=2))
    return data


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m orchestration.studies.steps", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("name", help="the step's name in the timings file")
    p.add_argument("--timings", type=Path, required=True, help="JSON file of step times")
    p.add_argument("--of", default="", help="position, e.g. 2/8, shown in the header")
    if "--" not in argv:
        p.error("give the command after --")
    cut = argv.index("--")
    args, command = p.parse_args(argv[:cut]), argv[cut + 1 :]
    if not command:
        p.error("give the command after --")
    where = f" [{args.of}]" if args.of else ""
    print(f"\n=== make results{where}: {args.name} ({dt.datetime.now():%H:%M:%S})", flush=True)
    print("$ " + " ".join(command), flush=True)
    t0 = time.perf_counter()
    status = subprocess.run(command).returncode
    seconds = time.perf_counter() - t0
    if status != 0:
        print(f"=== make results: step {args.name} failed (exit {status}) after {seconds:.0f} s")
        return status
    record_step(args.timings, args.name, seconds, command=command)
    print(f"=== {args.name}: done in {seconds / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
