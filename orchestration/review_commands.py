"""`aco review import` and `aco results`: reviewer verdicts in, the results document out.

``aco review import FILE`` reads a Raven selection table (its ``Verdict`` column filled in) or a
CSV with a ``verdict`` column, matches each row to a detection by ``detection_id`` or by its
``Begin UTC`` (the detection's start, within ``--tolerance-s``), and writes the ``reviews``
table. Re-importing a file replaces the rows that came from it (one transaction).

``aco results`` writes a Markdown document with the current evaluation of the champion (or
newest evaluated) model version from the warehouse, its figures beside it (``figures/<stem of
--out>_<figure>.png``; ``make results`` writes the demo's as ``docs/demo_results.md``, while
``docs/results.md`` belongs to ``aco yardstick``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from aco_assets.layout import DataLayout
from aco_assets.review import ReviewVerdict, VerdictError, read_verdicts
from aco_assets.warehouse import Warehouse


class ReviewImportError(VerdictError):
    """A verdict row that matches no detection (file, line and key named)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("review", help="reviewer verdicts: import a Raven table or CSV")
    sub = p.add_subparsers(dest="review_command", required=True, metavar="ACTION")
    q = sub.add_parser("import", help="import verdicts into the reviews table (re-import replaces)")
    q.add_argument(
        "file", type=Path, help="Raven selection table (.txt) or CSV with a verdict column"
    )
    q.add_argument("--reviewer", default=None, help="who reviewed (default: the current user)")
    q.add_argument("--data", help="data directory (default: $ACO_DATA_DIR, else ./data)")
    q.add_argument(
        "--tolerance-s",
        type=float,
        default=0.5,
        help="largest Begin UTC difference to a detection's start, s (default 0.5)",
    )
    q.set_defaults(func=cmd_review_import)

    p = subparsers.add_parser("results", help="write the results document from the warehouse")
    p.add_argument("--data", help="data directory (default: $ACO_DATA_DIR, else ./data)")
    p.add_argument(
        "--out", type=Path, default=Path("docs/demo_results.md"), help="document to write"
    )
    p.add_argument("--model-version", type=int, default=None, help="default: the champion")
    p.set_defaults(func=cmd_results)


# ---------------------------------------------------------------- review import


def match_verdicts(
    verdicts: list[ReviewVerdict], detections: pa.Table, *, path: Path, tolerance_s: float
) -> list[dict[str, Any]]:
    """Attach each verdict to its detection (``detection_id``, ``start_utc``, ``model_version``).

    Raises
    ------
    ReviewImportError
        naming the file, line and key of a verdict that matches no detection
    """
    ids = detections["detection_id"].to_pylist()
    by_id = {d: i for i, d in enumerate(ids)}
    starts = detections["start_utc"].to_numpy().astype("datetime64[us]")
    versions = detections["model_version"].to_pylist()
    out = []
    for v in verdicts:
        if v.detection_id is not None:
            i = by_id.get(v.detection_id)
            if i is None:
                raise ReviewImportError(
                    f"{path} line {v.line}: no detection {v.detection_id!r} in the warehouse"
                )
        elif v.begin_utc is not None and len(starts):
            diff_s = np.abs((starts - np.datetime64(v.begin_utc, "us")).astype(np.int64)) / 1e6
            i = int(np.argmin(diff_s))
            if diff_s[i] > tolerance_s:
                raise ReviewImportError(
                    f"{path} line {v.line}: no detection starts within {tolerance_s:g} s "
                    f"of Begin UTC {v.begin_utc.isoformat()} (nearest {diff_s[i]:.3g} s away)"
                )
        else:
            raise ReviewImportError(
                f"{path} line {v.line}: no detection to match (give detection_id or "
                "Begin UTC; a Selection number alone does not identify a detection)"
            )
        out.append(
            {
                "detection_id": ids[i],
                "begin_utc": starts[i].item(),
                "verdict": v.verdict,
                "class_name": v.class_name,
                "model_version": versions[i],
            }
        )
    return out


