"""The benchmark report's document writer, on fake benchmark JSON."""

from __future__ import annotations

import pytest

from benchmarks.report import machine_facts
from benchmarks.report_markdown import benchmarks_markdown

MACHINE = {"measured_at": "2026-12-01T10:00:00", "cores": 2, "cpu": "Test CPU",
           "system": "Linux x86_64", "python": "3.11.7", "numpy": "2.4.6",
           "torch": "2.13.0", "load_avg_1min": 0.4}  # fmt: skip


def fake_report(*, pipeline: bool) -> dict:
    report = {
        "machine": MACHINE,
        "codec": {"file_mb": 14.81, "records": 1758, "widths": {"16": 1081, "17": 677},
                  "equal_width_runs": 24, "read_file_ms": 28.2, "read_file_mb_s": 524.9,
                  "read_file_msamples_s": 255.2, "reference_ms": 507.1, "reference_mb_s": 29.2,
                  "ratio_vs_reference": 18.0, "acoio_mb_s": 45.0, "ratio_vs_acoio": 11.7,
                  "target_ratio_vs_acoio": 15.0, "peak_mb": 51.1, "peak_x_file": 3.45,
                  "machine": MACHINE},
        "quality": {"samples": 7_200_000, "issues": 1, "repeats": 7, "median_ms": 101.9,
                    "rtf": 2945.0, "machine": {**MACHINE, "cores": 16, "cpu": "Other CPU"}},
    }  # fmt: skip
    if pipeline:
        report["pipeline"] = {
            "day": "2017-03-01", "n_files": 288, "audio_s": 86400.0, "workers": 2,
            "stages": [{"stage": "raw_files", "wall_s": 5.3, "x_real_time": 16302.0,
                        "files_per_s": 54.3, "peak_mb": 624.0}],
            "timed_stages": ["raw_files"], "timed_s": 5.3, "timed_x_real_time": 16302.0,
            "target_s": 60.0, "peak_mb": 624.0, "target_peak_mb": 2048.0,
            "memory": "sampled RSS, process + workers", "machine": MACHINE,
        }  # fmt: skip
    return report


def test_document_quotes_every_figure_of_the_json_and_the_machine():
    text = benchmarks_markdown(fake_report(pipeline=False))
    assert text.startswith("# Benchmarks\n")
    assert "2 cores (Test CPU, Linux x86_64), Python 3.11.7, NumPy 2.4.6, torch 2.13.0" in text
    assert "| `read_file` | 28.20 | 524.9 | 255.2 |" in text
    assert "11.7x ACOio (45 MB/s" in text and "target >= 15x: **not met**" in text
    assert "1081 records at 16 bits, 677 records at 17 bits" in text
    assert "median 101.9 ms over 7 runs, 2,945x real time" in text


def test_a_section_measured_elsewhere_names_its_own_machine():
    text = benchmarks_markdown(fake_report(pipeline=False))
    codec, quality = text.split("## Data-quality")[0], text.split("## Data-quality")[1]
    assert "on the same machine" in codec
    assert "16 cores (Other CPU" in quality


def test_sections_without_json_are_left_out_and_the_pipeline_says_how_to_measure_it():
    text = benchmarks_markdown(fake_report(pipeline=False))
    assert "## Spectrogram front end" not in text and "## Synthetic archive" not in text
    assert "`make bench-pipeline` measures it" in text


def test_the_pipeline_section_has_its_table_and_targets():
    text = benchmarks_markdown(fake_report(pipeline=True))
    assert "| raw_files | 5.3 | 16,302 | 54.3 | 624 |" in text
    assert "Target raw_files < 60 s: met; peak memory < 2 GB: met" in text
    assert "`make bench-pipeline` measures it" not in text


@pytest.mark.parametrize("key", ["cores", "cpu", "python", "numpy", "measured_at"])
def test_machine_facts_are_measured_now(key):
    assert machine_facts()[key]


def test_the_front_end_section_quotes_the_floor_of_its_run():
    report = fake_report(pipeline=False)
    per = {"floor": 0.1, "decode": 0.03, "front_end": 0.11, "front_end_float": 0.12,
           "quality": 0.01, "per_file": 0.14}  # fmt: skip
    report["features"] = {
        "files_timed": 15, "samples_per_file": 7_200_000, "file_s": 300.0, "n_windows": 60,
        "feature_shape": [1, 64, 32], "mean_s": 0.09, "min_s": 0.08, "target_s": 0.1,
        "samples_per_s_mean": 8e7, "samples_per_s_best": 9e7, "rtf_mean": 3333.0,
        "rtf_best": 3750.0, "day_s": 25.9, "peak_mib": 50.0, "peak_x_input": 0.9,
        "input_mib": 55.0,
        "files_part": {"files": 4, "repeats": 3, "file_s": 300.0, "median_s": per,
                       "min_s": per, "target_ratio": 1.5, "ratio_front_end": 1.1,
                       "ratio_front_end_float": 1.2, "ratio_per_file": 1.4,
                       "rtf": {k: 300.0 / v for k, v in per.items()},
                       "day_per_file_s_2_cores": 20.2},
    }  # fmt: skip
    text = benchmarks_markdown(report)
    assert (
        "| floor: read + decode + Hann rfft frames + log power | 0.1000 | 0.1000 | 3000 |" in text
    )
    assert "Front end / floor 1.10 (target <= 1.5: met; 1.20 as `file_windows` calls it)" in text
    assert "20.2 s for a 288-file day on 2 cores" in text
    del report["features"]["files_part"]  # JSON of an older run: no floor, no table
    assert "floor" not in benchmarks_markdown(report)
