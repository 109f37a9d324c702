"""``docs/benchmarks.md`` from the report of ``benchmarks/report.py`` (every figure from its JSON)."""

from __future__ import annotations

from typing import Any

__all__ = ["benchmarks_markdown", "machine_line"]


def machine_line(
    m: dict[str, Any] | None, *, like: dict[str, Any] | None = None, lead: str = "Measured"
) -> str:
    """One sentence: when and on what a benchmark was measured (shorter when the machine is the
    one of ``like``, the report's own run)."""
    if not m:
        return "Machine not recorded."
    load, end = m.get("load_avg_1min"), m.get("load_avg_1min_end")
    load_text = f", load average {load:.1f} when it started" if load is not None else ""
    load_text += f" and {end:.1f} when it ended" if load is not None and end is not None else ""
    when = m.get("measured_at", "?").replace("T", " ")
    same = like is not None and all(m.get(k) == like.get(k) for k in ("cores", "cpu", "python"))
    if same:
        return f"{lead} {when} on the same machine{load_text}."
    torch = f", torch {m['torch']}" if m.get("torch") else ""
    return (
        f"{lead} {when} on {m.get('cores', '?')} cores ({m.get('cpu', '?')}, "
        f"{m.get('system', '?')}), Python {m.get('python', '?')}, NumPy "
        f"{m.get('numpy', '?')}{torch}{load_text}."
    )


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _codec(r: dict[str, Any], like: dict[str, Any] | None) -> list[str]:
    widths = ", ".join(f"{n} records at {b} bits" for b, n in sorted(r["widths"].items()))
    return [
        "## Decoder (`benchmarks/bench_codec.py`)",
        "",
        machine_line(r.get("machine"), like=like),
        "",
        f"A realistic 5-minute file ({r['file_mb']:.2f} MB, {r['records']} records: {widths}; "
        f"{r['equal_width_runs']} runs of equal width), median of several reads, file read "
        "included:",
        "",
        "| decoder | ms per file | MB/s | Msamples/s |",
        "|---|---|---|---|",
        f"| `read_file` | {r['read_file_ms']:.2f} | {r['read_file_mb_s']:.1f} | "
        f"{r['read_file_msamples_s']:.1f} |",
        f"| per-record `np.unpackbits` reference | {r['reference_ms']:.2f} | "
        f"{r['reference_mb_s']:.1f} | |",
        "",
        f"`read_file` is {r['ratio_vs_reference']:.1f}x the reference decoder and "
        f"{r['ratio_vs_acoio']:.1f}x ACOio ({r['acoio_mb_s']:g} MB/s as measured for the issue; "
        f"target >= {r['target_ratio_vs_acoio']:g}x: "
        f"{_met(r['ratio_vs_acoio'] >= r['target_ratio_vs_acoio'])}). Peak traced memory of "
        f"`read_file`: {r['peak_mb']:.1f} MB, {r['peak_x_file']:.2f}x the file size.",
        "",
    ]


def _features(r: dict[str, Any], like: dict[str, Any] | None) -> list[str]:
    shape = " x ".join(map(str, r["feature_shape"]))
    return [
        "## Spectrogram front end (`benchmarks/bench_features.py`)",
        "",
        machine_line(r.get("machine"), like=like),
        "",
        f"One core, {r['files_timed']} files of {r['samples_per_file']:,} samples "
        f"({r['file_s']:.0f} s each), {r['n_windows']} windows of {shape} per file:",
        "",
        "| | mean | best |",
        "|---|---|---|",
        f"| s per file (target <= {r['target_s']:g}) | {r['mean_s']:.4f} | {r['min_s']:.4f} |",
        f"| samples/s | {r['samples_per_s_mean']:.3g} | {r['samples_per_s_best']:.3g} |",
        f"| x real time | {r['rtf_mean']:.0f} | {r['rtf_best']:.0f} |",
        "",
        f"Target {_met(r['min_s'] <= r['target_s'])} (best run); a 288-file day takes "
        f"{r['day_s']:.1f} s on one core at the mean rate. Peak allocation "
        f"{r['peak_mib']:.0f} MiB, {r['peak_x_input']:.1f}x the {r['input_mib']:.0f} MiB float64 "
        "input.",
        "",
        *_features_floor(r.get("files_part")),
    ]


def _features_floor(f: dict[str, Any] | None) -> list[str]:
    """The per-file work against the floor measured in the same run (absent in older JSON)."""
    if not f:
        return []
    rows = (
        ("floor: read + decode + Hann rfft frames + log power", "floor"),
        ("read + decode", "decode"),
        ("front end: read + decode + `FrontEnd.windows` (int32 counts, valid mask)", "front_end"),
        ("front end as `file_windows` calls it (float64 copy with NaN)", "front_end_float"),
        ("`find_quality_issues` (decoded file)", "quality"),
        ("`processing.file_windows` whole", "per_file"),
    )
    return [
        f"On {f['files']} files of a synthetic day ({f['repeats']} runs, production config), "
        "CPU seconds per file, one core:",
        "",
        "| | median s | best s | x real time |",
        "|---|---|---|---|",
        *(
            f"| {label} | {f['median_s'][k]:.4f} | {f['min_s'][k]:.4f} | {f['rtf'][k]:.0f} |"
            for label, k in rows
        ),
        "",
        f"Front end / floor {f['ratio_front_end']:.2f} (target <= {f['target_ratio']:g}: "
        f"{_met(f['ratio_front_end'] <= f['target_ratio'])}; "
        f"{f['ratio_front_end_float']:.2f} as `file_windows` calls it); `file_windows` / floor "
        f"{f['ratio_per_file']:.2f}, {f['day_per_file_s_2_cores']:.1f} s for a 288-file day on 2 "
        "cores.",
        "",
    ]


