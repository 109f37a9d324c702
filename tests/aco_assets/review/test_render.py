"""Tests of aco_assets.review.render: clips and pictures, Raven tables, reviewer verdicts."""

from __future__ import annotations

import base64
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aco_assets.hydrophone import Clip
from aco_assets.review.render import (
    RAVEN_COLUMNS,
    ReviewError,
    VerdictError,
    parse_verdict,
    raven_selection_table,
    read_raven_table,
    read_verdicts,
    render_review,
    review_clip_name,
    review_figure,
    review_spectrogram,
    selection_row,
    thumbnail_markdown,
)

FS = 24000
T0 = datetime(2016, 2, 15, 5, 0, 0)
PARAMS = {"nfft": 4096, "hop_samples": 1024, "window_s": 5.0}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def clip(rng) -> Clip:
    """30 s of noise over an offset, with a 1 kHz tone from 12 s to 14 s and a short gap."""
    n = 30 * FS
    t = np.arange(n) / FS
    x = 5e4 + rng.normal(0, 3000, n) + 2e4 * ((t >= 12) & (t < 14)) * np.sin(2 * np.pi * 1000 * t)
    x[int(15 * FS) : int(15.2 * FS)] = np.nan
    return Clip(x, start_utc=T0, sample_rate_hz=FS)


def detection(rank: int = 1, start_s: float = 12.0, end_s: float = 14.0) -> dict:
    return {
        "start_utc": T0 + timedelta(seconds=start_s),
        "end_utc": T0 + timedelta(seconds=end_s),
        "f_low_hz": 800.0,
        "f_high_hz": 1200.0,
        "peak_score": 7.25,
        "rank": rank,
        "band": "mid",
        "model_version": "3",
    }


# ---------------------------------------------------------------- render_review


def test_render_review_writes_a_wav_with_context_and_a_small_png(clip, tmp_path):
    det = detection()
    r = render_review(
        clip, det, wav_path=tmp_path / "a.wav", png_path=tmp_path / "a.png", context_s=2.0
    )
    audio, rate = sf.read(r.wav_path)
    assert rate == FS and len(audio) == 6 * FS and r.clip_duration_s == pytest.approx(6.0)
    assert r.clip_start_utc == T0 + timedelta(seconds=10)
    assert np.max(np.abs(audio)) == pytest.approx(0.9, abs=1e-3)
    # The tone, not the offset or the noise, dominates the detection's part of the WAV.
    inside = audio[2 * FS : 4 * FS]
    outside = np.concatenate([audio[:FS], audio[5 * FS :]])
    assert np.std(inside) > 4 * np.std(outside)
    png = r.png_path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < 150_000
    thumb = base64.b64decode(r.thumbnail_b64)
    assert thumb[:4] == b"\x89PNG" and len(r.thumbnail_b64) < 40_000
    assert thumbnail_markdown(r.thumbnail_b64).startswith("![detection](data:image/png;base64,")
    assert (r.nfft, r.hop) == (256, 64)  # 400 Hz band: the shortest FFT resolves it


def test_render_review_cuts_context_at_the_clip_edges_and_resolves_low_tones(clip, tmp_path):
    det = detection(start_s=0.5, end_s=3.0) | {"f_low_hz": 15.0, "f_high_hz": 20.0}
    r = render_review(clip, det, wav_path=tmp_path / "b.wav", png_path=tmp_path / "b.png")
    assert r.clip_start_utc == T0 and r.clip_duration_s == pytest.approx(5.0)
    assert FS / r.nfft <= 5.0 / 2  # at least 2 bins across a 5 Hz band near 17 Hz


def test_render_review_refuses_a_detection_outside_the_clip(clip, tmp_path):
    with pytest.raises(ReviewError, match="outside the clip"):
        render_review(
            clip,
            detection(start_s=100, end_s=101),
            wav_path=tmp_path / "c.wav",
            png_path=tmp_path / "c.png",
            context_s=1.0,
        )


# ---------------------------------------------------------------- Raven tables


