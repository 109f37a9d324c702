"""The archive writer: format fidelity, catalog consistency, faults and determinism."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from aco_assets.hydrophone import parse_file_name, read_file
from aco_assets.synth import (
    ALL_FAULT_CLASSES,
    EVENT_CLASSES,
    EVENT_SCHEMA,
    FAULT_CLASSES,
    FAULT_SCHEMA,
    PRESETS,
    CatalogError,
    SynthError,
    read_catalog,
    read_faults,
    read_manifest,
    synthesize_file,
    write_archive,
)
from aco_assets.synth.archive import GLITCH_FAULTS


def _files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.HYD24BBpk"))


def _at(start_utc: dt.datetime, sample: int) -> dt.datetime:
    return start_utc + dt.timedelta(seconds=int(sample) / 24000)


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in [*_files(root), *(root / n for n in ("catalog.parquet", "faults.parquet"))]
    }


def test_archive_has_the_real_tree_names_and_layouts(test_archive):
    files = _files(test_archive.root)
    assert len(files) == test_archive.n_files == 5  # six slots, one missing-file fault
    for path in files:
        nominal = parse_file_name(path.name)
        assert path.relative_to(test_archive.root).as_posix() == (
            f"{nominal:%Y/%m/%d}/{nominal:%Y-%m-%d--%H.%M}.HYD24BBpk"
        )
        raw = read_file(path, on_fault="skip")
        assert raw.layout == ("A" if nominal < dt.datetime(2016, 12, 1) else "B")
        assert 0 <= (raw.start_utc - nominal).total_seconds() < 0.1
        assert raw.n_records in (1757, 1758) or any(
            f.kind == "truncated_record" for f in raw.faults
        )
    assert {p.parent.name for p in files} == {"30", "01"}


def test_every_intact_file_reads_back_exactly(test_archive):
    faulty = {
        r["file"] for r in read_faults(test_archive.root).to_pylist() if r["class"] in FAULT_CLASSES
    }
    intact = [
        p
        for p in _files(test_archive.root)
        if p.relative_to(test_archive.root).as_posix() not in faulty
    ]
    assert intact
    for path in intact:
        raw = read_file(path, on_fault="raise")
        start_utc, samples, _, _ = synthesize_file(
            parse_file_name(path.name),
            seed=read_manifest(test_archive.root)["seed"],
            rate_scale=PRESETS["test"].rate_scale,
        )
        assert raw.start_utc == start_utc
        np.testing.assert_array_equal(raw.samples, samples)
        assert raw.valid.all()
        assert set(np.unique(raw.bits)) <= {16, 17, 18, 19, 20, 21, 22, 23, 24}


def test_catalog_and_faults_have_the_contract_schema_and_manifest(test_archive):
    table = read_catalog(test_archive.catalog_path)
    assert isinstance(table, pa.Table)
    assert table.schema.equals(EVENT_SCHEMA)
    rows = table.to_pylist()
    assert [r["event_id"] for r in rows] == list(range(len(rows)))
    assert {r["class"] for r in rows} <= set(EVENT_CLASSES) - set(GLITCH_FAULTS)
    assert len({r["class"] for r in rows}) >= 4
    assert all(r["source"].startswith("synthetic:") for r in rows)
    assert all(r["group"] == r["event_id"] for r in rows)  # the demo's events stand alone
    faults = read_faults(test_archive.root)
    assert faults.schema.equals(FAULT_SCHEMA)
    assert set(faults["class"].to_pylist()) <= set(ALL_FAULT_CLASSES)
    manifest = read_manifest(test_archive.root)
    assert manifest["preset"] == "test" and manifest["seed"] == 7
    assert manifest["n_events"] == test_archive.n_events == len(rows)
    assert manifest["n_faults"] == test_archive.n_faults == faults.num_rows
    assert json.loads((test_archive.root / "archive.json").read_text())["version"]


def test_events_lie_inside_their_files(test_archive):
    for r in read_catalog(test_archive.root).to_pylist():
        nominal = parse_file_name(r["file"])
        assert nominal <= r["start_utc"] < r["end_utc"] <= nominal + dt.timedelta(seconds=300.3)
        assert 0.0 <= r["low_hz"] < r["high_hz"] <= 12000.0
        assert -6.0 <= r["snr_db"] <= 30.0


def test_each_fault_is_catalogued_once_and_seen_by_the_reader(test_archive):
    faults = [r for r in read_faults(test_archive.root).to_pylist() if r["class"] in FAULT_CLASSES]
    assert sorted(r["class"] for r in faults) == sorted(FAULT_CLASSES)
    assert all(r["detail"] for r in faults)
    expected_kind = {"truncated_file": "truncated_record", "corrupt_width": "bad_width"}
    for r in faults:
        path = test_archive.root / r["file"]
        if r["class"] == "missing_file":
            assert not path.exists()
            continue
        raw = read_file(path, on_fault="skip")
        assert expected_kind[r["class"]] in {f.kind for f in raw.faults}
        # the catalogued span starts where the reader's missing samples start; a bad width
        # loses one record, a truncation everything to the end of the file as it was written
        first, last = np.flatnonzero(~raw.valid)[[0, -1]]
        assert abs(_at(raw.start_utc, first) - r["start_utc"]) < dt.timedelta(microseconds=100)
        if r["class"] == "corrupt_width":
            assert last - first + 1 == 4096
            assert abs(_at(raw.start_utc, last + 1) - r["end_utc"]) < dt.timedelta(microseconds=100)
        else:
            n_written = synthesize_file(
                parse_file_name(path.name), seed=7, rate_scale=PRESETS["test"].rate_scale
            )[1].size
            assert abs(_at(raw.start_utc, n_written) - r["end_utc"]) < dt.timedelta(
                microseconds=100
            )
        # no event of the catalog starts in the part a truncation removed
        events = read_catalog(test_archive.root).to_pylist()
        if r["class"] == "truncated_file":
            assert all(e["start_utc"] < r["start_utc"] for e in events if e["file"] == r["file"])


def test_same_seed_gives_same_bytes_and_another_seed_differs(tmp_path):
    kwargs = dict(preset="test", days=1, files_per_day=1)
    a = write_archive(tmp_path / "a", seed=3, **kwargs)
    b = write_archive(tmp_path / "b", seed=3, **kwargs)
    c = write_archive(tmp_path / "c", seed=4, **kwargs)
    assert _digest(a.root) == _digest(b.root)
    digest_c = _digest(c.root)
    assert digest_c.keys() == _digest(a.root).keys()
    # every file and the events differ (both faults tables are empty: no faults requested)
    assert all(digest_c[k] != v for k, v in _digest(a.root).items() if k != "faults.parquet")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(preset="huge"), "unknown preset"),  # not a preset
        (dict(preset="test", days=0), "days=0"),  # empty span
        (dict(preset="test", files_per_day=289), "files_per_day=289"),  # more than 288 slots
        (dict(preset="test", days=1, files_per_day=2, faults=True), "at least 3 files"),  # too few
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(tmp_path, kwargs, match):
    with pytest.raises(SynthError, match=match):
        write_archive(tmp_path, **kwargs)


def test_reading_a_catalog_that_is_not_there_names_the_path(tmp_path):
    with pytest.raises(CatalogError, match="no catalog"):
        read_catalog(tmp_path)


def test_each_table_has_its_csv_beside_the_parquet_with_the_same_rows(test_archive):
    import pyarrow.csv as pacsv

    for name, read in (("catalog", read_catalog), ("faults", read_faults)):
        table = read(test_archive.root)
        csv = pacsv.read_csv(test_archive.root / f"{name}.csv")
        assert csv.column_names == table.column_names
        assert csv.num_rows == table.num_rows
        id_column = table.column_names[0]
        assert csv[id_column].to_pylist() == table[id_column].to_pylist()


def test_the_demo_glitches_are_faults_not_events(tmp_path):
    summary = write_archive(tmp_path, preset="test", seed=7, days=1, files_per_day=3)
    classes = set(read_catalog(summary.root)["class"].to_pylist())
    assert not classes & set(GLITCH_FAULTS)
    fault_classes = set(read_faults(summary.root)["class"].to_pylist())
    assert fault_classes <= set(GLITCH_FAULTS.values())


def test_a_catalog_of_the_old_schema_is_refused_naming_the_file(tmp_path):
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table({"event_id": [0], "kind": ["event"], "label": ["x"]}), tmp_path / "catalog.parquet"
    )
    with pytest.raises(CatalogError, match="catalog.parquet: schema differs"):
        read_catalog(tmp_path)
    with pytest.raises(CatalogError, match="no faults.parquet"):
        read_faults(tmp_path)
