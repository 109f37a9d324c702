"""`aco review import` and `aco results` against the session's materialized synthetic lineage."""

from __future__ import annotations

import argparse
import csv
import datetime as dt

import pytest

from aco_assets.evaluation_report import evaluation
from aco_assets.review import VerdictError
from aco_assets.review_clips import review_clips, selections_path
from orchestration import review_commands
from orchestration.review_commands import ReviewImportError, import_reviews


def _aco(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="aco")
    review_commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def raven_file(lineage, tmp_path_factory):
    """The busiest day's Raven table (top 3) with its Verdict column filled in by a 'reviewer'."""
    day = (
        lineage.warehouse()
        .query("SELECT day FROM detections GROUP BY day ORDER BY count(*) DESC, day LIMIT 1")[
            "day"
        ][0]
        .as_py()
    )
    lineage.materialize(
        [review_clips],
        partition_key=day.isoformat(),
        run_config={"ops": {"review_clips": {"config": {"top_k": 3}}}},
    )
    source = selections_path(lineage.resources["storage"].layout(), day)
    lines = source.read_text().splitlines()
    verdicts = ["humpback", "false alarm", "fault"]
    filled = [lines[0]] + [line + v for line, v in zip(lines[1:], verdicts, strict=False)]
    target = tmp_path_factory.mktemp("review") / "reviewed.selections.txt"
    target.write_text("\n".join(filled) + "\n")
    return target


def _reviews(lineage, source) -> list[dict]:
    return (
        lineage.warehouse()
        .query(
            "SELECT * FROM reviews WHERE source_file = ? ORDER BY begin_utc",
            [str(source.resolve())],
        )
        .to_pylist()
    )


def test_importing_a_raven_table_matches_rows_by_begin_utc_and_is_idempotent(lineage, raven_file):
    assert (
        _aco(
            ["review", "import", str(raven_file), "--reviewer", "ana", "--data", str(lineage.data)]
        )
        == 0
    )
    assert (
        _aco(
            ["review", "import", str(raven_file), "--reviewer", "ana", "--data", str(lineage.data)]
        )
        == 0
    )
    rows = _reviews(lineage, raven_file)
    dets = {
        d["detection_id"]: d
        for d in lineage.warehouse().query("SELECT * FROM detections").to_pylist()
    }
    assert len(rows) == min(3, len(dets))
    by_rank = sorted(rows, key=lambda r: dets[r["detection_id"]]["rank_in_day"])
    assert [(r["verdict"], r["class_name"]) for r in by_rank] == [
        ("true_event", "humpback"),
        ("false_alarm", None),
        ("data_fault", None),
    ][: len(rows)]
    for r in rows:
        assert r["begin_utc"] == dets[r["detection_id"]]["start_utc"]
        assert (
            r["reviewer"] == "ana"
            and r["model_version"] == dets[r["detection_id"]]["model_version"]
        )


def test_a_csv_keyed_by_detection_id_is_imported(lineage, tmp_path):
    ids = (
        lineage.warehouse()
        .query("SELECT detection_id FROM detections LIMIT 2")["detection_id"]
        .to_pylist()
    )
    path = tmp_path / "verdicts.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["detection_id", "verdict", "note"])
        w.writerows([[i, "true:blue_whale", "clear"] for i in ids])
    assert import_reviews(lineage.warehouse(), path, reviewer="bo") == len(ids)
    assert {r["class_name"] for r in _reviews(lineage, path)} == {"blue_whale"}


@pytest.mark.parametrize(
    ("content", "error", "match"),
    [
        # a verdict word nobody defined
        ("detection_id,verdict\n{id},maybe\n", VerdictError, r"line 2: unknown verdict 'maybe'"),
        # a detection that is not in the warehouse
        (
            "detection_id,verdict\n19990101-0001,true\n",
            ReviewImportError,
            r"line 2: no detection '19990101-0001'",
        ),
        # a Begin UTC far from every detection
        (
            "Begin UTC,verdict\n1999-01-01T00:00:00,true\n",
            ReviewImportError,
            r"line 2: no detection starts within",
        ),
    ],
)
def test_bad_rows_are_refused_naming_file_and_line(lineage, tmp_path, content, error, match):
    det_id = (
        lineage.warehouse()
        .query("SELECT detection_id FROM detections LIMIT 1")["detection_id"][0]
        .as_py()
    )
    path = tmp_path / "bad.csv"
    path.write_text(content.format(id=det_id))
    with pytest.raises(error, match=match) as info:
        import_reviews(lineage.warehouse(), path, reviewer="x")
    assert "bad.csv" in str(info.value)
    assert _reviews(lineage, path) == []


def test_results_document_has_the_method_table_classes_and_figures(lineage, raven_file, tmp_path):
    _aco(["review", "import", str(raven_file), "--data", str(lineage.data)])
    lineage.materialize([evaluation])
    out = tmp_path / "docs" / "demo_results.md"
    assert _aco(["results", "--data", str(lineage.data), "--out", str(out)]) == 0
    text = out.read_text()
    version = (
        lineage.warehouse()
        .query("SELECT max(model_version) AS v FROM anomaly_scores")["v"][0]
        .as_py()
    )
    assert f"version {version}" in text and f"{dt.date.today()}" in text
    for method in ("production", "np", "gmm_nll", "recon_error", "energy"):
        assert f"| {method} | " in text
    assert "## From reviewer verdicts" in text and "precision_at_10" in text
    # figures are named after the document, so they never overwrite the yardstick's results_*.png
    assert "(figures/demo_results_roc.png)" in text
    assert (out.parent / "figures" / "demo_results_roc.png").stat().st_size > 1000
    assert (out.parent / "figures" / "demo_results_per_class.png").exists()
