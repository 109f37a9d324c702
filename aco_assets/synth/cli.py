"""``aco synth``: write a synthetic ACO archive with its ground-truth catalog."""

from __future__ import annotations

import argparse
import collections
from datetime import date

from .archive import PRESETS, SynthError, write_archive
from .catalog import read_catalog


def _synth(args: argparse.Namespace) -> int:
    try:
        summary = write_archive(
            args.out,
            preset=args.preset,
            start=args.start,
            days=args.days,
            files_per_day=args.files_per_day,
            seed=args.seed,
            faults=args.faults,
            progress=not args.quiet,
        )
    except SynthError as e:
        print(f"aco synth: {e}")
        return 2
    labels = collections.Counter(read_catalog(summary.root)["label"].to_pylist())
    print(f"{summary.root}: {summary.n_files} files over {len(summary.days)} days")
    print(
        f"  catalog  {summary.catalog_path} ({summary.n_events} events, {summary.n_faults} faults)"
    )
    for label, count in sorted(labels.items()):
        print(f"    {label:<15} {count}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``synth`` to the ``aco`` command line."""
    p = subparsers.add_parser(
        "synth",
        help="write a synthetic ACO archive with a ground-truth catalog",
        description="Write .HYD24BBpk files in the YYYY/MM/DD tree plus catalog.parquet and "
        "archive.json (the events and faults placed). Same seed, same bytes.",
    )
    p.add_argument("--out", required=True, help="archive root to write")
    p.add_argument("--preset", choices=sorted(PRESETS), default="demo", help="archive shape")
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
