"""`aco pipeline`, `aco demo`, `aco ui`, `aco sql`, `aco snapshot`: the lineage from a shell."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

from aco_assets.layout import DataLayout

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {text!r}") from e


def _data_args(p: argparse.ArgumentParser, *, archive: bool = True) -> None:
    p.add_argument("--data", help="data directory (default: $ACO_DATA_DIR, else ./data)")
    if archive:
        p.add_argument(
            "--archive", help="archive root (default: $ACO_ARCHIVE_ROOT, else <data>/archive)"
        )


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "pipeline", help="materialize the whole lineage for an archive and a day range"
    )
    _data_args(p)
    p.add_argument(
        "--from", dest="first_day", type=_day, help="first UTC day (default: the archive's first)"
    )
    p.add_argument(
        "--to", dest="last_day", type=_day, help="last UTC day (default: the archive's last)"
    )
    p.add_argument(
        "--retrain",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train a new detector version (default: only when there is no champion yet)",
    )
    p.add_argument(
        "--detector-config",
        type=json.loads,
        default=None,
        help='JSON overrides of the detector config, e.g. \'{"schedule": "default"}\'',
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument(
        "--false-alarms-per-hour",
        type=float,
        help="false-alarm budget of a new detector: alarms per hour of audio (default 1)",
    )
    budget.add_argument(
        "--false-alarms-per-day", type=float, help="the same budget per day of audio"
    )
    p.add_argument(
        "--typical-config",
        type=json.loads,
        default=None,
        help="JSON overrides of the typical selection, e.g. '{\"low_traffic_months\": [7, 8]}'",
    )
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="decoding processes")
    p.set_defaults(func=cmd_pipeline)

    p = subparsers.add_parser(
        "demo", help="write the synthetic demo archive (once) and run the pipeline on it"
    )
    _data_args(p, archive=False)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.set_defaults(func=cmd_demo)

    p = subparsers.add_parser("ui", help="start the Dagster UI (dagster dev) on 127.0.0.1")
    _data_args(p)
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=cmd_ui)

    p = subparsers.add_parser("sql", help="run a read-only SQL query on the warehouse")
    _data_args(p, archive=False)
    p.add_argument("query")
    p.set_defaults(func=cmd_sql)

    p = subparsers.add_parser(
        "snapshot", help="copy the warehouse to a file you can keep open during runs"
    )
    _data_args(p, archive=False)
    p.add_argument("--out", help="target file (default: <data>/aco-snapshot.duckdb)")
    p.set_defaults(func=cmd_snapshot)


def cmd_pipeline(args: argparse.Namespace) -> int:
    from orchestration.report import pipeline_summary
    from orchestration.runner import run_pipeline

    layout = DataLayout.resolve(data_dir=args.data, archive_root=args.archive)
    detector_config = dict(args.detector_config or {})
    if getattr(args, "false_alarms_per_hour", None) is not None:
        detector_config["false_alarms_per_hour"] = args.false_alarms_per_hour
    if getattr(args, "false_alarms_per_day", None) is not None:
        detector_config["false_alarms_per_day"] = args.false_alarms_per_day
    result = run_pipeline(
        layout,
        first_day=args.first_day,
        last_day=args.last_day,
        retrain=args.retrain,
        detector_config=detector_config or None,
        typical_config=args.typical_config,
        workers=args.workers,
    )
    print(pipeline_summary(layout, result.days))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from aco_assets.synth import write_archive

    layout = DataLayout.resolve(data_dir=args.data)
    if not (layout.archive_root / "catalog.parquet").exists():
        print(f"writing the synthetic demo archive to {layout.archive_root} ...", flush=True)
        summary = write_archive(layout.archive_root, preset="demo", seed=args.seed, progress=True)
        print(f"  {summary.n_files} files, {summary.n_events} catalog events", flush=True)
    args.archive, args.first_day, args.last_day, args.retrain = None, None, None, None
    args.detector_config = args.typical_config = None
    return cmd_pipeline(args)


def cmd_ui(args: argparse.Namespace) -> int:
    from orchestration.runner import use_data_dir

    layout = DataLayout.resolve(data_dir=args.data, archive_root=args.archive)
    use_data_dir(layout)
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(PROJECT_ROOT / "workspace.yaml"),
        "-h",
        "127.0.0.1",
        "-p",
        str(args.port),
    ]
    print(
        f"Dagster UI on http://127.0.0.1:{args.port} (DAGSTER_HOME={layout.dagster_home})",
        flush=True,
    )
    os.chdir(PROJECT_ROOT)
    os.execv(sys.executable, command)
    return 0  # not reached


def cmd_sql(args: argparse.Namespace) -> int:
    from aco_assets.warehouse import Warehouse

    table = Warehouse(DataLayout.resolve(data_dir=args.data).duckdb_path).query(args.query)
    print(table.to_pandas().to_string(index=False))
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    from aco_assets.warehouse import Warehouse

    layout = DataLayout.resolve(data_dir=args.data)
    target = Warehouse(layout.duckdb_path).snapshot(
        args.out or layout.data_dir / "aco-snapshot.duckdb"
    )
    print(f"snapshot written: {target}  (open it with: duckdb {target})")
    return 0
