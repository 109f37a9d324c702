"""``docs/benchmarks.md`` from the report of ``benchmarks/report.py`` (every figure from its JSON)."""

from __future__ import annotations

from typing import Any

__all__ = ["ASSUMPTIONS", "BACKFILL_DAYS", "benchmarks_markdown", "machine_line", "scaling"]

#: The 10-year reprocessing of issue 13: 3,650 day partitions (about a million files, 12 TB).
BACKFILL_DAYS = 3650
YEAR_DAYS = 365
ARCHIVE_TB = 12  # the archive's size today, as issue 13 states it
CLUSTER_CORES = (64, 512)
#: Capacities the scaling section compares the computed demand with. None of them is measured
#: here: each is an assumption, printed as one with its source.
ASSUMPTIONS: dict[str, dict[str, Any]] = {
    "object_store_bytes_s": {
        "value": 1.25e9,
        "text": "the object store delivers 1.25 GB/s in all to the cluster (one 10 Gb/s link, "
        "e.g. an on-premises store behind one 10 GbE uplink)",
        "source": "none, an assumption",
    },
    "object_store_gets_s": {
        "value": 5500.0,
        "text": "the object store serves 5,500 GET requests/s (one GET per file read: a file is "
        "fetched whole, in one request)",
        "source": "Amazon S3 documents at least 5,500 GET/HEAD requests/s per partitioned "
        'prefix (S3 User Guide, "Best practices design patterns: optimizing Amazon S3 '
        "performance\"); taken as the whole bucket's rate, the worst case",
    },
    "postgres_events_s": {
        "value": 1000.0,
        "text": "one Postgres instance absorbs 1,000 event-log entries/s",
        "source": "an assumption for the rate; that it is a rate of committed single-row "
        "inserts follows from Dagster's Postgres event log writing most events one INSERT at a "
        "time (dagster-io/dagster pull request 33832, on batching them)",
    },
}


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
        f"{r['ratio_vs_acoio']:.1f}x ACOio ({r['acoio_mb_s']:g} MB/s as measured for the codec's target; "
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
    "detector if the data directory has none (not timed), then materializes the day's stages "
    "one `dg.materialize` each against a persistent Dagster instance (`ingest`: `raw_files` and "
    "`spectrograms` in one step that reads each file once; then `anomaly_scores` and "
    "`detections`), and reports wall time, real-time factor, files/s, peak memory, CPU seconds "
    "and the entries written to the Dagster event log per stage. Then it runs the day as a user "
    "does, `aco pipeline --stage ingest --stage detect` in a new process (its imports, the code "
    "location, the instance under the data directory, the ingest run and the detect run with "
    "`review_clips`, and its summary): the figure the target is judged on. After that (not "
    "timed) the archive's bytes and read + decode time per file and the champion's load time, "
    "for the scaling section below."
)


