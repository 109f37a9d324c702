"""The typical_windows asset and the reviewer_verdicts source asset on a small warehouse."""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

from aco_assets.defs.model.typical_windows import typical_windows
from aco_assets.defs.resources import StorageResource
from aco_assets.defs.review.reviewer_verdicts import reviewer_verdicts
from aco_assets.storage.typical_selection_store import current_selection
from aco_assets.storage.warehouse import Warehouse
from tests.warehouse_rows import windows

DAY = dt.date(2016, 2, 15)
KEYS = ("reviewer_verdicts", "typical_windows")


@dataclass
class Runs:
    """Runs reviewer_verdicts then typical_windows (one job) with given evening hours."""

    warehouse: Warehouse
    defs: dg.Definitions
    instance: dg.DagsterInstance

    def __call__(self, hours: list[int]) -> dg.AssetMaterialization:
        config = {"evening_hours_hst": hours, "low_traffic_months": [], "min_typical_windows": 1}
        result = self.defs.resolve_job_def("train").execute_in_process(
            instance=self.instance, run_config={"ops": {"typical_windows": {"config": config}}}
        )
        assert result.success
        event = self.instance.get_latest_materialization_event(dg.AssetKey("typical_windows"))
        return event.asset_materialization


@pytest.fixture
def run(tmp_path: Path):
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    wh = Warehouse(tmp_path / "aco.duckdb")
    wh.replace_rows("windows", windows(DAY, 1440), where="day = ?", params=[DAY])  # 00-02 UTC
    storage = StorageResource(data_dir=str(tmp_path), archive_root=str(tmp_path))
    job = dg.define_asset_job("train", selection=dg.AssetSelection.assets(*KEYS))
    defs = dg.Definitions(
        assets=[reviewer_verdicts, typical_windows], jobs=[job], resources={"storage": storage}
    )
    with dg.instance_for_test() as instance:
        yield Runs(wh, defs, instance)


def _version(m: dg.AssetMaterialization, key: str = "dagster/data_version") -> str:
    return m.tags[key]


def test_the_data_version_is_the_selection_id_of_the_current_selection(run):
    first = run([14])
    ref = current_selection(run.warehouse)
    assert _version(first) == ref.selection_id == first.metadata["selection_id"].value
    assert first.metadata["n_typical"].value == 720
    # the same rows from other settings: the same version; other rows: a new one
    assert _version(run([14, 20])) == ref.selection_id
    assert run([14, 20]).metadata["selection_replaced"].value is True
    other = run([15])
    assert _version(other) != ref.selection_id
    assert current_selection(run.warehouse).selection_id == _version(other)


def test_imported_verdicts_change_the_observed_version_the_selection_read(run):
    before = _version(run([14]), "dagster/input_data_version/reviewer_verdicts")
    run.warehouse.replace_rows(
        "reviews",
        pa.table({"detection_id": ["x"], "verdict": ["false_alarm"], "source_file": ["t"]}),
        where="source_file = ?",
        params=["t"],
    )
    after = _version(run([14]), "dagster/input_data_version/reviewer_verdicts")
    assert after != before
    observed = run.instance.fetch_observations(dg.AssetKey("reviewer_verdicts"), limit=1)
    observation = observed.records[0].asset_observation
    assert observation.data_version == after
    assert observation.metadata["n_verdicts"].value == 1