def _quality(r: dict[str, Any], like: dict[str, Any] | None) -> list[str]:
    return [
        "## Data-quality checks (`benchmarks/bench_quality.py`)",
        "",
        machine_line(r.get("machine"), like=like),
        "",
        f"`find_quality_issues` on one 5-minute file ({r['samples']:,} samples, {r['issues']} "
        f"issue(s) found): median {r['median_ms']:.1f} ms over {r['repeats']} runs, "
        f"{r['rtf']:,.0f}x real time.",
        "",
    ]


def _synth(r: dict[str, Any], like: dict[str, Any] | None) -> list[str]:
    f = r["files"]
    lines = [
        "## Synthetic archive (`benchmarks/bench_synth.py`)",
        "",
        machine_line(r.get("machine"), like=like),
        "",
        f"Per 5-minute whale-season file, median of {f['files_timed']}, one core:",
        "",
        "| stage | s |",
        "|---|---|",
        f"| background | {f['background_s']:.3f} |",
        f"| render (background + events) | {f['render_s']:.3f} |",
        f"| codec write | {f['write_s']:.3f} |",
        f"| **total** | **{f['total_s']:.3f}** ({f['rtf']:.0f}x real time) |",
        "",
    ]
    if "demo" in r:
        d, c = r["demo"], r["coverage"]
        lines += [
            f"The `{d['preset']}` archive (seed {d['seed']}): {d['files']} files, {d['events']} "
            f"events, {d['faults']} faults, written in {d['wall_s']:.1f} s "
            f"({d['s_per_file']:.2f} s per file). Windows of 5 s overlapping a catalogued event: "
            f"{100 * c['share']:.1f} % of {c['windows']:,}.",
            "",
            "| month, HST evening or not | windows | overlapping an event |",
            "|---|---|---|",
            *(
                f"| {k} | {g['windows']} | {100 * g['share']:.1f} % |"
                for k, g in c["groups"].items()
            ),
            "",
        ]
    return lines


PIPELINE_INTRO = (
    "Writes the synth `full` preset (288 files, 2017-03-01; cached in `--work`), trains a small "
    "detector if the data directory has none (not timed), then materializes `raw_files`, "
    "`spectrograms`, `anomaly_scores` and `detections` for the day, one `dg.materialize` each "
    "against a persistent Dagster instance, and reports wall time, real-time factor, files/s and "
    "peak memory per stage."
)


def _pipeline(r: dict[str, Any] | None, like: dict[str, Any] | None) -> list[str]:
    lines = ["## Full-day pipeline (`benchmarks/bench_pipeline.py`)", "", PIPELINE_INTRO, ""]
    if r is None:
        return lines + [
            "Not measured by this run: it takes several minutes and wants a quiet machine, so "
            "`make results` leaves it out. `make bench-pipeline` measures it and rewrites this "
            "document with it (and the README's generated block).",
            "",
        ]
    timed = " + ".join(r["timed_stages"])
    lines += [
        machine_line(r.get("machine"), like=like),
        "",
        f"{r['day']}: {r['n_files']} files, {r['audio_s']:,.0f} s of audio, {r['workers']} worker "
        "process(es):",
        "",
        "| stage | wall s | x real time | files/s | peak MB |",
        "|---|---|---|---|---|",
        *(
            f"| {s['stage']} | {s['wall_s']:.1f} | {s['x_real_time']:,.0f} | "
            f"{s['files_per_s']:.1f} | {s['peak_mb']:,.0f} |"
            for s in r["stages"]
        ),
        f"| **{timed}** | **{r['timed_s']:.1f}** | **{r['timed_x_real_time']:,.0f}** | | "
        f"**{r['peak_mb']:,.0f}** |",
        "",
        f"Target {timed} < {r['target_s']:g} s: {_met(r['timed_s'] < r['target_s'])}; peak memory "
        f"< {r['target_peak_mb'] / 1024:g} GB: {_met(r['peak_mb'] < r['target_peak_mb'])} "
        f"({r['memory']}).",
        "",
        "Where the time goes: `raw_files` walks the record headers only (no sample decode), so "
        "most of its time is process-pool start-up and Dagster's event log; `spectrograms` is the "
        "per-file front end in the worker processes; `anomaly_scores` is the detector's forward "
        "pass. `--profile DIR` writes a cProfile per stage.",
        "",
    ]
    return lines


def benchmarks_markdown(report: dict[str, Any]) -> str:
    """The whole document from the report of ``benchmarks/report.py`` (fields that are missing
    leave their section out; the pipeline's section then says how to measure it)."""
    m = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `python benchmarks/report.py` (a step of `make results`) on "
        f"{m['measured_at'][:10]}, from the figures each benchmark wrote with `--json`; every "
        "section says when and on what it was measured. The single-core benchmarks run with "
        "`OMP_NUM_THREADS=1`. Other processes on the machine make single runs noisy: compare "
        "minima, and rerun on a quiet machine before quoting a speed-up.",
        "",
        machine_line(m, lead="This run started"),
        "",
    ]
    for name, section in (("codec", _codec), ("features", _features), ("quality", _quality),
                          ("synth", _synth)):  # fmt: skip
        if name in report:
            lines += section(report[name], m)
    lines += _pipeline(report.get("pipeline"), m)
    return "\n".join(lines).rstrip("\n") + "\n"
