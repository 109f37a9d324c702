"""Input problems (issue 14): unreadable and misfiled files are rows, issues, counts and a failed
check, and the rest of the day still processes."""

from __future__ import annotations

import datetime as dt
import shutil

import dagster as dg
import numpy as np
import pytest

from aco_assets.defs.ingest.day_ingest import ingest
from aco_assets.hydrophone.coverage import SAMPLES_PER_FILE
from aco_assets.storage.layout import DataLayout
from orchestration.cli.report import pipeline_summary
from tests.conftest import lineage_resources

DAY = dt.date(2016, 11, 30)  # the last day of a month: an impossible folder 2016/11/31 lands here
FOLDER = "2016/11/30"

# entry -> (raw_files status, quality_issues kind, words of the reason)
PROBLEMS = {
    f"{FOLDER}/2016-11-30--22.00.HYD24BBpk": ("unreadable", "unreadable", "not a HYD24BBpk file"),
    f"{FOLDER}/2016-11-30--22.05.HYD24BBpk": ("unreadable", "unreadable", "holds no bytes"),
    f"{FOLDER}/2016-11-30--22.10.HYD24BBpk": ("unreadable", "unreadable", "a folder, not a file"),
    f"{FOLDER}/2016-11-30--25.00.HYD24BBpk": ("misfiled", "misfiled", "hour must be"),
    "2016/11/31/2016-11-31--00.00.HYD24BBpk": ("misfiled", "misfiled", "out of range"),
    f"{FOLDER}/2016-12-01--00.05.HYD24BBpk": ("misfiled", "misfiled", "Move it to 2016/12/01/"),
}


@pytest.fixture(scope="module")
def broken_day(synthetic_archive, tmp_path_factory):
    """The first day of the synthetic test archive plus six entries nothing can decode."""
    root = tmp_path_factory.mktemp("broken") / "archive"
    shutil.copytree(synthetic_archive / FOLDER, root / FOLDER)
    good = sorted((root / FOLDER).glob("*.HYD24BBpk"))
    for rel in PROBLEMS:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / f"{FOLDER}/2016-11-30--22.00.HYD24BBpk").write_bytes(
        np.random.default_rng(0).bytes(200_000)
    )
    (root / f"{FOLDER}/2016-11-30--22.05.HYD24BBpk").write_bytes(b"")
    (root / f"{FOLDER}/2016-11-30--22.10.HYD24BBpk").mkdir()
    for rel in list(PROBLEMS)[3:]:  # decodable bytes under names the archive rule refuses
        shutil.copyfile(good[0], root / rel)
    data = tmp_path_factory.mktemp("broken_data")
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [ingest],
            partition_key=DAY.isoformat(),
            resources=lineage_resources(root, data),
            instance=instance,
            run_config={"ops": {"ingest": {"config": {"workers": 1}}}},
        )
    from aco_assets.storage.warehouse import Warehouse

    return (
        root,
        data,
        [p.relative_to(root).as_posix() for p in good],
        result,
        Warehouse(data / "aco.duckdb"),
    )


def test_every_unreadable_or_misfiled_entry_is_a_raw_files_row_and_a_quality_issue(broken_day):
    _, _, good, _, wh = broken_day
    rows = {
        r["path"]: r for r in wh.query("SELECT * FROM raw_files WHERE day = ?", [DAY]).to_pylist()
    }
    assert set(rows) == set(good) | set(PROBLEMS)
    issues = wh.query(
        "SELECT file, kind, detail FROM quality_issues WHERE day = ? AND kind IN ('unreadable', 'misfiled')",
        [DAY],
    ).to_pylist()
    assert sorted(i["file"] for i in issues) == sorted(PROBLEMS)  # one issue per entry
    for i in issues:
        status, kind, words = PROBLEMS[i["file"]]
        assert (rows[i["file"]]["status"], i["kind"]) == (status, kind)
        assert words in rows[i["file"]]["reason"] and words in i["detail"], i
    assert "/tmp" not in " ".join(str(r["reason"]) + r["faults"] for r in rows.values())