def rows_for(tmp_path: Path) -> list[dict]:
    rows = []
    for rank, (start_s, dur_s) in enumerate([(12.0, 2.0), (100.25, 1.5), (3600.0, 30.0)], 1):
        clip_start = T0 + timedelta(seconds=start_s - 2)
        rows.append(
            {
                "start_utc": T0 + timedelta(seconds=start_s),
                "end_utc": T0 + timedelta(seconds=start_s + dur_s),
                "f_low_hz": 100.0 * rank,
                "f_high_hz": 1000.0 * rank,
                "score": 10.0 / rank,
                "rank": rank,
                "model_version": "3",
                "wav_path": tmp_path / review_clip_name(rank, clip_start),
                "clip_start_utc": clip_start,
                "clip_duration_s": dur_s + 4.0,
            }
        )
    return rows


def test_raven_table_has_raven_columns_first_then_ours_and_round_trips(tmp_path):
    rows = rows_for(tmp_path)
    path = raven_selection_table(rows, tmp_path / "sel.txt", front_end_params=PARAMS)
    header = path.read_text().split("\n", 1)[0].split("\t")
    assert header == [*RAVEN_COLUMNS, "nfft", "hop_samples", "window_s", "Verdict"]
    back = read_raven_table(path)
    assert [r["Selection"] for r in back] == [1, 2, 3]
    assert {r["View"] for r in back} == {"Spectrogram 1"} and {r["Channel"] for r in back} == {1}
    # Sequence times: clip 1 is 6 s long, clip 2 5.5 s; each selection is 2 s into its clip.
    assert [r["File Offset (s)"] for r in back] == [2.0, 2.0, 2.0]
    assert [r["Begin Time (s)"] for r in back] == [2.0, 8.0, 13.5]
    assert [r["End Time (s)"] for r in back] == [4.0, 9.5, 43.5]
    for row, r in zip(rows, back, strict=True):
        assert r["Begin UTC"] == row["start_utc"]
        assert r["Begin File"] == row["wav_path"].name
        assert r["Begin Path"] == row["wav_path"].name  # relative to the table's folder
        assert (r["Low Freq (Hz)"], r["High Freq (Hz)"]) == (row["f_low_hz"], row["f_high_hz"])
        assert (r["Score"], r["Rank"], r["Model Version"]) == (row["score"], row["rank"], "3")
        assert (r["nfft"], r["window_s"], r["Verdict"]) == ("4096", "5.0", "")


def test_raven_table_per_file_times_equal_the_file_offset(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "clip_duration_s"} for r in rows_for(tmp_path)]
    path = raven_selection_table(
        rows, tmp_path / "f.txt", front_end_params={}, time_reference="file", verdict_column=False
    )
    back = read_raven_table(path)
    assert [r["Begin Time (s)"] for r in back] == [2.0, 2.0, 2.0]
    assert list(back[0]) == list(RAVEN_COLUMNS)
    # without clip durations the selection is cut only at the clip's start
    assert [r["End Time (s)"] for r in back] == [4.0, 3.5, 32.0]


def test_review_clip_names_sort_in_rank_order():
    names = [review_clip_name(r, T0 + timedelta(hours=10 - r)) for r in (1, 2, 10, 100)]
    assert names == sorted(names) and names[0] == "r001_2016-02-15T14-00-00.000.wav"


def test_raven_table_errors_name_the_row_and_the_problem(tmp_path):
    rows = rows_for(tmp_path)
    del rows[1]["rank"]
    with pytest.raises(ReviewError, match=r"row 1 .* lacks \['rank'\]"):
        raven_selection_table(rows, tmp_path / "x.txt", front_end_params={})
    with pytest.raises(ReviewError, match="clash with Raven columns"):
        raven_selection_table(rows_for(tmp_path), tmp_path / "x.txt", front_end_params={"Rank": 1})
    bad = rows_for(tmp_path)
    bad[0]["model_version"] = "a\tb"
    with pytest.raises(ReviewError, match="tab or newline"):
        raven_selection_table(bad, tmp_path / "x.txt", front_end_params={})
    (tmp_path / "not.txt").write_text("a\tb\n1\t2\n")
    with pytest.raises(ReviewError, match="not a Raven selection table"):
        read_raven_table(tmp_path / "not.txt")


