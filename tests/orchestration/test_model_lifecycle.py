"""The champion over a data folder's life: retrained versions, stale scores, a moved folder.

Each test works on a ``shutil.copytree`` of the session's lineage data folder (so the session's
registry stays at version 1) with its own Dagster instance, through the real assets.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.data_version import StaleStatus
from dagster._utils.test.data_versions import get_stale_status_resolver

from aco_assets.defs.detect.anomaly_scores import anomaly_scores
from aco_assets.defs.model.detector import detector
from aco_assets.storage.model_registry import champion_version
from aco_assets.storage.warehouse import Warehouse
from tests.conftest import TINY_DETECTOR, lineage_resources


@pytest.fixture(autouse=True)
def _no_mlflow_settings(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)


def _scored_versions(data: Path, day) -> set[int]:
    rows = Warehouse(data / "aco.duckdb").query(
        "SELECT DISTINCT model_version FROM anomaly_scores WHERE day = ?", [day]
    )
    return set(rows.column(0).to_pylist())


# Fewer steps than TINY_DETECTOR: these versions are judged by their check, not their quality.
QUICK = {**TINY_DETECTOR, "phase1_steps": 10, "phase2_steps": 5, "max_general_windows": 600}
# A check interval so wide (alpha 1e-100) that any alarm count of five held-out minutes agrees
# with the budget: passes. A budget of 10000 alarms an hour, far above the most episodes five
# minutes can hold: fails.
PASSES = {"check_alpha": 1e-100}
FAILS = {"false_alarms_per_hour": 10000.0}


def _train(resources: dict, instance, config: dict) -> dict[str, bool]:
    """Materialize ``detector``; returns its check results."""
    result = dg.materialize([detector], resources=resources, instance=instance,
                            run_config={"ops": {"detector": {"config": {**QUICK, **config}}}})  # fmt: skip
    return {c.check_name: c.passed for c in result.get_asset_check_evaluations()}


def test_a_retrained_version_becomes_champion_only_when_its_check_passes_and_stales_scores(
    lineage, tmp_path
):
    data = Path(shutil.copytree(lineage.data, tmp_path / "data", symlinks=True))
    resources = lineage_resources(lineage.archive, data)
    client = resources["mlflow_resource"].client()
    key, day = lineage.partition_keys[0], lineage.days[0]

    def champions() -> list[int]:
        sql = "SELECT model_version FROM model_versions WHERE is_champion"
        return Warehouse(data / "aco.duckdb").query(sql).column(0).to_pylist()

    with dg.instance_for_test() as instance:

        def status() -> StaleStatus:
            resolver = get_stale_status_resolver(instance, [detector, anomaly_scores])
            return resolver.get_status(anomaly_scores.key, key)

        def score() -> None:
            dg.materialize([anomaly_scores], partition_key=key, resources=resources,
                           instance=instance)  # fmt: skip

        score()
        assert _scored_versions(data, day) == {1}
        # version 2 passes: the alias moves, and the scores of version 1 are stale
        assert _train(resources, instance, PASSES)["threshold_is_sane"] is True
        assert champion_version(client, "aco-detector") == 2 and champions() == [2]
        assert status() == StaleStatus.STALE
        score()
        assert _scored_versions(data, day) == {2} and status() == StaleStatus.FRESH
        # version 3 fails its check: the champion stays version 2, and so do its scores
        assert _train(resources, instance, FAILS)["threshold_is_sane"] is False
        assert champion_version(client, "aco-detector") == 2 and champions() == [2]
        assert status() == StaleStatus.FRESH


def test_a_copied_data_folder_scores_with_its_champion_once_the_original_is_gone(lineage, tmp_path):
    moved = Path(shutil.copytree(lineage.data, tmp_path / "elsewhere" / "data", symlinks=True))
    away = lineage.data.with_name(lineage.data.name + "-away")
    lineage.data.rename(away)  # the original is gone while the copy runs
    try:
        with dg.instance_for_test() as instance:
            result = dg.materialize(
                [anomaly_scores],
                partition_key=lineage.partition_keys[0],
                resources=lineage_resources(lineage.archive, moved),
                instance=instance,
            )
        assert not lineage.data.exists()
    finally:
        away.rename(lineage.data)
    (event,) = result.asset_materializations_for_node("anomaly_scores")
    assert event.metadata["model_version"].value == 1
    assert _scored_versions(moved, lineage.days[0]) == {1}  # rows, all by the copy's champion
    assert any((moved / "models").iterdir())  # the copy's own cache
