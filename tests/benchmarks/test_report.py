"""The benchmark report's document writer, on fake benchmark JSON."""

from __future__ import annotations

import pytest

from benchmarks.report import machine_facts
from benchmarks.report_markdown import ASSUMPTIONS, benchmarks_markdown, scaling

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


def scaling_result() -> dict:
    """A hand-made full-day result: 4 stages of 80 s wall in all on 2 cores, 15 MB per file."""
    stages = [
        {"stage": name, "wall_s": wall, "x_real_time": 86400.0 / wall,
         "files_per_s": 288 / wall, "peak_mb": 600.0, "cpu_s": cpu, "events": events,
         "model_loads": loads, "read_bytes": read}
        for name, wall, cpu, events, loads, read in (
            ("raw_files", 10.0, 15.0, 12, 0, 4.32e9), ("spectrograms", 60.0, 110.0, 16, 0, 4.32e9),
            ("anomaly_scores", 8.0, 15.0, 26, 1, 0.2e9), ("detections", 2.0, 10.0, 26, 1, 0.16e9),
        )
    ]  # fmt: skip
    return {
        "day": "2017-03-01", "n_files": 288, "audio_s": 86400.0, "workers": 2,
        "stages": stages, "timed_stages": ["raw_files", "spectrograms", "anomaly_scores"],
        "timed_s": 78.0, "timed_x_real_time": 86400.0 / 78.0, "target_s": 60.0,
        "peak_mb": 600.0, "target_peak_mb": 2048.0, "memory": "sampled RSS, process + workers",
        "cores_used": 2, "day_wall_s": 80.0, "day_cpu_s": 150.0, "runs_per_day": 4,
        "events_per_day": 80, "model_loads_per_day": 2, "day_read_bytes": 9e9, "archive_bytes": 288 * 15e6,
        "bytes_per_file": 15e6, "read_decode_s_per_file": 0.05, "read_decode_files": 12,
        "model_version": 1, "model_load_s": 0.2, "model_load_repeats": 3,
        "champion_load_s": 3.5, "model_bytes": 27e6, "machine": MACHINE,
    }  # fmt: skip


def test_scaling_is_the_arithmetic_of_the_measured_day():
    g = scaling(scaling_result(), MACHINE)
    assert g["core_s_per_day"] == pytest.approx(80.0 * 2)
    assert g["x_real_time_per_core"] == pytest.approx(288 * 300 / (80.0 * 2))  # 540x
    assert g["year_s"] == pytest.approx(365 * 80.0)
    assert g["backfill_files"] == 3650 * 288
    c64, c512 = g["clusters"]
    assert (c64["cores"], c512["cores"]) == (64, 512)
    assert c64["compute_s"] == pytest.approx(3650 * 160 / 64)
    assert c512["compute_s"] == pytest.approx(3650 * 160 / 512)
    assert c64["files_per_s"] == pytest.approx(64 / 160 * 288)
    assert c512["bytes_per_s"] == pytest.approx(512 / 160 * 288 * 15e6)
    assert c512["events_per_s"] == pytest.approx(512 / 160 * 80)
    assert c64["workers"] == 32 and c512["model_burst_bytes"] == pytest.approx(256 * 27e6)
    bandwidth_s = 3650 * 288 * 15e6 / ASSUMPTIONS["object_store_bytes_s"]["value"]
    assert c64["bounds"]["object-store bandwidth"] == pytest.approx(bandwidth_s)
    assert c64["bounds"]["Postgres event-log writes"] == pytest.approx(
        3650 * 80 / ASSUMPTIONS["postgres_events_s"]["value"]
    )
    # the slowest bound is the limit, and the time it gives
    for c in (c64, c512):
        assert c["limit"] == max(c["bounds"], key=c["bounds"].get)
        assert c["backfill_s"] == max(c["bounds"].values())
    assert g["model_load_share"] == pytest.approx(2 * 0.2 / 160)
    assert g["crossover_cores"]["Postgres event-log writes"] == pytest.approx(
        ASSUMPTIONS["postgres_events_s"]["value"] * 160 / 80
    )


