"""Generated blocks: replacement, its errors, the sentences from fake run summaries, the project's
markers, and the step timer of ``make results``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestration.studies import results_text
from orchestration.studies.docs_blocks import (
    BLOCKS,
    BlockError,
    block_text,
    replace_block,
    replace_blocks,
    write_blocks,
)
from orchestration.studies.steps import main as step_main
from orchestration.studies.steps import record_step

ROOT = Path(__file__).resolve().parents[3]
DOC = "# Title\n\nBefore.\n\n<!-- generated:numbers -->\nold 0.5\n<!-- /generated:numbers -->\n\nAfter.\n"


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    path = tmp_path / "README.md"
    path.write_text(DOC)
    return path


def fake_yardstick() -> dict:
    """The shape of ``aco yardstick``'s summary.json: per-method means over seeds, and more."""
    method = {"class_balanced_auc": 0.871, "recall_at_budget": 0.62, "pauc": 0.7}
    energy = {"class_balanced_auc": 0.752, "recall_at_budget": 0.41}
    return {
        "seeds": [0, 1, 2],
        "methods": {"production": method, "gmm_nll": {**method, "recall_at_budget": 0.66},
                    "energy_1s": energy, "energy_5s": {**energy, "recall_at_budget": 0.3}},
        "parts": {"test": {"hours": {"mean": 5.33, "sd": 0.0, "n": 3}, "methods": {}}},
        "runs": [{"seed": s, "score_name": "combined", "budget_per_hour": 1.0} for s in (0, 1, 2)],
        "choice": {"best": "gmm_nll", "ranking": ["gmm_nll", "combined"]},
    }  # fmt: skip


def fake_demo() -> dict:
    """What :func:`results_text.read_demo` returns for a warehouse."""
    base = {"auc": 0.9, "pauc_mcclish": 0.8, "event_recall": 0.7, "detection_precision": 0.6,
            "alarms_per_day": 5.0}  # fmt: skip
    return {
        "model_version": 3, "score_name": "combined", "n_general": 7000, "n_typical": 3800,
        "is_champion": True,
        "days": 15, "methods": {
            "production": {**base, "auc": 0.93, "n_events": 71, "precision_at_10": 1.0,
                           "n_windows": 7032, "n_positive": 522, "event_recall": 0.817},
            "np": base, "gmm_nll": base, "energy": {**base, "auc": 0.88},
            "recon_error": {**base, "auc": 0.92, "pauc_mcclish": 0.884},
        },
    }  # fmt: skip


def fake_digits() -> list[dict]:
    run = {"auc": 0.97, "tpr_at_rho": 0.89, "fpr_at_rho": 0.046}
    return [{"np": run, "config": {"train": {"rho": 0.05}, "quick": False}}] * 3


def fake_benchmarks(*, pipeline: bool) -> dict:
    bench: dict = {
        "codec": {"read_file_mb_s": 520.0, "ratio_vs_acoio": 11.6},
        "features": {"mean_s": 0.24},
        "synth": {
            "files": {"background_s": 0.5, "render_s": 0.85, "write_s": 0.3, "total_s": 1.15,
                      "rtf": 261.0},
            "demo": {"seed": 0, "files": 118, "wall_s": 59.4},
            "coverage": {"share": 0.076, "windows": 7080, "groups": {
                "2016-02 evening": {"share": 0.119, "windows": 360},
                "2016-02 other": {"share": 0.077, "windows": 1080}}},
            "machine": {"cores": 2, "measured_at": "2026-11-24T10:00:00"},
        },
    }  # fmt: skip
    if pipeline:
        bench["pipeline"] = {"n_files": 288, "workers": 2, "timed_s": 39.4,
                             "timed_stages": ["raw_files", "spectrograms", "anomaly_scores"],
                             "machine": {"cores": 2, "measured_at": "2026-11-24T11:00:00"}}  # fmt: skip
    return bench


# ------------------------------------------------------------------------------ replace_block
def test_replace_block_rewrites_only_the_text_between_the_markers(doc):
    assert replace_block(doc, "numbers", "new 0.9") is True
    text = doc.read_text()
    assert "old 0.5" not in text and "\nnew 0.9\n" in text
    assert text.startswith("# Title\n\nBefore.\n\n<!-- generated:numbers -->\n")
    assert text.endswith("<!-- /generated:numbers -->\n\nAfter.\n")
    assert block_text(doc, "numbers") == "new 0.9\n"


def test_replace_block_is_idempotent(doc):
    replace_block(doc, "numbers", "new 0.9\n\n")
    first = doc.read_bytes()
    assert replace_block(doc, "numbers", "new 0.9") is False
    assert doc.read_bytes() == first


@pytest.mark.parametrize(
    ("document", "match"),
    [
        # no markers at all: the message names both lines to add
        ("# Title\n", r"no line <!-- generated:numbers --> and <!-- /generated:numbers -->"),
        # the closing marker only is missing
        ("<!-- generated:numbers -->\nx\n", r"no line <!-- /generated:numbers -->"),
        # a marker inside a sentence does not count: markers stand on their own line
        ("see <!-- generated:numbers --> x\n<!-- /generated:numbers -->\n", r"no line"),
        # twice
        (DOC + DOC, r"more than once"),
        # closing before opening
        ("<!-- /generated:numbers -->\n<!-- generated:numbers -->\n", r"comes before"),
    ],
)
def test_replace_block_fails_clearly_and_writes_nothing(tmp_path, document, match):
    path = tmp_path / "doc.md"
    path.write_text(document)
    with pytest.raises(BlockError, match=match) as info:
        replace_block(path, "numbers", "new")
    assert str(path) in str(info.value)
    assert path.read_text() == document


