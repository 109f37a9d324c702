"""``aco yardstick``: averaging the held-out summaries of several seeds into the results page."""

from __future__ import annotations

import argparse

import pytest

from orchestration.studies.yardstick import aggregate_runs, choose_production, results_markdown


def _run(seed: int, shift: float) -> dict:
    def method(auc: float, recall: float, **extra) -> dict:
        return {
            "class_balanced_auc": auc + shift,
            "event_balanced_auc": auc,
            "pauc": 0.5,
            "recall_at_budget": recall + shift,
            "per_class_recall": {"humpback": recall, "ping": recall / 2},
            "per_snr_recall": {"lt0dB": 0.1},
            "per_class_auc": {"humpback": auc},
            **extra,
        }

    methods = {
        "production": method(0.8, 0.3, fa_per_hour_at_threshold=1.5, recall_at_threshold=0.2),
        "np": method(0.82, 0.4),
        "gmm_nll": method(0.7, 0.1),
        "combined": method(0.8, 0.3),
        "recon_error": method(0.75, 0.35),
        "energy_1s": method(0.86, 0.6),
    }
    return {
        "seed": seed,
        "score_name": "combined",
        "budget_per_hour": 1.0,
        "threshold_rule": "tail_fit",
        "heldout_false_alarms_per_hour": 0.5,
        "checks_passed": True,
        "split": {"unit": "day", "train": ["a", "b"], "calibration": ["c"], "test": ["d"]},
        "parts": {
            "test": {"hours": 1.0, "methods": methods},
            "train": {"hours": 3.0, "methods": methods},
        },
        "faults": {"dropout": {"n": 2, "found": 1}},
    }


def test_figures_are_averaged_over_seeds_with_their_spread():
    agg = aggregate_runs([_run(0, 0.0), _run(1, 0.02), _run(2, 0.04)])
    auc = agg["parts"]["test"]["methods"]["np"]["class_balanced_auc"]
    assert auc["mean"] == pytest.approx(0.84) and auc["sd"] == pytest.approx(0.02)
    assert auc["n"] == 3
    per_class = agg["parts"]["test"]["methods"]["np"]["per_class_recall"]["ping"]
    assert per_class["mean"] == pytest.approx(0.2)
    assert agg["methods"]["energy_1s"]["recall_at_budget"] == pytest.approx(0.62)


def test_the_production_score_is_the_model_score_of_best_held_out_recall():
    agg = aggregate_runs([_run(0, 0.0), _run(1, 0.0)])
    assert agg["choice"]["best"] == "np"
    assert agg["choice"]["ranking"] == ["np", "recon_error", "combined", "gmm_nll"]
    assert choose_production({}) == {}


def test_the_results_page_holds_the_held_out_table_the_training_days_apart_and_the_faults():
    agg = aggregate_runs([_run(0, 0.0), _run(1, 0.02)])
    args = argparse.Namespace()
    text = results_markdown(agg, {"methods": "figures/results_methods.png"}, args)
    held_out = text.index("## Held-out days")
    training = text.index("## Training days (seen in training: not evidence)")
    assert held_out < training
    assert "| band-energy z-score, 1/3-octave, 1 s steps | 0.87 ± 0.01 |" in text
    assert "The best is `np`; these runs used `combined`" in text
    assert "| dropout | 4 | 2 |" in text
    assert "![methods](figures/results_methods.png)" in text


def test_each_seed_runs_without_settings_that_would_share_a_store(monkeypatch):
    from orchestration.studies.yardstick import seed_environment

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    monkeypatch.setenv("ACO_DATA_DIR", "elsewhere")
    monkeypatch.setenv("PATH_FOR_TEST", "kept")
    env = seed_environment()
    assert "MLFLOW_TRACKING_URI" not in env and "ACO_DATA_DIR" not in env
    assert env["PATH_FOR_TEST"] == "kept"


def test_a_seed_runs_in_a_fresh_data_folder_unless_reused(tmp_path, monkeypatch):
    """A registry left in the seed's folder by an earlier run keeps its champion when the new
    version fails its check: the seed's run must not see it."""
    import json

    from orchestration.studies import yardstick

    seed_dir = tmp_path / "seed0"
    (seed_dir / "mlruns").mkdir(parents=True)
    (seed_dir / "aco.duckdb").write_text("an earlier run's warehouse")
    seen: list[list[str]] = []

    def fake_aco(argv: list[str]) -> None:  # what the seed's folder holds at each command
        seen.append(sorted(p.name for p in seed_dir.iterdir()) if seed_dir.exists() else [])
        if argv[0] == "pipeline":
            out = seed_dir / "evaluation" / "v1"
            out.mkdir(parents=True)
            (out / yardstick.SUMMARY_NAME).write_text(json.dumps({"parts": {}}))

    monkeypatch.setattr(yardstick, "_aco", fake_aco)
    args = argparse.Namespace(work=tmp_path, sounds=tmp_path, days=None, files_per_day=None,
                              detector_config={}, reuse=False)  # fmt: skip
    assert yardstick.run_seed(args, 0)["seed"] == 0
    assert seen == [[], []]  # nothing of the earlier run before synth, nor before the pipeline
    (seed_dir / "kept").write_text("")
    args.reuse = True  # an evaluated seed is kept as it is
    yardstick.run_seed(args, 0)
    assert (seed_dir / "kept").exists() and len(seen) == 2
