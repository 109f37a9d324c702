"""``aco info`` and ``aco coverage``: look at HYD24BBpk files and archive coverage."""

from __future__ import annotations

import argparse
from datetime import date, timedelta

import numpy as np

from .archive import Archive
from .codec import read_file


def _info(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            raw = read_file(path, on_fault="skip")
        except OSError as e:
            print(f"{path}: cannot read: {e}")
            status = 1
            continue
        values, counts = np.unique(raw.bits, return_counts=True)
        widths = ", ".join(f"{b} bits x {n}" for b, n in zip(values, counts, strict=True))
        print(f"{path}")
        print(f"  records      {raw.n_records} (layout {raw.layout}, {raw.n_samples} samples)")
        print(f"  widths       {widths or '-'}")
        print(f"  name start   {raw.nominal_start_utc or '-'}")
        print(f"  header start {raw.start_utc or '-'}")
        if raw.n_records:
            end = raw.start_utc + timedelta(seconds=raw.duration_s)
            print(f"  header end   {end}")
            if raw.nominal_start_utc is not None:
                off = (raw.start_utc - raw.nominal_start_utc).total_seconds()
                print(f"  header-name  {off:+.6f} s")
        print(f"  duration     {raw.duration_s:.3f} s")
        print(f"  missing      {int((~raw.valid).sum())} samples")
        print(f"  faults       {len(raw.faults)}")
        for f in raw.faults[: args.max_faults]:
            print(
                f"    {f.kind:<17} record {f.record if f.record is not None else '-'}: "
                f"{f.message.split(': ', 2)[-1]}"
            )
        if len(raw.faults) > args.max_faults:
            print(f"    ... {len(raw.faults) - args.max_faults} more")
        status = status or (1 if raw.faults else 0)
    return status


def _coverage(args: argparse.Namespace) -> int:
    archive = Archive(args.root)
    if not archive.root.is_dir():
        print(f"{archive.root}: no such directory")
        return 2
    print(archive.coverage_report(args.start, args.end, check_headers=not args.names_only))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``info`` and ``coverage`` to the ``aco`` command line."""
    p = subparsers.add_parser(
        "info",
        help="records, widths, times, duration and faults of HYD24BBpk files",
        description="Decode HYD24BBpk files and print what they hold. Exit status 1 if any "
        "file has a fault.",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--max-faults", type=int, default=20, help="faults listed per file")
    p.set_defaults(func=_info)

    p = subparsers.add_parser(
        "coverage",
        help="files expected, found, missing and faulty per day of an archive",
        description="One line per UTC day of the archive under ROOT (a YYYY/MM/DD tree).",
    )
    p.add_argument("root", metavar="ROOT")
    p.add_argument(
        "--from", dest="start", type=date.fromisoformat, metavar="DAY", help="first day, YYYY-MM-DD"
    )
    p.add_argument(
        "--to",
        dest="end",
        type=date.fromisoformat,
        metavar="DAY",
        help="last day, YYYY-MM-DD (inclusive)",
    )
    p.add_argument(
        "--names-only",
        action="store_true",
        help="count files by name only; do not check headers for faults",
    )
    p.set_defaults(func=_coverage)


__all__ = ["register"]
