"""The summary `aco pipeline` prints: coverage, model, top anomalies per day, catalog match."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from aco_assets.storage.layout import DataLayout
from aco_assets.storage.warehouse import Warehouse


def _model_lines(m: dict) -> list[str]:
    """The champion: its score, budget, threshold and the realised rate on held-out time."""
    lines = [
        f"Model: aco-detector v{m['model_version']} (champion), score '{m['score_name']}', "
        f"trained on {m['n_general']} windows ({m['n_typical']} typical)"
    ]
    if m.get("false_alarms_per_hour") is None:  # a version trained before the budget existed
        return lines
    lines.append(
        f"  false-alarm budget {m['false_alarms_per_hour']:g}/h -> threshold {m['threshold']:.4g} "
        f"({m['threshold_rule']}, {m['calibration_hours'] or 0:.2f} h of calibration time); "
        f"held-out typical time: {m['heldout_alarms']} alarms in {m['heldout_hours']:.2f} h "
        f"= {m['heldout_false_alarms_per_hour']:.2f}/h"
    )
    if not m["checks_passed"]:
        lines.append(
            "  WARNING: this version failed its threshold_is_sane check (the held-out rate does "
            "not agree with the budget) and is champion only because no version passed yet; "
            "expect a different alarm rate. Add days (calibration time) or retrain."
        )
    return lines


def pipeline_summary(layout: DataLayout, days: list[dt.date], *, top_per_day: int = 3) -> str:
    """A plain-text report of what the lineage found for ``days``."""
    wh = Warehouse(layout.duckdb_path)
    lo, hi = min(days), max(days)
    out: list[str] = [f"ACO anomaly pipeline: archive {layout.archive_root}", ""]
    model = wh.query("SELECT * FROM model_versions WHERE is_champion").to_pylist()
    if model:
        out += _model_lines(model[0])
    cov = wh.query(
        "SELECT * FROM daily_summary WHERE day BETWEEN ? AND ? ORDER BY day", [lo, hi]
    ).to_pylist()
    cov = [c for c in cov if c["found"] or c.get("misfiled")]
    out += ["", *_coverage_lines(cov), *_problem_lines(wh, lo, hi)]
    dets = wh.query(
        "SELECT * FROM detections WHERE day BETWEEN ? AND ? AND rank_in_day <= ? ORDER BY day, rank_in_day",
        [lo, hi, top_per_day],
    ).to_pylist()
    catalog = _catalog(layout.archive_root)
    out += ["", f"Top {top_per_day} anomalies per day (UTC; 'truth' = overlapping catalog event):"]
    for d in dets:
        truth = _truth(catalog, d["start_utc"], d["end_utc"]) if catalog is not None else ""
        length = (d["end_utc"] - d["start_utc"]).total_seconds()
        out.append(
            f"  {d['start_utc']:%Y-%m-%d %H:%M:%S}  {length:5.0f} s  {d['band']:>16}  "
            f"score {d['peak_score']:8.3g}  p {d['peak_tail_prob']:.3f}  {truth}"
        )
    if catalog is not None:
        out += ["", _match_text(wh, catalog, lo, hi, len(cov))]
    out += [
        "",
        "Next:",
        f"  UI:      .venv/bin/aco ui --data {layout.data_dir}   (or make ui; then open http://127.0.0.1:3000)",
        f'  SQL:     .venv/bin/aco sql --data {layout.data_dir} "SELECT * FROM detections ORDER BY peak_score DESC LIMIT 20"',
        f"           (or duckdb -readonly {layout.duckdb_path}: readers never block runs)",
        f"  Review:  WAV clips, spectrogram PNGs and Raven tables under {layout.review_dir}",
        f"  Results: .venv/bin/aco results --data {layout.data_dir}   (writes docs/demo_results.md)",
    ]
    return "\n".join(out)


def _coverage_lines(cov: list[dict]) -> list[str]:
    """The per-day table: files found, not 'ok' (faulty: any fault), unreadable, misfiled."""
    lines = [
        "Coverage and anomalies per day (files of 288 expected; faulty = any fault, of which "
        "unreadable = nothing decodes; misfiled = not read):",
        f"  {'day':10}  {'files':>5}  {'faulty':>6}  {'unreadable':>10}  {'misfiled':>8}  "
        f"{'decodable':>9}  {'windows':>7}  {'anomalous':>9}  {'events':>6}",
    ]
    for c in cov:
        lines.append(
            f"  {c['day']!s:10}  {c['found']:5d}  {c['faulty'] or 0:6d}  {c['unreadable'] or 0:10d}  "
            f"{c.get('misfiled') or 0:8d}  {c['decodable_share'] or 0:9.4f}  "
            f"{c['n_windows'] or 0:7d}  {c['n_anomalous'] or 0:9d}  {c['n_detections']:6d}"
        )
    return lines


def _problem_lines(wh: Warehouse, lo: dt.date, hi: dt.date, *, limit: int = 10) -> list[str]:
    """The files of the days that are not 'ok', each with its reason (the first ``limit``)."""
    rows = wh.query(
        "SELECT path, status, reason FROM raw_files WHERE day BETWEEN ? AND ? AND status <> 'ok' "
        "ORDER BY status = 'faulty', day, path",
        [lo, hi],
    ).to_pylist()
    if not rows:
        return []
    lines = ["", f"Files with problems ({len(rows)}; raw_files and quality_issues hold them all):"]
    for r in rows[:limit]:
        reason = (r["reason"] or "").removeprefix(r["path"]).lstrip(": ")
        lines.append(f"  {r['status']:10}  {r['path']}: {reason or 'see raw_files.faults'}")
    if len(rows) > limit:
        lines.append(
            f"  ... {len(rows) - limit} more: SELECT day, path, status, reason FROM raw_files "
            "WHERE status <> 'ok'"
        )
    return lines


def _catalog(root: Path) -> list[dict] | None:
    """Events and faults of the archive's ground truth as rows (``is_fault`` tells them apart)."""
    from aco_assets.synth.catalog import CATALOG_NAME, FAULTS_NAME, read_catalog, read_faults

    if not (root / CATALOG_NAME).exists():
        return None
    rows = [dict(r, is_fault=False) for r in read_catalog(root).to_pylist()]
    if (root / FAULTS_NAME).exists():
        rows += [dict(r, is_fault=True, snr_db=float("nan")) for r in read_faults(root).to_pylist()]
    return rows


