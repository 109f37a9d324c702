"""``aco synth``: write a synthetic ACO archive with its ground-truth tables."""

from __future__ import annotations

import argparse
import collections
import time
from datetime import date

from .archive import PRESETS, SynthError, write_archive
from .catalog import read_catalog, read_faults


def _describe(args: argparse.Namespace) -> int:
    from .describe import describe, update_docs

    if args.sounds is None:
        print("aco synth: --describe needs --sounds DIR (the recordings folder)")
        return 2
    try:
        if args.docs:
            print(f"updated {update_docs(args.sounds, args.docs)}")
        else:
            print(describe(args.sounds))
    except SynthError as e:
        print(f"aco synth: {e}")
        return 2
    return 0


def _synth(args: argparse.Namespace) -> int:
    if args.describe:
        return _describe(args)
    if args.out is None:
        print("aco synth: --out DIR is required")
        return 2
    began = time.perf_counter()
    try:
        summary = write_archive(
            args.out,
            preset=args.preset,
            start=args.start,
            days=args.days,
            files_per_day=args.files_per_day,
            seed=args.seed,
            faults=args.faults,
            sounds=args.sounds,
            progress=not args.quiet,
        )
    except SynthError as e:
        print(f"aco synth: {e}")
        return 2
    events = collections.Counter(read_catalog(summary.root)["class"].to_pylist())
    faults = collections.Counter(read_faults(summary.root)["class"].to_pylist())
    print(
        f"{summary.root}: {summary.n_files} files over {len(summary.days)} days "
        f"in {time.perf_counter() - began:.0f} s"
    )
    print(f"  events  {summary.catalog_path} (+ .csv, {summary.n_events} rows)")
    for label, count in sorted(events.items()):
        print(f"    {label:<15} {count}")
    print(f"  faults  {summary.faults_path} (+ .csv, {summary.n_faults} rows)")
    for label, count in sorted(faults.items()):
        print(f"    {label:<15} {count}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``synth`` to the ``aco`` command line."""
    p = subparsers.add_parser(
        "synth",
        help="write a synthetic ACO archive with a ground-truth catalog",
        description="Write .HYD24BBpk files in the YYYY/MM/DD tree plus catalog.parquet/.csv "
        "(events), faults.parquet/.csv and archive.json. Same seed, same bytes. The realistic "
        "preset builds its files from the real recordings in --sounds DIR.",
    )
    p.add_argument("--out", help="archive root to write")
    p.add_argument("--preset", choices=sorted(PRESETS), default="demo", help="archive shape")
    p.add_argument(
        "--sounds", help="recordings folder laid out like shared/data (realistic preset)"
    )
    p.add_argument(
        "--describe",
        action="store_true",
        help="print what the realistic preset measures in --sounds (background seconds kept, "
        "calls cut, ping period) and exit",
    )
    p.add_argument(
        "--docs",
        help="with --describe: rewrite the marked section of this Markdown file instead of printing",
    )
    p.add_argument("--start", type=date.fromisoformat, help="first day, YYYY-MM-DD")
    p.add_argument("--days", type=int, help="number of consecutive days")
    p.add_argument("--files-per-day", type=int, help="files per day, 1-288")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    faults = p.add_mutually_exclusive_group()
    faults.add_argument(
        "--faults",
        dest="faults",
        action="store_true",
        default=None,
        help="inject a missing file, a truncated file and a corrupt width",
    )
    faults.add_argument("--no-faults", dest="faults", action="store_false", help="inject none")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_synth)
