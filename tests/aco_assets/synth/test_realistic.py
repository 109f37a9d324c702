"""The realistic preset, built from the stand-in recordings folder (no real recordings needed)."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest

from aco_assets.hydrophone import parse_file_name, read_file
from aco_assets.synth import (
    EVENT_SCHEMA,
    FAULT_SCHEMA,
    PRESETS,
    SynthError,
    read_catalog,
    read_faults,
    write_archive,
)
from aco_assets.synth.archive import LAYOUT_B_FROM
from aco_assets.synth.bed import measure_background
from aco_assets.synth.hardness import WHALE_MONTHS, Hardness
from aco_assets.synth.realistic import _background, load_library
from aco_assets.synth.schedule import file_starts, is_evening
from aco_assets.synth.standin import PLANTED_CALLS, write_stand_in_sounds

REAL_CLASSES = {"humpback", "orca", "ping"}


@pytest.fixture(scope="session")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_stand_in_sounds(tmp_path_factory.mktemp("sounds"), seed=0)


@pytest.fixture(scope="session")
def realistic(sounds: Path, tmp_path_factory: pytest.TempPathFactory):
    """Two days of humpback peak season (layout B), three files a day, with faults."""
    root = tmp_path_factory.mktemp("realistic")
    return write_archive(
        root,
        preset="realistic",
        sounds=sounds,
        start=dt.date(2017, 3, 14),
        days=2,
        files_per_day=3,
        seed=1,
    )


def _digest(root: Path) -> dict[str, str]:
    paths = [*sorted(root.rglob("*.HYD24BBpk")), root / "catalog.parquet", root / "faults.parquet"]
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths
    }


def test_the_default_days_cover_both_layouts_whale_season_and_quiet_summer():
    spec = PRESETS["realistic"]
    days = [d + dt.timedelta(days=i) for d, n in spec.blocks for i in range(n)]
    assert len(days) >= 7 and spec.files_per_day == 8 and spec.faults
    assert {d < LAYOUT_B_FROM.date() for d in days} == {True, False}  # layouts A and B
    assert any(d.month in WHALE_MONTHS and d.month in (11, 12, 1, 2, 3) for d in days)  # blue too
    assert any(d.month in (6, 7, 8, 9) for d in days)  # low-traffic months
    assert any(is_evening(t) for t in file_starts(days[0], spec.files_per_day))


def test_same_seed_gives_same_bytes(sounds, tmp_path):
    kwargs = dict(preset="realistic", sounds=sounds, start=dt.date(2017, 2, 1), days=1)
    a = write_archive(tmp_path / "a", files_per_day=1, seed=5, **kwargs)
    b = write_archive(tmp_path / "b", files_per_day=1, seed=5, **kwargs)
    assert _digest(a.root) == _digest(b.root)


def test_tables_follow_the_schema_with_csv_beside(realistic):
    events, faults = read_catalog(realistic.root), read_faults(realistic.root)
    assert events.schema.equals(EVENT_SCHEMA) and faults.schema.equals(FAULT_SCHEMA)
    for name, table in (("catalog", events), ("faults", faults)):
        csv = pacsv.read_csv(realistic.root / f"{name}.csv")
        assert csv.column_names == table.column_names and csv.num_rows == table.num_rows
    assert {"missing_file", "truncated_file", "corrupt_width"} <= set(faults["class"].to_pylist())
    assert REAL_CLASSES & set(events["class"].to_pylist())


def test_events_lie_inside_their_files_and_real_ones_name_a_recording(realistic, sounds):
    rows = read_catalog(realistic.root).to_pylist()
    assert rows
    for r in rows:
        raw = read_file(realistic.root / r["file"], on_fault="skip")
        nominal = parse_file_name(r["file"])
        assert nominal <= r["start_utc"] < r["end_utc"] <= nominal + dt.timedelta(seconds=300.3)
        assert r["end_utc"] - r["start_utc"] <= dt.timedelta(seconds=raw.n_records * 4096 / 24000)
        assert -5.0 <= r["snr_db"] <= 20.0 and 0.0 <= r["low_hz"] < r["high_hz"] <= 12000.0
        if r["class"] in REAL_CLASSES:
            rel, at = r["source"].split("@")
            assert (sounds / rel).is_file() and at.endswith("s")
        else:
            assert r["source"].startswith("synthetic:")


def test_bouts_share_a_group_that_is_their_first_events_id(realistic):
    rows = read_catalog(realistic.root).to_pylist()
    by_group: dict[int, list[dict]] = {}
    for r in rows:
        by_group.setdefault(r["group"], []).append(r)
    for group, members in by_group.items():
        assert group == min(m["event_id"] for m in members)
        assert len({(m["class"], m["file"]) for m in members}) == 1


def test_background_seconds_chosen_by_measurement_exclude_the_planted_calls(sounds):
    bed = {r.rel: r for r in measure_background(sounds)}
    for rel, calls in PLANTED_CALLS.items():
        kept = bed[rel].kept
        for a, b in calls:
            assert not kept[int(a) : int(np.ceil(b))].any(), (rel, a, b)
    assert sum(int(r.kept.sum()) for r in bed.values()) >= 20


def test_a_missing_recording_is_named_relative_to_the_folder(sounds, tmp_path):
    copy = Path(shutil.copytree(sounds, tmp_path / "sounds"))
    (copy / "ooi-rca-whalebooks" / "chunk52.wav").unlink()
    with pytest.raises(SynthError, match="lacks ooi-rca-whalebooks/chunk52.wav"):
        load_library(copy)
    with pytest.raises(SynthError, match="--sounds DIR"):
        write_archive(tmp_path / "out", preset="realistic", days=1, files_per_day=1)


def test_the_cli_prints_the_missing_recording_and_exits_2_without_a_traceback(tmp_path, capsys):
    from tests.aco_assets.synth.test_cli import _run

    argv = ["synth", "--preset", "realistic", "--sounds", str(tmp_path), "--out", str(tmp_path)]
    assert _run([*argv, "--days", "1", "-q"]) == 2
    out, err = capsys.readouterr()
    assert "aco synth:" in out and "aco-acoio/out.mp3" in out and "Traceback" not in out + err
    assert _run(["synth", "--preset", "realistic", "--out", str(tmp_path), "-q"]) == 2
    assert "--sounds DIR" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("off", "other"),
    [
        ("faint_song", "shipping_hum"),  # the distant song does not move the hum
        ("shipping_hum", "faint_song"),  # nor the hum the song
        ("sea_state", "shipping_hum"),  # the sea state scales the bed only
    ],
)
def test_turning_one_hardness_factor_off_leaves_another_unchanged(sounds, off, other):
    lib = load_library(sounds)
    nominal = dt.datetime(2017, 2, 1, 0, 0)  # whale season; this seed gives this file song and hum
    n = 4096 * 300

    def layer(**flags: bool) -> np.ndarray:
        """What ``other`` adds, with ``off`` as given."""
        with_other = _background(nominal, n, lib, 3, Hardness(**{**flags, other: True}))
        without = _background(nominal, n, lib, 3, Hardness(**{**flags, other: False}))
        return with_other - without

    base = dict(shipping_hum=True, faint_song=True, sea_state=True, gain_drift=False)
    on = layer(**{**base, off: True})
    assert np.any(on != 0.0), f"{other} should be present in this file"
    np.testing.assert_allclose(on, layer(**{**base, off: False}), atol=1e-6)