def import_reviews(
    warehouse: Warehouse, path: Path, *, reviewer: str, tolerance_s: float = 0.5
) -> int:
    """Read ``path``'s verdicts and replace the ``reviews`` rows from that file; returns the count."""
    path = Path(path).resolve()
    verdicts = read_verdicts(path)
    detections = warehouse.query_rw("SELECT detection_id, start_utc, model_version FROM detections")
    rows = match_verdicts(verdicts, detections, path=path, tolerance_s=tolerance_s)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    table = pa.Table.from_pylist(
        [{**r, "reviewer": reviewer, "source_file": str(path), "imported_at": now} for r in rows],
        schema=pa.schema(
            [
                ("detection_id", pa.string()),
                ("begin_utc", pa.timestamp("us")),
                ("verdict", pa.string()),
                ("class_name", pa.string()),
                ("model_version", pa.int32()),
                ("reviewer", pa.string()),
                ("source_file", pa.string()),
                ("imported_at", pa.timestamp("us")),
            ]
        ),
    )
    return warehouse.replace_rows("reviews", table, where="source_file = ?", params=[str(path)])


def cmd_review_import(args: argparse.Namespace) -> int:
    layout = DataLayout.resolve(data_dir=args.data)
    reviewer = args.reviewer or getpass.getuser()
    n = import_reviews(
        Warehouse(layout.duckdb_path), args.file, reviewer=reviewer, tolerance_s=args.tolerance_s
    )
    print(
        f"imported {n} verdict(s) from {args.file} (reviewer {reviewer}); "
        "re-materialize `evaluation` to update precision@k from reviews"
    )
    return 0


# ---------------------------------------------------------------- results document


def _count(x: float | None) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{int(x)}"


def _fmt(x: float | None) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.3f}"


def resolve_version(warehouse: Warehouse, version: int | None = None) -> int:
    """``version``, or the champion, or the newest registered version."""
    if version is not None:
        return version
    found = warehouse.query(
        "SELECT model_version FROM model_versions ORDER BY is_champion DESC, "
        "model_version DESC LIMIT 1"
    )["model_version"].to_pylist()
    if not found:
        raise LookupError(f"{warehouse.path} has no model version: run the pipeline first")
    return int(found[0])


