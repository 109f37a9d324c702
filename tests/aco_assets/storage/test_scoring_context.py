"""The scoring contexts of a run: the champion resolved once, each version and day loaded once."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pytest

import aco_assets.storage.scoring_context as scoring_context
from aco_assets.storage.scoring_context import ScoringContexts

DAY = dt.date(2016, 1, 1)


@pytest.fixture
def registry(monkeypatch, tmp_path):
    """A fake registry whose champion is ``state["champion"]``; counts what is asked."""
    state = {"champion": 1, "resolved": 0, "loaded": [], "mapped": 0}

    def champion_version(client, name):
        state["resolved"] += 1
        return state["champion"]

    def load_version(client, name, version, *, cache_dir):
        state["loaded"].append(version)
        return SimpleNamespace(version=version, reference=f"ref-{version}")

    def load_day_features(path, *, expected_rows=None, cache_dir=None):
        state["mapped"] += 1
        if expected_rows not in (None, 4):
            raise ValueError(f"{path} has 4 windows but the windows table lists {expected_rows}")
        return np.zeros((4, 1, 2, 2), np.float32)

    monkeypatch.setattr(scoring_context, "champion_version", champion_version)
    monkeypatch.setattr(scoring_context, "load_version", load_version)
    monkeypatch.setattr(scoring_context, "load_day_features", load_day_features)
    monkeypatch.setattr(scoring_context, "registry_uri", lambda client: "sqlite:///x")
    layout = SimpleNamespace(
        features_path=lambda day: tmp_path / f"{day}.npy", cache_dir=tmp_path / "cache"
    )
    return state, layout


def test_a_run_resolves_the_champion_once_even_when_it_moves_mid_run(registry):
    state, _ = registry
    contexts = ScoringContexts()
    first = contexts.champion("run-a", None, "m", cache_dir="c")
    state["champion"] = 2  # retrained while the run goes on
    assert contexts.champion("run-a", None, "m", cache_dir="c") is first
    assert contexts.model("run-a", None, "m", 1, cache_dir="c") is first
    assert state["resolved"] == 1 and state["loaded"] == [1]
    assert contexts.champion("run-b", None, "m", cache_dir="c").version == 2  # a new run asks
    assert state["resolved"] == 2


def test_a_day_is_mapped_once_per_run_and_checked_against_the_tables(registry):
    state, layout = registry
    contexts = ScoringContexts()
    model = contexts.model("run-a", None, "m", 1, cache_dir="c")
    ctx = contexts.day("run-a", model, layout, DAY, expected_rows=4)
    again = contexts.day("run-a", model, layout, DAY)
    assert again.features is ctx.features and ctx.version == 1 and ctx.reference == "ref-1"
    assert state["mapped"] == 1
    with pytest.raises(ValueError, match="windows table lists 5"):
        contexts.day("run-a", model, layout, DAY, expected_rows=5)


def test_only_the_latest_runs_are_kept(registry):
    state, _ = registry
    contexts = ScoringContexts(max_runs=2)
    for run in ("a", "b", "c"):
        contexts.model(run, None, "m", 1, cache_dir="c")
    contexts.model("a", None, "m", 1, cache_dir="c")  # "a" was dropped: loaded again
    assert state["loaded"] == [1, 1, 1, 1]