def test_replace_blocks_writes_several_blocks_in_one_pass(tmp_path):
    path = tmp_path / "doc.md"
    path.write_text(DOC + DOC.replace("numbers", "other"))
    assert replace_blocks(path, {"numbers": "a", "other": "b"})
    assert block_text(path, "numbers") == "a\n" and block_text(path, "other") == "b\n"


# ------------------------------------------------------------------------------ sentences
def test_yardstick_sentence_quotes_the_summary_means():
    text = results_text.yardstick_text(fake_yardstick())
    assert "3 seeds" in text and "5.3 h" in text and "`combined`" in text
    assert "class-balanced AUC of 0.87" in text and "62%" in text
    assert "0.75 and 41% for the best band-energy baseline (`energy_1s`)" in text
    assert "`gmm_nll` finds the most held-out events at that budget (66%)" in text


def test_yardstick_sentence_says_n_a_for_a_missing_metric():
    summary = fake_yardstick()
    del summary["methods"]["production"]["class_balanced_auc"]
    assert "class-balanced AUC of n/a" in results_text.yardstick_text(summary)


def test_demo_sentences_quote_the_warehouse_figures():
    text = results_text.demo_text(fake_demo())
    assert "71 catalogued acoustic events, 82% of them detected at 5.0 alarms a day" in text
    assert "0.93 for the production score" in text and "0.88 for the classic" in text
    assert "the VAE reconstruction error is better (pAUC 0.88 vs 0.80)" in text
    table = results_text.demo_archive_text(fake_demo())
    assert "| recon_error | 0.920 | 0.884 |" in table and "7032 windows" in table
    assert "Model version 3 (champion;" in table


def test_digits_benchmarks_and_synth_sentences():
    assert "AUC 0.97 and TPR 0.89 at a realised FPR of 0.046 for a 5% target" in (
        results_text.digits_text(fake_digits())
    )
    assert "`make bench-pipeline`" in results_text.benchmarks_text(fake_benchmarks(pipeline=False))
    text = results_text.benchmarks_text(fake_benchmarks(pipeline=True))
    assert "288-file day goes through raw_files, spectrograms, anomaly_scores in 39 s" in text
    assert "as a user runs it" not in text  # figures from before the aco pipeline run
    bench = fake_benchmarks(pipeline=True)
    bench["pipeline"] |= {"aco_pipeline": {"wall_s": 34.9}, "target_s": 20.0}
    assert (
        "as a user runs it (`aco pipeline`, start-up and review clips included) 35 s, "
        "against a target of 20 s" in results_text.benchmarks_text(bench)
    )
    bench = fake_benchmarks(pipeline=False)
    assert "7.6 % of 5 s windows" in results_text.synth_coverage_text(bench)
    assert "2016-02 8-12 %" in results_text.synth_coverage_text(bench)
    assert "1.15 s per 5-minute file" in results_text.synth_speed_text(bench)


# ------------------------------------------------------------------------------ the project
def test_every_generated_block_has_its_markers_in_the_project_docs():
    for doc, name, _, function in BLOCKS:
        block_text(ROOT / doc, name)  # raises BlockError naming the file when a marker is missing
        assert hasattr(results_text, function)


def test_write_blocks_fills_every_block_once_then_changes_nothing(tmp_path):
    for doc, name, *_ in BLOCKS:
        path = tmp_path / doc
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text("# doc\n")
        path.write_text(
            path.read_text() + f"<!-- generated:{name} -->\n<!-- /generated:{name} -->\n"
        )
    sources = {"yardstick": fake_yardstick(), "demo": fake_demo(), "digits": fake_digits(),
               "benchmarks": fake_benchmarks(pipeline=True),
               "timings": {"finished": "2026-12-01T10:00:00", "cores": 2,
                           "steps": {"demo": {"seconds": 600.0}}}}  # fmt: skip
    changed = write_blocks(tmp_path, sources)
    assert {p.relative_to(tmp_path).as_posix() for p in changed} == {d for d, *_ in BLOCKS}
    assert "| demo | 10.0 |" in block_text(tmp_path / "README.md", "timings")
    assert write_blocks(tmp_path, sources) == []


def test_a_step_records_its_time_and_a_failing_step_keeps_its_status(tmp_path, capsys):
    timings = tmp_path / "timings.json"
    record_step(timings, "demo", 12.5, command=["aco", "demo"])
    assert step_main(["ok", "--timings", str(timings), "--of", "2/8", "--", "true"]) == 0
    assert step_main(["bad", "--timings", str(timings), "--", "false"]) == 1
    data = json.loads(timings.read_text())
    assert set(data["steps"]) == {"demo", "ok"} and data["steps"]["demo"]["seconds"] == 12.5
    assert "step bad failed" in capsys.readouterr().out


def test_read_sources_loads_the_runs_and_names_the_step_of_a_missing_one(tmp_path):
    from orchestration.studies.docs_blocks import read_sources

    (tmp_path / "yardstick").mkdir()
    (tmp_path / "yardstick" / "summary.json").write_text(json.dumps(fake_yardstick()))
    (tmp_path / "digits").mkdir()
    (tmp_path / "digits" / "digits.json").write_text(json.dumps(fake_digits()[:1]))
    (tmp_path / "digits" / "seed7.json").write_text("{}")  # an older run's seed: not quoted
    sources = read_sources(tmp_path, names=("yardstick", "digits"))
    assert sources["yardstick"]["seeds"] == [0, 1, 2] and len(sources["digits"]) == 1
    with pytest.raises(FileNotFoundError, match=r"benchmarks\.json is missing: run the benchmarks"):
        read_sources(tmp_path, names=("benchmarks",))
