"""The real-sound check's pure steps: audio in, HYD24BBpk files out, units, the pooled ranking."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import soundfile as sf

from aco_assets.hydrophone import read_file
from aco_assets.scoring.real_sound import (
    RECORDINGS,
    Recording,
    measured_units,
    read_audio,
    summarise,
    write_recording,
)

T0 = dt.datetime(2013, 1, 1)


def test_a_short_recording_is_padded_by_mirroring_its_end(tmp_path):
    x = np.linspace(-0.5, 0.5, 4 * 24000)
    sf.write(tmp_path / "a.wav", x, 24000, subtype="DOUBLE")
    y = read_audio(tmp_path / "a.wav", min_s=5.0)
    assert y.size == 5 * 24000
    np.testing.assert_array_equal(y[: x.size], x)
    np.testing.assert_array_equal(y[x.size :], x[::-1][:24000])


def test_a_long_recording_becomes_five_minute_files_holding_its_counts(tmp_path):
    x = np.random.default_rng(0).uniform(-1, 1, 400 * 24000)
    paths = write_recording(x, T0, tmp_path, gain=1e5)
    assert [p.name for p in paths] == ["2013-01-01--00.00.HYD24BBpk", "2013-01-01--00.05.HYD24BBpk"]
    first, second = read_file(paths[0]), read_file(paths[1])
    assert first.start_utc == T0
    n0 = 300 * 24000
    np.testing.assert_array_equal(first.samples[:n0], np.round(1e5 * x[:n0]))
    np.testing.assert_array_equal(second.samples[: x.size - n0], np.round(1e5 * x[n0:]))
    assert second.samples.size % 4096 == 0


def test_measured_units_become_catalog_rows_at_the_recording_time(tmp_path):
    (tmp_path / "events_measured.csv").write_text(
        "file,start_s,end_s,peak_hz,label,method\nx.wav,5.5,6.06,246,tonal_unit,m\nother.wav,1,2,3,t,m\n"
    )
    rows = measured_units(tmp_path, Recording(".", "x.wav", T0, "note"))
    assert len(rows) == 1 and rows[0]["class"] == "tonal_unit"
    assert rows[0]["start_utc"] == T0 + dt.timedelta(seconds=5.5)
    assert rows[0]["end_utc"] == T0 + dt.timedelta(seconds=6.06)


def test_summary_ranks_unit_windows_of_pooled_recordings_only():
    def rec(scores, units):
        s = np.asarray(scores, float)
        return {
            **{m: s for m in ("score", "np", "gmm_nll", "recon_error", "energy")},
            "is_unit": np.asarray(units, bool),
            "is_anomaly": s > 0.5,
            "tail_prob": 1 - s,
        }

    included = [r.name for r in RECORDINGS if r.in_auc]
    excluded = next(r.name for r in RECORDINGS if not r.in_auc)
    results = {
        included[0]: rec([0.9, 0.1, 0.2], [1, 0, 0]),
        included[1]: rec([0.8, 0.3], [1, 0]),
        excluded: rec([1.0, 1.0], [0, 0]),
    }  # would break the perfect ranking if pooled
    s = summarise(results)
    assert s["n_windows"] == 5 and s["n_unit_windows"] == 2
    assert s["methods"]["score"]["auc"] == pytest.approx(1.0)
    assert s["methods"]["score"]["unit_ranks"] == [1, 2]
    assert s["flagged_unit"] == 1.0 and s["flagged_rest"] == 0.0
