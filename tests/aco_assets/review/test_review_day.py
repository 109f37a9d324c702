"""The pure half of the review_clips stage: spans, renders, rows, pending verdicts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from aco_assets.hydrophone import Clip
from aco_assets.review.raven import ReviewVerdict
from aco_assets.review.review_day import (
    clip_span,
    front_end_params,
    pending_verdicts,
    render_day,
    review_clip_rows,
    table_name,
)

T0 = dt.datetime(2016, 2, 15, 5, 0, 0)
FS = 2000


def det(rank: int, start_s: float, end_s: float) -> dict:
    return {
        "detection_id": f"20160215-{rank}",
        "rank_in_day": rank,
        "start_utc": T0 + dt.timedelta(seconds=start_s),
        "end_utc": T0 + dt.timedelta(seconds=end_s),
        "peak_utc": T0 + dt.timedelta(seconds=start_s),
        "f_low_hz": 100.0,
        "f_high_hz": 300.0,
        "peak_score": 5.0,
        "model_version": 2,
    }


class NoiseArchive:
    """Loads noise for any span (what render_day needs of an Archive)."""

    def __init__(self) -> None:
        self.loads: list[tuple[dt.datetime, float]] = []

    def load(self, start: dt.datetime, duration_s: float, *, on_fault: str = "raise") -> Clip:
        self.loads.append((start, duration_s))
        x = np.random.default_rng(0).normal(0, 100, int(round(duration_s * FS)))
        return Clip(x, start_utc=start, sample_rate_hz=FS)


def test_clip_span_adds_context_and_caps_around_the_peak():
    assert clip_span(det(1, 10, 12), context_s=2.0, max_duration_s=120.0) == (
        T0 + dt.timedelta(seconds=8),
        6.0,
    )
    start, length = clip_span(det(1, 0, 300), context_s=2.0, max_duration_s=60.0)
    assert length == 60.0 and start == T0 - dt.timedelta(seconds=2)  # peak at the start


def test_render_day_renders_in_rank_order_and_rows_point_at_the_files(tmp_path: Path):
    archive = NoiseArchive()
    dets = [det(1, 10, 12), det(2, 30, 31)]
    rendered = render_day(archive, dets, tmp_path, context_s=1.0, max_duration_s=120.0)
    assert [c.detection["rank_in_day"] for c in rendered] == [1, 2]
    assert archive.loads[0] == (T0 + dt.timedelta(seconds=9), 4.0)
    assert all(c.render.wav_path.is_file() and c.render.png_path.is_file() for c in rendered)
    assert rendered[0].render.wav_path.name.startswith("r001_")
    raven = tmp_path / table_name(T0.date())
    rows = review_clip_rows(T0.date(), rendered, raven, tmp_path.parent).to_pylist()
    assert [r["detection_id"] for r in rows] == ["20160215-1", "20160215-2"]
    assert rows[0]["wav_path"] == f"{tmp_path.name}/{rendered[0].render.wav_path.name}"
    assert rows[0]["raven_path"] == f"{tmp_path.name}/2016-02-15.selections.txt"
    assert rows[0]["clip_end_utc"] - rows[0]["clip_start_utc"] == dt.timedelta(seconds=4)
    assert review_clip_rows(T0.date(), (), raven, tmp_path.parent).num_rows == 0


def test_front_end_params_are_the_raven_columns_of_the_front_end():
    reference = {"front_end": {"window_s": 5.0, "nfft": 4096, "other": 1}}
    assert front_end_params(reference) == {"fe_window_s": 5.0, "fe_nfft": 4096}


def verdict(detection_id: str | None, begin_s: float | None, word: str = "true_event"):
    begin = None if begin_s is None else T0 + dt.timedelta(seconds=begin_s)
    return ReviewVerdict(1, 1, begin, detection_id, word, None, "")


@pytest.mark.parametrize(
    ("v", "pending"),
    [
        (verdict("20160215-1", 10.0), False),  # the same detection, verdict and start
        (verdict("20160215-1", 10.3), False),  # within the tolerance
        (verdict(None, 10.2), False),  # by start alone
        (verdict("20160215-1", 11.0), True),  # another start
        (verdict("20160215-1", 10.0, "false_alarm"), True),  # another verdict
        (verdict("20160215-9", None), True),  # another detection
    ],
)
def test_pending_verdicts_match_by_detection_start_verdict_and_class(v, pending):
    reviews = [
        {
            "detection_id": "20160215-1",
            "begin_utc": T0 + dt.timedelta(seconds=10),
            "verdict": "true_event",
            "class_name": "",
        }
    ]
    assert pending_verdicts([v], reviews) == ([v] if pending else [])


def test_render_day_on_two_workers_writes_the_clips_one_worker_writes(synthetic_archive, tmp_path):
    from aco_assets.hydrophone import Archive

    archive = Archive(synthetic_archive)
    first = archive.files()[0]
    t0 = first.nominal_start_utc
    dets = [
        {**det(rank, 0, 1), "start_utc": t0 + dt.timedelta(seconds=s),
         "end_utc": t0 + dt.timedelta(seconds=s + 2), "peak_utc": t0 + dt.timedelta(seconds=s)}
        for rank, s in ((1, 40.0), (2, 10.0), (3, 100.0))
    ]  # fmt: skip
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
    one = render_day(archive, dets, tmp_path / "one", context_s=1.0, max_duration_s=120.0)
    two = render_day(
        Archive(synthetic_archive), dets, tmp_path / "two", context_s=1.0, max_duration_s=120.0,
        workers=2,
    )  # fmt: skip
    assert [c.detection["rank_in_day"] for c in two] == [1, 2, 3]  # rank order, as given
    for a, b in zip(one, two, strict=True):
        assert a.render.wav_path.read_bytes() == b.render.wav_path.read_bytes()
        assert a.render.png_path.name == b.render.png_path.name
        assert a.render.thumbnail_b64 == b.render.thumbnail_b64
