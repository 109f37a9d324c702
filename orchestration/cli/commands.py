"""`aco pipeline`, `aco demo`, `aco repair`, `aco ui`, `aco sql`, `aco snapshot`: the lineage
from a shell."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
from pathlib import Path

from aco_assets.storage.layout import ENV_DATA_DIR, DataLayout
from orchestration.errors import AcoInputError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
        "--day",
        dest="days",
        type=_day,
        action="append",
        default=[],
        metavar="DAY",
        help="a UTC day to materialize even without files (repeatable); within --from/--to only "
        "the days that hold files run",
    )
    p.add_argument(
        "--stage",
        dest="stages",
        action="append",
        choices=["ingest", "train", "detect", "evaluation"],
        help="run only this stage (repeatable; default: all, training only when there is no "
        "champion or with --retrain)",
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
    p.add_argument(
        "--executor",
        choices=["in_process", "dask"],
        default=os.environ.get("ACO_EXECUTOR", "in_process"),
        help="where steps run: in this process (default, or $ACO_EXECUTOR), or on the workers of "
        "a Dask cluster, one run per day, as many days at once as workers (docs/deploy.md)",
    )
    p.add_argument(
        "--dask-scheduler",
        metavar="ADDRESS",
        help="the Dask scheduler for --executor dask, e.g. tcp://127.0.0.1:8786 (default: "
        "$ACO_DASK_SCHEDULER)",
    )
    p.set_defaults(func=cmd_pipeline)

    p = subparsers.add_parser(
        "demo", help="write the synthetic demo archive (once) and run the pipeline on it"
    )
    _data_args(p, archive=False)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.set_defaults(func=cmd_demo)

    p = subparsers.add_parser(
        "repair",
        help="fail the runs a killed aco pipeline left STARTED and free their pool slots",
    )
    _data_args(p, archive=False)
    p.add_argument(
        "--fail",
        dest="fail_runs",
        action="append",
        default=[],
        metavar="RUN_ID",
        help="also mark this run failed and free its slots (a UI run whose process is gone)",
    )
    p.set_defaults(func=cmd_repair)

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


def _stop_on_sigterm() -> None:
    """Ctrl-C and SIGTERM stop a run (marked failed, its slots freed), even when the shell that
    started ``aco pipeline`` in the background left SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def cmd_pipeline(args: argparse.Namespace) -> int:
    from orchestration.cli.report import pipeline_summary
    from orchestration.runner import STAGES, run_pipeline

    _stop_on_sigterm()
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
        days=getattr(args, "days", None) or (),
        stages=getattr(args, "stages", None) or STAGES,
        retrain=args.retrain,
        detector_config=detector_config or None,
        typical_config=args.typical_config,
        workers=args.workers,
        executor=getattr(args, "executor", "in_process"),
        dask_scheduler=getattr(args, "dask_scheduler", None),
        verbose=getattr(args, "verbose", False),
    )
    print(pipeline_summary(layout, result.days))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from aco_assets.synth import CATALOG_NAME, write_archive

    layout = DataLayout.resolve(data_dir=args.data)
    if not (layout.archive_root / CATALOG_NAME).exists():
        print(f"writing the synthetic demo archive to {layout.archive_root} ...", flush=True)
        summary = write_archive(layout.archive_root, preset="demo", seed=args.seed, progress=True)
        print(f"  {summary.n_files} files, {summary.n_events} catalog events", flush=True)
    args.archive, args.first_day, args.last_day, args.retrain = None, None, None, None
    args.detector_config = args.typical_config = None
    args.days, args.stages = [], None
    return cmd_pipeline(args)


def cmd_repair(args: argparse.Namespace) -> int:
    from orchestration.recovery import repair
    from orchestration.runner import use_data_dir

    layout = DataLayout.resolve(data_dir=args.data)
    if not (layout.dagster_home / "dagster.yaml").exists():
        raise AcoInputError(
            f"no Dagster instance at {layout.dagster_home}: pass --data DIR (or set "
            f"{ENV_DATA_DIR}) to the data directory of your aco pipeline runs"
        )
    use_data_dir(layout)
    return repair(layout.dagster_home, fail_runs=args.fail_runs, say=print)


def cmd_ui(args: argparse.Namespace) -> int:
    from orchestration.runner import choose_first_day, use_data_dir

    layout = DataLayout.resolve(data_dir=args.data, archive_root=args.archive)
    if layout.archive_root.is_dir():  # the same partitions as aco pipeline on this archive
        from aco_assets.hydrophone import Archive

        choose_first_day(Archive(layout.archive_root).days())
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


def existing_warehouse(layout: DataLayout) -> Path:
    """The warehouse file of ``layout``; one clear error when it does not exist."""
    path = layout.duckdb_path
    if not path.exists():
        raise AcoInputError(
            f"no warehouse at {path}: materialize raw_files first (aco pipeline --data "
            f"{layout.data_dir}); if your runs wrote elsewhere, pass --data DIR or set "
            f"{ENV_DATA_DIR} (without either, the data directory is ./data)"
        )
    return path


def cmd_sql(args: argparse.Namespace) -> int:
    from aco_assets.storage.warehouse import Warehouse

    layout = DataLayout.resolve(data_dir=args.data)
    table = Warehouse(existing_warehouse(layout)).query(args.query)
    print(table.to_pandas().to_string(index=False))
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    from aco_assets.storage.warehouse import Warehouse

    layout = DataLayout.resolve(data_dir=args.data)
    target = Warehouse(existing_warehouse(layout)).snapshot(
        args.out or layout.data_dir / "aco-snapshot.duckdb"
    )
    print(f"snapshot written: {target}  (open it with: duckdb {target})")
    return 0