def _user_run(r: dict[str, Any]) -> list[str]:
    """The paragraph of the ``aco pipeline`` run (JSON before it lacks the key: nothing)."""
    u = r.get("aco_pipeline")
    if not u:
        return []
    steps = ", ".join(f"`{k}` {v:.1f} s" for k, v in u["steps"].items())
    return [
        f"**As a user runs it:** `{u['command']}` took **{u['wall_s']:.1f} s** "
        f"({u['x_real_time']:,.0f}x real time), peak memory {u['peak_mb']:,.0f} MB (its process "
        f"tree), page cache: {u['page_cache']}"
        + (f", project bytecode: {u['bytecode']}" if u.get("bytecode") else "")
        + f". Its steps, as its console printed them: {steps}; "
        f"the other {u['wall_s'] - sum(u['steps'].values()):.1f} s are the process's start-up "
        "(imports, code location, instance) and its runs' bookkeeping. "
        f"Target <= {r['target_s']:g} s: {_met(u['wall_s'] <= r['target_s'])}; "
        f"peak memory < {r['target_peak_mb'] / 1024:g} GB: "
        f"{_met(u['peak_mb'] < r['target_peak_mb'])}.",
        "",
    ]


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
    stages = [
        {**s, "read_mb": s["read_bytes"] / 1e6 if s.get("read_bytes") is not None else None}
        for s in r["stages"]
    ]
    # columns older JSON lacks: shown only when every stage has them
    extra = [(h, k, f) for h, k, f in (("CPU s", "cpu_s", "{:.1f}"),
                                       ("MB read", "read_mb", "{:,.0f}"),
                                       ("event-log entries", "events", "{}"))
             if all(s.get(k) is not None for s in stages)]  # fmt: skip
    extra_head = "".join(f" {h} |" for h, _, _ in extra)
    lines += [
        machine_line(r.get("machine"), like=like),
        "",
        f"{r['day']}: {r['n_files']} files, {r['audio_s']:,.0f} s of audio, {r['workers']} worker "
        "process(es):",
        "",
        "| stage | wall s | x real time | files/s | peak MB |" + extra_head,
        "|---|---|---|---|---|" + "---|" * len(extra),
        *(
            f"| {s['stage']} | {s['wall_s']:.1f} | {s['x_real_time']:,.0f} | "
            f"{s['files_per_s']:.1f} | {s['peak_mb']:,.0f} |"
            + "".join(f" {fmt.format(s[k])} |" for _, k, fmt in extra)
            for s in stages
        ),
        f"| **{timed}** | **{r['timed_s']:.1f}** | **{r['timed_x_real_time']:,.0f}** | | "
        f"**{r['peak_mb']:,.0f}** |" + " |" * len(extra),
        "",
        f"Target {timed} < {r['target_s']:g} s: {_met(r['timed_s'] < r['target_s'])}; peak memory "
        f"< {r['target_peak_mb'] / 1024:g} GB: {_met(r['peak_mb'] < r['target_peak_mb'])} "
        f"({r['memory']}). Page cache: {r.get('page_cache', 'as found')}.",
        "",
        *_user_run(r),
        "Where the time goes: `ingest` reads each file of the day once, in worker processes "
        "forked from a fork server that imported the numerical stack once per process; the "
        "record headers walked for `raw_files` and the decode and front end of `spectrograms` "
        "come from the same bytes, while the main process asks the kernel to read the next files "
        "ahead (`posix_fadvise`), so that a cold day's disk reads overlap the compute (in part: "
        "reading from disk also costs kernel CPU time on the same cores). Each worker keeps the "
        "memory of a file's large arrays (decoded samples, STFT frames) for the next file "
        "(`aco_assets.signal.pool.keep_freed_memory`), where the C allocator gave them back "
        "and every file paid the kernel again for zeroed pages (system time). "
        "`anomaly_scores` is the detector's forward pass. `--profile DIR` writes a cProfile of "
        "the main process per stage.",
        "",
    ]
    return lines


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 72 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _rate(per_s: float, unit: str) -> str:
    return f"{per_s / 1e9:.2f} GB/s" if unit == "B" else f"{per_s:,.0f} {unit}/s"