def test_selection_row_joins_a_detection_and_its_render(clip, tmp_path):
    det = detection()
    r = render_review(clip, det, wav_path=tmp_path / "a.wav", png_path=tmp_path / "a.png")
    path = raven_selection_table([selection_row(det, r)], tmp_path / "s.txt", front_end_params={})
    (row,) = read_raven_table(path)
    assert row["File Offset (s)"] == pytest.approx(2.0) and row["Score"] == 7.25


# ---------------------------------------------------------------- verdicts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("True event", ("true_event", None)),  # words, any case
        ("yes", ("true_event", None)),
        ("humpback", ("true_event", "humpback")),  # a class name is a true event
        ("true:blue_whale", ("true_event", "blue_whale")),
        ("False-Alarm", ("false_alarm", None)),
        ("fp", ("false_alarm", None)),
        ("data fault", ("data_fault", None)),
        ("glitch_spike", ("data_fault", "glitch_spike")),  # a glitch class is a data fault
        ("  ", None),  # not reviewed
    ],
)
def test_parse_verdict_normalises_words_and_classes(text, expected):
    assert parse_verdict(text) == expected


def test_verdicts_come_back_from_a_filled_raven_table(tmp_path):
    path = raven_selection_table(rows_for(tmp_path), tmp_path / "v.txt", front_end_params=PARAMS)
    lines = path.read_text().split("\n")
    lines[1] += "humpback"
    lines[3] += "false alarm"  # selection 2 stays unreviewed
    path.write_text("\n".join(lines))
    verdicts = read_verdicts(path)
    assert [(v.selection, v.verdict, v.class_name) for v in verdicts] == [
        (1, "true_event", "humpback"),
        (3, "false_alarm", None),
    ]
    assert verdicts[0].begin_utc == T0 + timedelta(seconds=12) and verdicts[1].line == 4


