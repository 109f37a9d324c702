"""The ``review_clips`` asset on the session's materialized synthetic lineage."""

from __future__ import annotations

import datetime as dt

import pytest
import soundfile as sf

from aco_assets.defs.review.review_clips import clip_span, review_clips, selections_path
from aco_assets.review.render import read_raven_table


def _config(**values) -> dict:
    return {"ops": {"review_clips": {"config": values}}}


@pytest.fixture(scope="module")
def busiest_day(lineage) -> str:
    """The partition with the most detections (the tiny detector finds some on the test archive)."""
    rows = (
        lineage.warehouse()
        .query(
            "SELECT day, count(*) AS n FROM detections GROUP BY day ORDER BY n DESC, day LIMIT 1"
        )
        .to_pylist()
    )
    assert rows and rows[0]["n"] >= 2, (
        "the lineage fixture should give at least two detections a day"
    )
    return rows[0]["day"].isoformat()


def test_clips_pictures_raven_table_and_rows_for_the_top_k(lineage, busiest_day):
    result = lineage.materialize(
        [review_clips], partition_key=busiest_day, run_config=_config(top_k=2)
    )
    wh, day = lineage.warehouse(), dt.date.fromisoformat(busiest_day)
    dets = wh.query(
        "SELECT * FROM detections WHERE day = ? ORDER BY rank_in_day LIMIT 2", [day]
    ).to_pylist()
    rows = wh.query(
        "SELECT * FROM review_clips WHERE day = ? ORDER BY rank_in_day", [day]
    ).to_pylist()
    assert [r["detection_id"] for r in rows] == [d["detection_id"] for d in dets]
    for det, row in zip(dets, rows, strict=True):
        info = sf.info(str(lineage.data / row["wav_path"]))  # paths relative to the data folder
        assert info.samplerate == 24000
        # The detection plus 2 s of context, or 120 s around the peak of a longer detection.
        start, length = clip_span(det, context_s=2.0, max_duration_s=120.0)
        assert abs((row["clip_start_utc"] - start).total_seconds()) < 1e-3
        assert info.duration == pytest.approx(length, abs=1e-3)
        assert row["clip_end_utc"] - row["clip_start_utc"] == dt.timedelta(seconds=info.duration)
        with open(lineage.data / row["png_path"], "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        assert row["model_version"] == det["model_version"]
    raven = read_raven_table(selections_path(lineage.resources["storage"].layout(), day))
    assert [r["Rank"] for r in raven] == [1, 2]
    assert [r["Begin UTC"] for r in raven] == [d["start_utc"] for d in dets]
    assert raven[0]["fe_window_s"] == "5.0" and raven[0]["Model Version"] == str(
        dets[0]["model_version"]
    )
    assert raven[0]["Low Freq (Hz)"] == pytest.approx(dets[0]["f_low_hz"], abs=1e-3)
    metadata = result.asset_materializations_for_node("review_clips")[0].metadata
    assert metadata["clips"].value == 2
    assert metadata["top_clips"].value.count("data:image/png;base64,") == 2


def test_a_rerun_replaces_the_rows_and_removes_stale_files(lineage, busiest_day):
    day = dt.date.fromisoformat(busiest_day)
    lineage.materialize([review_clips], partition_key=busiest_day, run_config=_config(top_k=3))
    lineage.materialize([review_clips], partition_key=busiest_day, run_config=_config(top_k=1))
    rows = lineage.warehouse().query("SELECT * FROM review_clips WHERE day = ?", [day]).to_pylist()
    assert [r["rank_in_day"] for r in rows] == [1]
    layout = lineage.resources["storage"].layout()
    folder = layout.review_day_dir(day)
    assert len(list(folder.glob("*.wav"))) == 1 and len(list(folder.glob("*.png"))) == 1
    assert len(read_raven_table(selections_path(layout, day))) == 1
    # one rendered folder left for the day, the one the rows and the day's link point at
    (version,) = (layout.review_dir / ".versions" / busiest_day).iterdir()
    assert folder.resolve() == version.resolve()
    assert (lineage.data / rows[0]["wav_path"]).parent.resolve() == version.resolve()


def test_a_day_without_detections_gives_no_rows_and_an_empty_raven_table(lineage):
    day = min(lineage.days) - dt.timedelta(days=1)  # no files, so no detections
    lineage.materialize([review_clips], partition_key=day.isoformat())
    assert (
        lineage.warehouse().query("SELECT * FROM review_clips WHERE day = ?", [day]).num_rows == 0
    )
    assert read_raven_table(selections_path(lineage.resources["storage"].layout(), day)) == []


@pytest.mark.parametrize(
    ("seconds", "peak_s", "expected_start_s", "expected_length_s"),
    [
        (10.0, 5.0, -2.0, 14.0),  # short detection: context on both sides
        (600.0, 400.0, 340.0, 120.0),  # long detection: 120 s around its peak
    ],
)
def test_clip_span_adds_context_and_caps_long_detections(
    seconds, peak_s, expected_start_s, expected_length_s
):
    t0 = dt.datetime(2016, 2, 1)
    det = {
        "start_utc": t0,
        "end_utc": t0 + dt.timedelta(seconds=seconds),
        "peak_utc": t0 + dt.timedelta(seconds=peak_s),
    }
    start, length = clip_span(det, context_s=2.0, max_duration_s=120.0)
    assert (start - t0).total_seconds() == pytest.approx(expected_start_s)
    assert length == pytest.approx(expected_length_s)