def test_the_scaling_section_quotes_the_derived_figures_and_marks_assumptions():
    report = fake_report(pipeline=False)
    report["pipeline"] = scaling_result()
    text = benchmarks_markdown(report)
    section = text.split("## Scaling out (computed from the figures above)")[1]
    assert (
        "| raw_files | 10.0 | 8,640 | 28.8 | 600 | 15.0 | 4,320 | 12 |" in text
    )  # CPU, MB, entries
    assert "**Per-core rate: 540x real time** = 86,400 s of audio / (80.0 s wall" in section
    assert "x 2 cores used), i.e. 160 core-seconds per day" in section
    assert "**A year (365 days) on this machine: 8.1 h**" in section
    assert "15.00 MB read (4.32 GB / 288 files), read + decode 0.050 s per file" in section
    assert "80 entries per day, in 4 runs (raw_files 12, spectrograms 16" in section
    assert "takes 0.200 s (median of 3)" in section
    assert "| compute alone (days x core-s per day / cores) | 2.5 h | 19 min |" in section
    assert "| archive files per second (object-store GETs) | 115 | 922 |" in section
    assert "| object-store bandwidth needed (each file read once) | 1.73 GB/s | 13.82 GB/s |" in (
        section
    )
    assert "9.00 GB in all" in section and "2.08x the day's archive bytes" in section  # 9 / 4.32
    assert "measured reads (2.08x), were all on the store | 3.60 GB/s | 28.80 GB/s |" in section
    assert "| Postgres event-log writes | 32 events/s | 256 events/s |" in section
    assert section.count("**Assumed:**") == len(ASSUMPTIONS)
    bandwidth_h = 3650 * 288 * 15e6 / ASSUMPTIONS["object_store_bytes_s"]["value"] / 3600
    limit = scaling(report["pipeline"], MACHINE)["clusters"][1]["limit"]
    assert f"| **limit** | **{limit}** | **{limit}** |" in section
    if limit == "object-store bandwidth":
        assert f"**{bandwidth_h:.1f} h**" in section
    assert "predates the measurement" not in section


def test_an_older_pipeline_result_without_the_new_figures_still_renders():
    report = fake_report(pipeline=True)  # the JSON of an older run: no bytes, events, loads
    text = benchmarks_markdown(report)
    section = text.split("## Scaling out (computed from the figures above)")[1]
    # 86,400 s / (5.3 s x min(2 workers, 2 cores))
    assert f"**Per-core rate: {86400 / (5.3 * 2):,.0f}x real time**" in section
    assert "object-store bandwidth needed" not in section
    assert "Postgres event-log writes |" not in section
    assert "predates the measurement of bytes per file, event-log entries, model load time" in (
        section
    )


def test_without_a_pipeline_result_there_is_no_scaling_section():
    assert "## Scaling out" not in benchmarks_markdown(fake_report(pipeline=False))


def test_the_pipeline_section_judges_the_target_on_the_aco_pipeline_run():
    report = fake_report(pipeline=False)
    report["pipeline"] = {
        **scaling_result(),
        "target_s": 20.0,
        "target_peak_mb": 2048.0,
        "aco_pipeline": {
            "command": "aco pipeline --stage ingest --stage detect",
            "wall_s": 24.0,
            "peak_mb": 1500.0,
            "x_real_time": 3600.0,
            "page_cache": "cold",
            "steps": {"ingest": 17.5, "anomaly_scores": 3.1, "detections": 0.4},
        },
    }
    text = benchmarks_markdown(report)
    assert "`aco pipeline --stage ingest --stage detect` took **24.0 s** (3,600x" in text
    assert "`ingest` 17.5 s, `anomaly_scores` 3.1 s, `detections` 0.4 s; the other 3.0 s" in text
    assert "Target <= 20 s: **not met**; peak memory < 2 GB: met." in text
