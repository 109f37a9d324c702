"""The calibration measurements, on signals whose answers are known, and the docs update."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile

from aco_assets.synth import calibration

SR = 24_000


def test_measure_finds_the_low_frequency_share_and_a_flat_slope_of_white_noise():
    rng = np.random.default_rng(0)
    t = np.arange(10 * SR) / SR
    white = rng.standard_normal(t.size)
    x = white + 3.0 * np.sin(2 * np.pi * 1.0 * t)  # 4.5 units of power below 20 Hz, 1 above
    m = calibration.measure("test", x)
    assert m.lf_share == pytest.approx(100 * 4.5 / 5.5, abs=1.0)
    assert m.slope_db_oct == pytest.approx(0.0, abs=0.3)
    assert m.rolloff_db == pytest.approx(0.0, abs=0.5)
    assert m.centroid_hz == pytest.approx(6010, rel=0.02)


def test_run_compares_real_and_synthetic_clips_and_rewrites_the_docs_section(tmp_path):
    data = tmp_path / "data"
    (data / "aco-real").mkdir(parents=True)
    (data / "aco-acoio").mkdir()
    rng = np.random.default_rng(1)
    soundfile.write(data / "aco-real" / "src.wav", 0.1 * rng.standard_normal(4 * SR), SR)
    with open(data / "aco-acoio" / "events_measured.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "start_s", "end_s", "peak_hz", "label", "method"])
        w.writerow(["x.wav", "1.0", "1.8", "250", "tonal_unit", "test"])
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "synthetic_archive.md").write_text(
        f"# Doc\n\nbefore\n{calibration.MARK_START}\nold\n{calibration.MARK_END}\nafter\n"
    )
    table = calibration.run(data, docs=docs)
    text = (docs / "synthetic_archive.md").read_text()
    assert "real 2016-02-18 4 s" in table and "synthetic 30 s #1" in table
    assert "old" not in text and table in text and text.endswith("after\n")
    assert (docs / "figures" / "synth_psd.png").stat().st_size > 10_000