def _truth(catalog: list[dict], start: dt.datetime, end: dt.datetime) -> str:
    hits = [c for c in catalog if c["start_utc"] < end and c["end_utc"] > start]
    if not hits:
        return "-"
    best = max(
        hits,
        key=lambda c: (not c["is_fault"], c["snr_db"] if c["snr_db"] == c["snr_db"] else -99),
    )
    snr = f" {best['snr_db']:.0f} dB" if best["snr_db"] == best["snr_db"] else ""
    return f"{best['class']}{snr}"


def _match_text(wh: Warehouse, catalog: list[dict], lo: dt.date, hi: dt.date, n_days: int) -> str:
    from aco_assets.scoring.event_matching import match_events

    dets = wh.query(
        "SELECT start_utc, end_utc, peak_score FROM detections WHERE day BETWEEN ? AND ?", [lo, hi]
    )
    end = dt.datetime.combine(hi, dt.time()) + dt.timedelta(days=1)
    rows = [c for c in catalog if dt.datetime.combine(lo, dt.time()) <= c["start_utc"] < end]
    if not rows:
        return "Catalog: no ground-truth events in these days."
    events = [
        {k: r[k] for k in ("event_id", "class", "start_utc", "end_utc", "snr_db")}
        for r in rows
        if not r["is_fault"]
    ]
    faults = [{k: r[k] for k in ("class", "start_utc", "end_utc")} for r in rows if r["is_fault"]]
    m = match_events(dets, events, faults or None, n_days=max(n_days, 1))
    lines = [
        f"Against the archive's ground truth ({m.n_events} acoustic events): event recall "
        f"{m.recall:.2f}, detection precision {m.precision:.2f}, {m.alarms_per_day:.1f} alarms/day"
    ]
    lines.append(
        "  recall per class: "
        + ", ".join(f"{k} {v['n_detected']}/{v['n_events']}" for k, v in m.recall_by_class.items())
    )
    lines.append(
        "  recall per SNR:   "
        + ", ".join(
            f"{k} {v['n_detected']}/{v['n_events']}"
            for k, v in m.recall_by_snr.items()
            if v["n_events"]
        )
    )
    return "\n".join(lines)
