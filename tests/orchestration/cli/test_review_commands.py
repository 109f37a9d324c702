"""`aco review import` and `aco results` against the session's materialized synthetic lineage."""

from __future__ import annotations

import argparse
import csv
import datetime as dt

import pyarrow as pa
import pytest

from aco_assets.defs.review.evaluation_report import evaluation
from aco_assets.defs.review.review_clips import review_clips, selections_path
from aco_assets.review.render import VerdictError
from orchestration.cli import review_commands
from orchestration.cli.review_commands import ReviewImportError, import_reviews


def _aco(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="aco")
    review_commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def raven_file(lineage, tmp_path_factory):
    """The busiest day's Raven table (top 3) with its Verdict column filled in by a 'reviewer';
    the verdicts these tests import leave the shared lineage with the module (a reviewed event
    changes the next typical selection other tests rebuild)."""
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
    yield target
    lineage.warehouse().replace_rows(
        "reviews",
        pa.table({"detection_id": pa.array([], pa.string())}),
        where="source_file = ?",
        params=[str(target.resolve())],
    )


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


# ---------------------------------------------------------------- what an import says and resolves


def _top_detections(lineage, n: int) -> list[dict]:
    return (
        lineage.warehouse()
        .query("SELECT * FROM detections ORDER BY day, rank_in_day LIMIT ?", [n])
        .to_pylist()
    )


def test_an_import_prints_how_each_verdict_word_was_read(lineage, tmp_path, capsys):
    a, b = _top_detections(lineage, 2)
    path = tmp_path / "words.csv"
    path.write_text(f"detection_id,verdict\n{a['detection_id']},yes\n{b['detection_id']},n\n")
    assert _aco(["review", "import", str(path), "--data", str(lineage.data)]) == 0
    out = capsys.readouterr().out
    assert "'yes' -> true_event  (1 row)" in out
    assert "'n' -> false_alarm  (1 row)" in out


def test_an_unknown_verdict_word_is_one_line_naming_the_file_and_line(lineage, tmp_path, capsys):
    (a,) = _top_detections(lineage, 1)
    path = tmp_path / "odd.csv"
    path.write_text(f"detection_id,verdict\n{a['detection_id']},true\n{a['detection_id']},dunno\n")
    assert _aco(["review", "import", str(path), "--data", str(lineage.data)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "odd.csv line 3: unknown verdict 'dunno'" in err and "Traceback" not in err
    assert _reviews(lineage, path) == []


def test_conflicting_verdicts_from_two_files_the_latest_import_wins_and_says_so(
    lineage, tmp_path, capsys
):
    (a,) = _top_detections(lineage, 1)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(f"detection_id,verdict\n{a['detection_id']},humpback\n")
    second.write_text(f"detection_id,verdict\n{a['detection_id']},false alarm\n")
    data = ["--data", str(lineage.data)]
    assert _aco(["review", "import", str(first), "--reviewer", "kb", *data]) == 0
    capsys.readouterr()
    assert _aco(["review", "import", str(second), "--reviewer", "lm", *data]) == 0
    out = capsys.readouterr().out
    assert (
        f"detection {a['detection_id']}: false_alarm (line 2) replaces true_event (humpback)" in out
    )
    assert "first.csv (reviewer kb" in out and "the latest import wins" in out
    rows = (
        lineage.warehouse()
        .query("SELECT * FROM reviews WHERE detection_id = ?", [a["detection_id"]])
        .to_pylist()
    )
    assert [(r["verdict"], r["reviewer"]) for r in rows] == [("false_alarm", "lm")]
    # importing the first file again makes it the latest
    assert _aco(["review", "import", str(first), "--reviewer", "kb", *data]) == 0
    rows = (
        lineage.warehouse()
        .query("SELECT * FROM reviews WHERE detection_id = ?", [a["detection_id"]])
        .to_pylist()
    )
    assert [(r["verdict"], r["class_name"]) for r in rows] == [("true_event", "humpback")]


def test_two_lines_disagreeing_about_one_detection_are_refused(lineage, tmp_path):
    (a,) = _top_detections(lineage, 1)
    path = tmp_path / "twice.csv"
    path.write_text(f"detection_id,verdict\n{a['detection_id']},true\n{a['detection_id']},fp\n")
    with pytest.raises(ReviewImportError, match=r"twice.csv lines 2 and 3 give detection .* two"):
        import_reviews(lineage.warehouse(), path, reviewer="x")


def test_a_detection_id_that_names_another_detection_now_is_matched_by_time(lineage, tmp_path):
    a, b = _top_detections(lineage, 2)
    path = tmp_path / "moved.csv"  # b's time under a's id: the day was detected again since
    path.write_text(
        f"detection_id,Begin UTC,verdict\n{a['detection_id']},{b['start_utc'].isoformat()},ship\n"
    )
    report = review_commands.review_import(lineage.warehouse(), path, reviewer="x")
    assert [r["detection_id"] for r in _reviews(lineage, path)] == [b["detection_id"]]
    assert any("now names another detection" in n for n in report.notes)