def results_markdown(
    warehouse: Warehouse, *, version: int | None = None, figures: dict[str, str] | None = None
) -> str:
    """The results document (Markdown) of ``version`` (default: the champion, else the newest)."""
    from aco_assets.evaluation import SNR_BUCKETS_DB, _bucket_name
    from aco_assets.evaluation_report import METHODS, methods_markdown

    version = resolve_version(warehouse, version)
    model = warehouse.query(
        "SELECT * FROM model_versions WHERE model_version = ?", [version]
    ).to_pylist()[0]
    rows = warehouse.query(
        "SELECT * FROM evaluation_metrics WHERE model_version = ?", [version]
    ).to_pylist()
    if not rows:
        raise LookupError(
            f"no evaluation of model version {version}: materialize the `evaluation` asset"
        )
    value = {(r["method"], r["metric"], r["subset"]): r["value"] for r in rows}
    when = max(r["evaluated_at"] for r in rows)
    days = warehouse.query(
        "SELECT min(day) AS lo, max(day) AS hi, count(DISTINCT day) AS n FROM anomaly_scores "
        "WHERE model_version = ?",
        [version],
    ).to_pylist()[0]
    out = [
        "# Results of one warehouse (the demo archive in `make results`)",
        "",
        f"Generated by `aco results` on {dt.date.today()} from the warehouse; evaluation of "
        f"{when:%Y-%m-%d %H:%M} UTC.",
        "",
        f"- Model: `aco-detector` version {version}{' (champion)' if model['is_champion'] else ''}, "
        f"production score `{model['score_name']}`, false-alarm budget "
        f"{_fmt(model.get('false_alarms_per_hour'))}/h, threshold {model['threshold']:.4g}, held-out "
        f"typical time {_fmt(model.get('heldout_false_alarms_per_hour'))} false alarms/h (check "
        f"{'passed' if model['checks_passed'] else 'failed'}), trained on "
        f"{model['n_general']} windows ({model['n_typical']} typical), MLflow run `{model['run_id']}`.",
        f"- Data: {days['n']} day(s), {days['lo']} .. {days['hi']}; "
        f"{_count(value.get(('production', 'n_windows', 'all')))} windows evaluated (valid, finite under "
        "every method, no data-quality flag), "
        f"{_count(value.get(('production', 'n_positive', 'all')))} of them overlapping a catalog event.",
        f"- Alarms: {_fmt(value.get(('production', 'alarms_per_day', 'detections')))} detections per day.",
        "",
    ]
    if ("production", "auc", "all") in value:
        out += [
            "## Methods on the same windows",
            "",
            "pAUC is the area for FPR <= 0.1: McClish-standardised (0.5 = chance, 1 = perfect) and "
            "divided by 0.1 (DCASE; chance = 0.05). TPR / FPR at the model's threshold for "
            "`production`, at an equal alarm budget (same share of flagged windows) for the others. "
            "Event metrics: `production` from the detections table, the others from their flagged "
            "windows merged the same way.",
            "",
            methods_markdown(rows, 0.1),
            "",
            _verdict_line(value),
            "",
            "## Event recall per class and SNR",
            "",
        ]
        found = {s for (m, k, s) in value if k == "event_recall" and s != "all"}
        buckets = [_bucket_name(lo, hi) for lo, hi in SNR_BUCKETS_DB]
        subsets = sorted(found - set(buckets)) + [b for b in buckets if b in found]
        out += [
            "| subset | n events | " + " | ".join(METHODS) + " |",
            "|---" * (len(METHODS) + 2) + "|",
        ]
        for s in subsets:
            n = value.get(("production", "n_events", s))
            out.append(
                f"| {s} | {int(n) if n is not None else '-'} | "
                + " | ".join(_fmt(value.get((m, "event_recall", s))) for m in METHODS)
                + " |"
            )
        out.append("")
    else:
        out += [
            "No ground-truth catalog in this archive: window and event metrics are not available.",
            "",
        ]
    reviewed = {k: v for (m, k, s), v in value.items() if s == "reviews"}
    if reviewed:
        out += ["## From reviewer verdicts", "", "| metric | value |", "|---|---|"]
        out += [f"| {k} | {_fmt(v)} |" for k, v in sorted(reviewed.items())] + [""]
    for name, rel in (figures or {}).items():
        out += [f"![{name}]({rel})", ""]
    return "\n".join(out)


def _verdict_line(value: dict) -> str:
    """Which baselines the production score beats on AUC and pAUC (the issue's acceptance)."""
    parts = []
    for metric, label in (("auc", "AUC"), ("pauc_mcclish", "pAUC")):
        prod = value.get(("production", metric, "all"), float("nan"))
        better = [
            m
            for m in ("gmm_nll", "recon_error", "energy", "np")
            if value.get((m, metric, "all"), float("nan")) >= prod
        ]
        parts.append(
            f"{label}: "
            + (
                f"{', '.join(better)} at or above production ({prod:.3f})"
                if better
                else f"production ({prod:.3f}) beats every baseline"
            )
        )
    return "Production vs baselines, " + "; ".join(parts) + "."


def cmd_results(args: argparse.Namespace) -> int:
    from aco_assets.evaluation_report import FIGURES, evaluation_dir

    layout = DataLayout.resolve(data_dir=args.data)
    warehouse = Warehouse(layout.duckdb_path)
    version = resolve_version(warehouse, args.model_version)
    results_markdown(warehouse, version=version)  # fails early when nothing was evaluated
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figures = {}
    for name in FIGURES:
        src = evaluation_dir(layout, version) / f"{name}.png"
        if src.exists():
            target = args.out.parent / "figures" / f"{args.out.stem}_{name}.png"
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(src, target)
            figures[name] = f"figures/{target.name}"
    args.out.write_text(results_markdown(warehouse, version=version, figures=figures))
    print(f"wrote {args.out} (model version {version}, figures: {', '.join(figures) or 'none'})")
    return 0