def test_the_coverage_daily_summary_and_pipeline_summary_count_them(broken_day):
    root, data, good, _, wh = broken_day
    (c,) = wh.query("SELECT * FROM daily_summary WHERE day = ?", [DAY]).to_pylist()
    n_bad_ok = (
        wh.query("SELECT count(*) FROM raw_files WHERE day = ? AND status = 'faulty'", [DAY])
        .column(0)[0]
        .as_py()
    )
    assert (c["found"], c["unreadable"], c["misfiled"]) == (len(good) + 3, 3, 3)
    assert c["faulty"] == 6 + n_bad_ok and c["found"] + c["missing"] == 288
    # six files' worth of samples of which none decodes: the share is far from 1
    samples = wh.query(
        "SELECT sum(n_samples) FILTER (WHERE status IN ('ok', 'faulty')), "
        "sum(n_samples - n_missing_samples) FILTER (WHERE status IN ('ok', 'faulty')), "
        "sum(n_samples) FILTER (WHERE status = 'misfiled') FROM raw_files WHERE day = ?",
        [DAY],
    ).to_pylist()[0]
    total, decoded, misfiled = (float(v) for v in samples.values())
    assert c["decodable_share"] == pytest.approx(
        decoded / (total + misfiled + 3 * SAMPLES_PER_FILE)
    )
    text = pipeline_summary(DataLayout.resolve(data_dir=data, archive_root=root), [DAY])
    (line,) = [ln for ln in text.splitlines() if ln.strip().startswith(DAY.isoformat())]
    assert line.split()[1:6] == [
        str(len(good) + 3),
        str(c["faulty"]),
        "3",
        "3",
        f"{c['decodable_share']:.4f}",
    ]
    for rel, (status, _, words) in PROBLEMS.items():
        assert any(rel in ln and status in ln and words in ln for ln in text.splitlines()), rel


def test_files_are_decodable_fails_naming_the_files_not_read(broken_day):
    *_, result, _ = broken_day
    (check,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "files_are_decodable"
    ]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    meta = {k: v.value for k, v in check.metadata.items()}
    assert (meta["files_unreadable"], meta["files_misfiled"]) == (3, 3)
    assert "2016/11/30/2016-11-30--22.00.HYD24BBpk" in meta["files_not_read"]


def test_the_rest_of_the_day_still_processes(broken_day):
    *_, good, result, wh = broken_day
    assert result.success
    ok = wh.query("SELECT path FROM raw_files WHERE day = ? AND status IN ('ok', 'faulty')", [DAY])
    windowed = (
        wh.query("SELECT DISTINCT file FROM windows WHERE day = ?", [DAY]).column(0).to_pylist()
    )
    assert set(ok.column(0).to_pylist()) == set(good) and set(good) <= set(windowed)
    assert not set(windowed) & set(PROBLEMS)  # nothing of a misfiled entry is decoded


def test_one_pass_over_the_day_equals_raw_files_then_spectrograms_alone(broken_day, tmp_path):
    """The ingest step reads each file once for both assets; each asset materialized on its
    own (the UI's subsets) writes the same rows and features, the problem entries included."""
    from aco_assets.storage.feature_store import load_day_features
    from aco_assets.storage.warehouse import Warehouse

    root, data, _, _, together = broken_day
    alone = tmp_path / "alone"
    with dg.instance_for_test() as instance:
        for asset in ("raw_files", "spectrograms"):
            result = dg.materialize(
                [ingest],
                selection=[asset],
                partition_key=DAY.isoformat(),
                resources=lineage_resources(root, alone),
                instance=instance,
                run_config={"ops": {"ingest": {"config": {"workers": 2}}}},
            )
            events = result.get_asset_materialization_events()
            assert {e.asset_key.to_user_string() for e in events} == {asset}
    separate = Warehouse(alone / "aco.duckdb")
    for table, order in (
        ("raw_files", "path"),
        ("coverage", "day"),
        ("windows", "window_index"),
        ("quality_issues", "file, kind, start_utc, detail"),
    ):
        query = f"SELECT * FROM {table} ORDER BY {order}"
        assert separate.query(query).to_pylist() == together.query(query).to_pylist(), table
    layout = DataLayout.resolve(data_dir=alone)
    np.testing.assert_array_equal(
        load_day_features(layout.features_path(DAY)),
        load_day_features(DataLayout.resolve(data_dir=data).features_path(DAY)),
    )