def scaling(r: dict[str, Any], machine: dict[str, Any] | None = None) -> dict[str, Any]:
    """The scaling figures derived from a pipeline result ``r`` (keys its older JSON lacks give
    None): per-core rate, a year here, and per cluster size the 10-year backfill's demand."""
    wall = r.get("day_wall_s") or sum(s["wall_s"] for s in r["stages"])
    cores = r.get("cores_used") or min(r["workers"], (machine or {}).get("cores") or r["workers"])
    core_s = wall * cores  # core-seconds one day partition takes
    bpf, events = r.get("bytes_per_file"), r.get("events_per_day")
    loads, load_s = r.get("model_loads_per_day"), r.get("model_load_s")
    files_day = r["n_files"]
    total_files = BACKFILL_DAYS * files_day
    limits: dict[str, float | None] = {
        "object-store bandwidth": (
            total_files * bpf / ASSUMPTIONS["object_store_bytes_s"]["value"] if bpf else None
        ),
        "object-store requests": total_files / ASSUMPTIONS["object_store_gets_s"]["value"],
        "Postgres event-log writes": (
            BACKFILL_DAYS * events / ASSUMPTIONS["postgres_events_s"]["value"]
            if events is not None
            else None
        ),
    }
    clusters = []
    for n in CLUSTER_CORES:
        days_s = n / core_s
        compute_s = BACKFILL_DAYS * core_s / n
        bounds = {"compute": compute_s, **{k: v for k, v in limits.items() if v is not None}}
        limit = max(bounds, key=bounds.get)
        clusters.append({
            "cores": n, "compute_s": compute_s, "days_per_s": days_s,
            "files_per_s": days_s * files_day,
            "bytes_per_s": days_s * files_day * bpf if bpf else None,
            "events_per_s": days_s * events if events is not None else None,
            "workers": max(1, n // cores),
            "model_burst_bytes": max(1, n // cores) * r["model_bytes"]
            if r.get("model_bytes") else None,
            "limit": limit, "backfill_s": bounds[limit], "bounds": bounds,
        })  # fmt: skip
    crossover = {
        "object-store bandwidth": (
            ASSUMPTIONS["object_store_bytes_s"]["value"] * core_s / (files_day * bpf)
            if bpf
            else None
        ),
        "object-store requests": ASSUMPTIONS["object_store_gets_s"]["value"] * core_s / files_day,
        "Postgres event-log writes": (
            ASSUMPTIONS["postgres_events_s"]["value"] * core_s / events if events else None
        ),
    }
    return {
        "day_wall_s": wall, "cores": cores, "core_s_per_day": core_s,
        "x_real_time_per_core": r["audio_s"] / core_s, "year_s": YEAR_DAYS * wall,
        "backfill_files": total_files, "backfill_bytes": total_files * bpf if bpf else None,
        "bytes_per_core_s": files_day * bpf / core_s if bpf else None,
        "model_load_share": loads * load_s / core_s if loads and load_s else None,
        "read_x_archive": r["day_read_bytes"] / r["archive_bytes"]
        if r.get("day_read_bytes") and r.get("archive_bytes") else None,
        "clusters": clusters, "crossover_cores": crossover,
    }  # fmt: skip


def _scaling(r: dict[str, Any], like: dict[str, Any] | None) -> list[str]:
    g = scaling(r, like)
    walls = " + ".join(f"{s['wall_s']:.1f}" for s in r["stages"])
    lines = [
        "## Scaling out (computed from the figures above)",
        "",
        "Computed by `benchmarks/report_markdown.py` from the full-day run above; nothing in this "
        "section is measured on a cluster. Per-day independence is assumed: each day partition "
        "is one run that needs nothing of another day's, so a cluster of N cores takes days x "
        "(core-seconds per day) / N.",
        "",
        f"- **Per-core rate: {g['x_real_time_per_core']:,.0f}x real time** = "
        f"{r['audio_s']:,.0f} s of audio / ({g['day_wall_s']:.1f} s wall of the day's "
        f"{len(r['stages'])} stages ({walls}) x {g['cores']} cores used), i.e. "
        f"{g['core_s_per_day']:,.0f} core-seconds per day"
        + (
            f" (the stages' measured CPU time: {r['day_cpu_s']:,.0f} s)."
            if r.get("day_cpu_s") is not None
            else "."
        ),
        f"- **A year ({YEAR_DAYS} days) on this machine: {_duration(g['year_s'])}** "
        f"({YEAR_DAYS} x {g['day_wall_s']:.1f} s, days one after another on its {g['cores']} "
        "cores).",
    ]
    if r.get("bytes_per_file"):
        lines.append(
            f"- Archive I/O per file (measured): {r['bytes_per_file'] / 1e6:.2f} MB read "
            f"({r['archive_bytes'] / 1e9:.2f} GB / {r['n_files']} files), read + decode "
            f"{r['read_decode_s_per_file']:.3f} s per file from local disk (median of "
            f"{r['read_decode_files']}). At the per-core rate one core consumes "
            f"{g['bytes_per_core_s'] / 1e6:.1f} MB/s of archive."
            + (
                f" The day's stages read {r['day_read_bytes'] / 1e9:.2f} GB in all "
                "(`rchar`: every read, the archive, the features written then read back, "
                f"tables, imports), {g['read_x_archive']:.2f}x the day's archive bytes."
                if g["read_x_archive"] is not None
                else ""
            )
        )
    if r.get("events_per_day") is not None:
        per = ", ".join(f"{s['stage']} {s['events']}" for s in r["stages"] if "events" in s)
        lines.append(
            f"- Dagster event log (measured, the benchmark's instance): {r['events_per_day']} "
            f"entries per day, in {r.get('runs_per_day', len(r['stages']))} runs ({per})."
        )
    if r.get("model_load_s") is not None:
        loads = r.get("model_loads_per_day")
        share = g["model_load_share"]
        lines.append(
            f"- Model loading (measured): `FittedDetector.load` of the champion (version "
            f"{r['model_version']}, {r['model_bytes'] / 1e6:.1f} MB) takes "
            f"{r['model_load_s']:.3f} s (median of {r['model_load_repeats']}); the whole "
            "`load_champion` a stage calls (MLflow client, registry look-ups, cache checksums, "
            f"load) {r['champion_load_s']:.2f} s, once, after the stages"
            + (
                f". The day's stages called `FittedDetector.load` {loads} times: "
                f"{100 * share:.1f} % of the day's core-seconds at the load time, at most "
                f"{100 * loads * r['champion_load_s'] / g['core_s_per_day']:.1f} % if each "
                "call paid the whole `load_champion`."
                if share is not None
                else "."
            )
        )
    lines += [
        "",
        "Assumptions (**not measured**; change them in `ASSUMPTIONS` of "
        "`benchmarks/report_markdown.py`):",
        "",
        *(f"- **Assumed:** {a['text']}. Source: {a['source']}." for a in ASSUMPTIONS.values()),
        "",
        f"The 10-year backfill: {BACKFILL_DAYS:,} days, {g['backfill_files']:,} files"
        + (
            f", {g['backfill_bytes'] / 1e12:.1f} TB at the measured bytes per file (the real "
            f"archive's {ARCHIVE_TB:g} TB is {ARCHIVE_TB * 1e6 / g['backfill_files']:.1f} MB "
            "per file)"
            if g["backfill_bytes"]
            else ""
        )
        + ":",
        "",
        "| | " + " | ".join(f"{c['cores']} cores" for c in g["clusters"]) + " |",
        "|---|" + "---|" * len(g["clusters"]),
    ]
    cl = g["clusters"]

    def row(label: str, cells: list[str]) -> str:
        return f"| {label} | " + " | ".join(cells) + " |"

    lines.append(row("compute alone (days x core-s per day / cores)",
                     [_duration(c["compute_s"]) for c in cl]))  # fmt: skip
    lines.append(row("days per second", [f"{c['days_per_s']:.2f}" for c in cl]))
    lines.append(row("archive files per second (object-store GETs)",
                     [f"{c['files_per_s']:,.0f}" for c in cl]))  # fmt: skip
    if cl[0]["bytes_per_s"] is not None:
        lines.append(row("object-store bandwidth needed (each file read once)",
                         [_rate(c["bytes_per_s"], "B") for c in cl]))  # fmt: skip
        if g["read_x_archive"] is not None:
            lines.append(row(
                f"... at the stages' measured reads ({g['read_x_archive']:.2f}x), were all on the store",
                [_rate(c["bytes_per_s"] * g["read_x_archive"], "B") for c in cl],
            ))  # fmt: skip
    if cl[0]["events_per_s"] is not None:
        lines.append(
            row("Postgres event-log writes", [_rate(c["events_per_s"], "events") for c in cl])
        )
    if r.get("model_load_s") is not None:
        lines.append(row(
            f"day runs at once ({g['cores']} cores each), each loading the model",
            [f"{c['workers']:,}: {c['model_burst_bytes'] / 1e9:.1f} GB of model fetched at start"
             for c in cl],
        ))  # fmt: skip
    lines.append(row("**time, bound by the slowest of these**",
                     [f"**{_duration(c['backfill_s'])}**" for c in cl]))  # fmt: skip
    lines.append(row("**limit**", [f"**{c['limit']}**" for c in cl]))
    lines.append("")
    cross = [f"{k} above {v:,.0f} cores" for k, v in g["crossover_cores"].items() if v is not None]
    lines += [
        "Each resource caps the backfill at total demand / assumed capacity, whatever the core "
        "count; with the assumptions above it takes over from compute at: "
        + "; ".join(cross)
        + ". Model loading is a cost of each run, not a shared resource: every day run loads the "
        "champion"
        + (
            f" ({r['model_loads_per_day']} calls of `FittedDetector.load` per day, "
            f"{100 * g['model_load_share']:.1f} % of its core-seconds)"
            if g["model_load_share"] is not None
            else ""
        )
        + ", which the per-day wall time above already contains; what the workers share is "
        "their first fetch of the artifact, once each (the models cache keeps it).",
        "",
    ]
    bw = cl[0]["bounds"].get("object-store bandwidth")
    if bw is not None and g["read_x_archive"] is not None:
        lines += [
            "The bandwidth rows and bound count each archive file read once, as issue 13 asks of "
            f"a day's work; were every byte the stages read today ({g['read_x_archive']:.2f}x "
            "the archive) fetched from the store, the bandwidth bound would be "
            f"{_duration(bw * g['read_x_archive'])}.",
            "",
        ]
    missing = [
        what
        for what, key in (
            ("bytes per file", "bytes_per_file"),
            ("event-log entries", "events_per_day"),
            ("model load time", "model_load_s"),
        )
        if r.get(key) is None
    ]
    if missing:
        lines += [
            f"This result predates the measurement of {', '.join(missing)}: the limits that "
            "need them are left out (the limit above is among those measured); "
            "`make bench-pipeline` measures them.",
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
    if report.get("pipeline"):
        lines += _scaling(report["pipeline"], m)
    return "\n".join(lines).rstrip("\n") + "\n"
