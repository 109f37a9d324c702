"""`aco review import` and `aco results`: reviewer verdicts in, the results document out.

``aco review import FILE`` reads a Raven selection table (its ``Verdict`` column filled in) or a
CSV with a ``verdict`` column, matches each row to a detection by its start (``Detection Begin
UTC``, else ``Begin UTC``, within ``--tolerance-s``) or, without a time, by ``detection_id``, and
writes the ``reviews`` table. It prints how it read each verdict word (``'yes' -> true_event``)
and refuses an unknown word naming the file and line. There is one verdict per detection: the
latest import wins, replacing the rows that came from the same file and any earlier verdict on
the same detections from other files, and every verdict it overturns is printed (one
transaction).

``aco results`` writes a Markdown document with the current evaluation of the champion (or
newest evaluated) model version from the warehouse, its figures beside it (``figures/<stem of
--out>_<figure>.png``; ``make results`` writes the demo's as ``docs/demo_results.md``, while
``docs/results.md`` belongs to ``aco yardstick``); the document itself is
:func:`aco_assets.reporting.results_document.results_document`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from aco_assets.review.render import ReviewVerdict, VerdictError, read_verdicts
from aco_assets.storage.layout import DataLayout
from aco_assets.storage.warehouse import Warehouse


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


@dataclass
class ReviewImport:
    """What one import did.

    Attributes
    ----------
    n_imported : verdict rows written (one per detection)
    mapping : ``(word as written, verdict, class or None) -> rows``
    overturned : one line per earlier verdict from another file that this import replaced with a
        different one
    replaced_same : earlier rows from other files with the same verdict, replaced
    notes : anything else worth saying (a Detection ID that now names another detection)
    """

    n_imported: int
    mapping: Counter = field(default_factory=Counter)
    overturned: list[str] = field(default_factory=list)
    replaced_same: int = 0
    notes: list[str] = field(default_factory=list)


def match_verdicts(
    verdicts: list[ReviewVerdict],
    detections: pa.Table,
    *,
    path: Path,
    tolerance_s: float,
    notes: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Attach each verdict to its detection (``detection_id``, ``start_utc``, ``model_version``).

    A verdict with a time matches the detection starting nearest to it (within
    ``tolerance_s``): detection ids are ranks within a day and name another detection once a day
    is detected again, so a time is the safer key; a ``detection_id`` that disagrees with it is
    reported in ``notes``. One detection named by two rows with different verdicts is refused.

    Raises
    ------
    ReviewImportError
        naming the file, line and key of a verdict that matches no detection, or two lines that
        disagree about one detection
    """
    ids = detections["detection_id"].to_pylist()
    by_id = {d: i for i, d in enumerate(ids)}
    starts = detections["start_utc"].to_numpy().astype("datetime64[us]")
    versions = detections["model_version"].to_pylist()
    out: dict[str, dict[str, Any]] = {}
    for v in verdicts:
        i = _match_one(v, by_id, starts, path=path, tolerance_s=tolerance_s)
        if v.detection_id is not None and v.detection_id != ids[i] and notes is not None:
            notes.append(
                f"{path} line {v.line}: Detection ID {v.detection_id} now names another "
                f"detection; matched by its time to {ids[i]}"
            )
        row = {
            "detection_id": ids[i],
            "begin_utc": starts[i].item(),
            "verdict": v.verdict,
            "class_name": v.class_name,
            "model_version": versions[i],
            "line": v.line,
        }
        seen = out.get(ids[i])
        if seen is not None and (seen["verdict"], seen["class_name"]) != (v.verdict, v.class_name):
            raise ReviewImportError(
                f"{path} lines {seen['line']} and {v.line} give detection {ids[i]} two verdicts "
                f"({_label(seen['verdict'], seen['class_name'])} and "
                f"{_label(v.verdict, v.class_name)}): keep one"
            )
        out.setdefault(ids[i], row)
    return list(out.values())


def _match_one(
    v: ReviewVerdict, by_id: dict[str, int], starts: np.ndarray, *, path: Path, tolerance_s: float
) -> int:
    if v.begin_utc is not None and len(starts):
        diff_s = np.abs((starts - np.datetime64(v.begin_utc, "us")).astype(np.int64)) / 1e6
        i = int(np.argmin(diff_s))
        if diff_s[i] > tolerance_s:
            raise ReviewImportError(
                f"{path} line {v.line}: no detection starts within {tolerance_s:g} s "
                f"of Begin UTC {v.begin_utc.isoformat()} (nearest {diff_s[i]:.3g} s away)"
            )
        return i
    if v.detection_id is not None:
        if v.detection_id not in by_id:
            raise ReviewImportError(
                f"{path} line {v.line}: no detection {v.detection_id!r} in the warehouse"
            )
        return by_id[v.detection_id]
    raise ReviewImportError(
        f"{path} line {v.line}: no detection to match (give detection_id or "
        "Begin UTC; a Selection number alone does not identify a detection)"
    )