def test_verdicts_come_back_from_a_csv_with_ids_and_notes(tmp_path):
    path = tmp_path / "v.csv"
    path.write_text("detection_id,verdict,note\nd-1,TRUE,clear song\nd-2,fault,\n")
    v = read_verdicts(path)
    assert [(x.detection_id, x.verdict, x.note) for x in v] == [
        ("d-1", "true_event", "clear song"),
        ("d-2", "data_fault", ""),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("detection_id,label\nd-1,yes\n", "has no 'Verdict' column"),  # missing column
        ("note,verdict\nx,yes\n", "has no key column"),  # no key to the detection
        ("detection_id,verdict\nd-1,yes\nd-2,maybe\n", r"line 3: unknown verdict 'maybe'"),
        ("detection_id,selection,verdict\n,,yes\n", "line 2: no Selection"),
        ("selection,verdict\nfirst,yes\n", "line 2: bad key"),
    ],
)
def test_verdict_errors_name_the_file_and_row(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(VerdictError, match=message) as e:
        read_verdicts(path)
    assert "bad.csv" in str(e.value)


def test_render_review_caps_a_long_detection_around_its_peak(clip, tmp_path):
    det = detection(start_s=1.0, end_s=29.0) | {"peak_utc": T0 + timedelta(seconds=20)}
    r = render_review(
        clip, det, wav_path=tmp_path / "d.wav", png_path=tmp_path / "d.png", max_duration_s=10.0
    )
    assert r.clip_start_utc == T0 + timedelta(seconds=15)
    assert sf.info(str(r.wav_path)).duration == pytest.approx(10.0)


# ---------------------------------------------------------------- selections inside their clips


@pytest.mark.parametrize(
    ("start_s", "end_s", "peak_s"),
    [
        (1.0, 136.0, 68.0),  # a 135 s detection, longer than the 120 s clip
        (1.0, 136.0, 130.0),  # its peak near the end: the clip starts ~50 s after the detection
        (1.0, 136.0, 2.0),  # its peak near the start
        (10.0, 12.0, 11.0),  # a short one, context on both sides
    ],
)
def test_every_selection_lies_inside_its_clip(tmp_path, start_s, end_s, peak_s):
    rate = 2000  # a low rate keeps the 120 s picture quick to draw
    long = Clip(
        np.random.default_rng(1).normal(0, 1, 140 * rate), start_utc=T0, sample_rate_hz=rate
    )
    det = detection(start_s=start_s, end_s=end_s) | {
        "peak_utc": T0 + timedelta(seconds=peak_s),
        "f_low_hz": 100.0,
        "f_high_hz": 300.0,
    }
    r = render_review(long, det, wav_path=tmp_path / "l.wav", png_path=tmp_path / "l.png")
    path = raven_selection_table([selection_row(det, r)], tmp_path / "l.txt", front_end_params={})
    (row,) = read_raven_table(path)
    wav_s = sf.info(str(r.wav_path)).duration
    assert wav_s <= 120.0 + 1e-6
    assert 0.0 <= row["File Offset (s)"] < row["End Time (s)"] <= wav_s + 1e-6
    assert row["Begin UTC"] == r.clip_start_utc + timedelta(seconds=row["File Offset (s)"])
    # the whole detection stays named beside the selection
    assert row["Detection Begin UTC"] == det["start_utc"]
    assert row["Detection End UTC"] == det["end_utc"]


def test_a_clip_starting_in_an_archive_gap_is_shaded_not_drawn_as_silence(rng, tmp_path):
    x = rng.normal(0, 3000, 20 * FS)
    x[: 8 * FS] = np.nan  # the archive has nothing for the clip's first 8 s
    gappy = Clip(x, start_utc=T0, sample_rate_hz=FS)
    det = detection(start_s=9.0, end_s=11.0)
    r = render_review(
        gappy, det | {"start_utc": T0 + timedelta(seconds=3)}, wav_path=tmp_path / "g.wav",
        png_path=tmp_path / "g.png", context_s=0.0,
    )  # fmt: skip
    assert r.missing_s == pytest.approx(5.0)
    spec = review_spectrogram(gappy[3 * FS : 11 * FS], 800.0, 1200.0)
    in_gap = spec.times_s + r.nfft / 2 / FS < 5.0
    assert np.isnan(spec.power_db[:, in_gap]).all()
    assert np.isfinite(spec.power_db[:, spec.times_s > 5.5]).all()
    assert spec.gaps_s == ((0.0, 5.0),)
    fig = review_figure(spec, T0 + timedelta(seconds=3), det, figsize=(8, 3), labels=True)
    vmin, _ = fig.axes[0].collections[0].get_clim()
    assert vmin > 0.0  # noise of 3000 counts is ~ +20 dB re 1 count²/Hz; silence would be -120
    assert "no archive data" in fig.axes[0].get_xlabel()
    path = raven_selection_table([selection_row(det, r)], tmp_path / "g.txt", front_end_params={})
    assert read_raven_table(path)[0]["Missing (s)"] == pytest.approx(5.0)


def test_a_moved_review_folder_still_finds_its_clips(clip, tmp_path):
    day = tmp_path / "data" / "review" / "2016-02-15"
    day.mkdir(parents=True)
    det = detection()
    r = render_review(clip, det, wav_path=day / "a.wav", png_path=day / "a.png")
    raven_selection_table([selection_row(det, r)], day / "t.txt", front_end_params={})
    moved = tmp_path / "elsewhere"
    subprocess.run(["cp", "-a", str(tmp_path / "data"), str(moved)], check=True)
    shutil.rmtree(tmp_path / "data")
    table = moved / "review" / "2016-02-15" / "t.txt"
    (row,) = read_raven_table(table)
    assert not Path(row["Begin Path"]).is_absolute()
    assert sf.info(str(table.parent / row["Begin Path"])).duration == pytest.approx(6.0)