def _label(verdict: str, class_name: str | None) -> str:
    return verdict + (f" ({class_name})" if class_name else "")


_REVIEWS_SCHEMA = pa.schema(
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
)


def review_import(
    warehouse: Warehouse, path: Path, *, reviewer: str, tolerance_s: float = 0.5
) -> ReviewImport:
    """Read ``path``'s verdicts into ``reviews``: one row per detection, the latest import wins.

    The rows from ``path`` (an earlier import of it) and the earlier rows of the same
    detections from other files are replaced in one transaction; :class:`ReviewImport` says what
    was read and what was overturned.
    """
    path = Path(os.path.normpath(Path(path).absolute()))
    verdicts = read_verdicts(path)
    detections = warehouse.query_rw("SELECT detection_id, start_utc, model_version FROM detections")
    report = ReviewImport(0)
    rows = match_verdicts(
        verdicts, detections, path=path, tolerance_s=tolerance_s, notes=report.notes
    )
    report.mapping.update((v.text.strip(), v.verdict, v.class_name) for v in verdicts)
    ids = [r["detection_id"] for r in rows]
    earlier = warehouse.query_rw(
        "SELECT detection_id, verdict, class_name, reviewer, source_file, imported_at "
        "FROM reviews WHERE source_file <> ? AND list_contains(?, detection_id)",
        [str(path), ids],
    ).to_pylist()
    new = {r["detection_id"]: r for r in rows}
    for e in earlier:
        r = new[e["detection_id"]]
        if (e["verdict"], e["class_name"]) == (r["verdict"], r["class_name"]):
            report.replaced_same += 1
            continue
        report.overturned.append(
            f"detection {e['detection_id']}: {_label(r['verdict'], r['class_name'])} (line "
            f"{r['line']}) replaces {_label(e['verdict'], e['class_name'])} from "
            f"{e['source_file']} (reviewer {e['reviewer']}, "
            f"imported {e['imported_at']:%Y-%m-%d %H:%M} UTC)"
        )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    table = pa.Table.from_pylist(
        [{**r, "reviewer": reviewer, "source_file": str(path), "imported_at": now} for r in rows],
        schema=_REVIEWS_SCHEMA,
    )
    report.n_imported = warehouse.replace_rows(
        "reviews",
        table,
        where="source_file = ? OR list_contains(?, detection_id)",
        params=[str(path), ids],
    )
    return report


def import_reviews(
    warehouse: Warehouse, path: Path, *, reviewer: str, tolerance_s: float = 0.5
) -> int:
    """:func:`review_import`, returning the number of verdict rows written."""
    return review_import(warehouse, path, reviewer=reviewer, tolerance_s=tolerance_s).n_imported


def import_lines(report: ReviewImport) -> list[str]:
    """What ``aco review import`` prints about an import, besides its summary line."""
    lines = []
    if report.mapping:
        lines.append("verdicts read as:")
        for (text, verdict, cls), n in sorted(report.mapping.items()):
            lines.append(f"  {text!r} -> {_label(verdict, cls)}  ({n} row{'s' * (n != 1)})")
    if report.overturned:
        lines.append(
            f"{len(report.overturned)} earlier verdict(s) overturned (the latest import wins):"
        )
        lines += [f"  {o}" for o in report.overturned]
    if report.replaced_same:
        lines.append(
            f"{report.replaced_same} earlier verdict(s) from other files agreed and were replaced"
        )
    return lines + report.notes


def cmd_review_import(args: argparse.Namespace) -> int:
    layout = DataLayout.resolve(data_dir=args.data)
    reviewer = args.reviewer or getpass.getuser()
    try:
        report = review_import(
            Warehouse(layout.duckdb_path),
            args.file,
            reviewer=reviewer,
            tolerance_s=args.tolerance_s,
        )
    except (VerdictError, FileNotFoundError) as e:
        print(f"aco review import: {e}", file=sys.stderr)
        return 2
    for line in import_lines(report):
        print(line)
    print(
        f"imported {report.n_imported} verdict(s) from {args.file} (reviewer {reviewer}); "
        "re-materialize `evaluation` to update precision@k from reviews"
    )
    return 0


# ---------------------------------------------------------------- results document


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
    from aco_assets.reporting.results_document import results_document  # matplotlib: lazily

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
    days = warehouse.query(
        "SELECT min(day) AS lo, max(day) AS hi, count(DISTINCT day) AS n FROM anomaly_scores "
        "WHERE model_version = ?",
        [version],
    ).to_pylist()[0]
    return results_document(model, rows, days, figures=figures)


def cmd_results(args: argparse.Namespace) -> int:
    from aco_assets.reporting.evaluation_page import FIGURES
    from aco_assets.storage.evaluation_store import evaluation_dir

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
