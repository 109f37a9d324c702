"""The sentences of the generated blocks, each filled from the summary of one run.

Every function takes the parsed summary (a dict) and returns Markdown; a figure the summary
lacks is written ``n/a`` rather than guessed. :func:`read_demo` reads the demo's warehouse into
the dict :func:`demo_text` and :func:`demo_archive_text` take.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "yardstick_text",
    "read_demo",
    "demo_text",
    "demo_archive_text",
    "digits_text",
    "benchmarks_text",
    "synth_coverage_text",
    "synth_speed_text",
    "timings_text",
]

DEMO_METHODS = ("production", "np", "gmm_nll", "recon_error", "energy")
DEMO_TITLES = {
    "production": "the production score",
    "np": "the NP discriminator error",
    "gmm_nll": "the latent GMM NLL",
    "recon_error": "the VAE reconstruction error",
    "energy": "the classic band-limited energy detector",
}


def _num(x: Any, fmt: str = ".2f") -> str:
    """``x`` formatted, or ``n/a`` when it is missing or not finite."""
    if x is None or isinstance(x, str) or not math.isfinite(float(x)):
        return "n/a"
    return format(float(x), fmt)


# ------------------------------------------------------------------------------ yardstick
def yardstick_text(summary: dict[str, Any]) -> str:
    """README sentences from ``aco yardstick``'s ``summary.json`` (held-out means over seeds)."""
    methods = summary.get("methods", {})
    runs = summary.get("runs", [])
    seeds = summary.get("seeds", [])
    budget = runs[0].get("budget_per_hour", 1.0) if runs else 1.0
    score = ", ".join(sorted({r.get("score_name", "") for r in runs} - {""})) or "production"
    hours = summary.get("parts", {}).get("test", {}).get("hours", {}).get("mean")
    prod = methods.get("production", {})
    baselines = [m for m in methods if m.startswith("energy")]
    text = (
        f"On the realistic archive (real ACO background and real calls; "
        f"[docs/results.md](docs/results.md), by `aco yardstick`, the mean of {len(seeds)} seeds, "
        f"{_num(hours, '.1f')} h of held-out days per seed), the production score (`{score}`) "
        f"reaches a class-balanced AUC of {_num(prod.get('class_balanced_auc'))} and finds "
        f"{_num(_pct(prod.get('recall_at_budget')), '.0f')}% of the catalogued events at <= "
        f"{budget:g} false alarm(s) per hour"
    )
    if baselines:
        best = max(baselines, key=lambda m: _finite(methods[m].get("recall_at_budget")))
        b = methods[best]
        text += (
            f", against {_num(b.get('class_balanced_auc'))} and "
            f"{_num(_pct(b.get('recall_at_budget')), '.0f')}% for the best band-energy baseline "
            f"(`{best}`)"
        )
    text += "."
    choice = summary.get("choice", {})
    if choice.get("best") and choice["best"] != score:
        best = methods.get(choice["best"], {})
        text += (
            f" Of the model's scores, `{choice['best']}` finds the most held-out events at that "
            f"budget ({_num(_pct(best.get('recall_at_budget')), '.0f')}%)."
        )
    return text


def _pct(x: Any) -> float | None:
    return None if x is None else 100 * float(x)


def _finite(x: Any) -> float:
    return float(x) if x is not None and math.isfinite(float(x)) else -math.inf


# ------------------------------------------------------------------------------ demo archive
def read_demo(data_dir: Path, *, version: int | None = None) -> dict[str, Any]:
    """The champion's evaluation in the demo warehouse: model facts and ``methods -> {metric:
    value}`` (subset ``all``)."""
    from aco_assets.storage.layout import DataLayout
    from aco_assets.storage.warehouse import Warehouse
    from orchestration.cli.review_commands import resolve_version

    path = DataLayout.resolve(data_dir=str(data_dir)).duckdb_path
    if not path.exists():
        raise FileNotFoundError(f"no warehouse {path}: run `aco demo --data {data_dir}` first")
    warehouse = Warehouse(path)
    version = resolve_version(warehouse, version)
    model = warehouse.query("SELECT * FROM model_versions WHERE model_version = ?", [version])
    rows = warehouse.query(
        "SELECT method, metric, value FROM evaluation_metrics WHERE model_version = ? "
        "AND subset = 'all'",
        [version],
    ).to_pylist()
    if not rows:
        raise LookupError(f"no evaluation of model version {version} in {path}")
    days = warehouse.query(
        "SELECT count(DISTINCT day) AS n FROM anomaly_scores WHERE model_version = ?", [version]
    )["n"][0].as_py()
    methods: dict[str, dict[str, float]] = {}
    for r in rows:
        methods.setdefault(r["method"], {})[r["metric"]] = r["value"]
    facts = model.to_pylist()[0]
    keep = ("model_version", "score_name", "threshold", "n_general", "n_typical", "is_champion")
    return {**{k: facts.get(k) for k in keep}, "days": days, "methods": methods}


def _m(demo: dict[str, Any], method: str, metric: str) -> float | None:
    return demo.get("methods", {}).get(method, {}).get(metric)


def _best(demo: dict[str, Any], metric: str) -> str:
    found = [m for m in DEMO_METHODS if _m(demo, m, metric) is not None]
    return max(found, key=lambda m: _finite(_m(demo, m, metric))) if found else "production"


def demo_text(demo: dict[str, Any]) -> str:
    """README sentences: events found, alarms, and the methods' AUC on the demo archive."""
    p = "production"
    text = (
        f"On the demo archive (synthetic sounds, one seed; "
        f"[docs/demo_results.md](docs/demo_results.md), by `aco results`, model version "
        f"{demo.get('model_version')}): {_num(_m(demo, p, 'n_events'), '.0f')} catalogued "
        f"acoustic events, {_num(_pct(_m(demo, p, 'event_recall')), '.0f')}% of them detected at "
        f"{_num(_m(demo, p, 'alarms_per_day'), '.1f')} alarms a day with "
        f"{_num(_pct(_m(demo, p, 'detection_precision')), '.0f')}% of detections true "
        f"(precision@10 {_num(_m(demo, p, 'precision_at_10'))}); window AUC "
        f"{_num(_m(demo, p, 'auc'))} for the production score, against "
        + ", ".join(
            f"{_num(_m(demo, m, 'auc'))} for {DEMO_TITLES[m]}"
            for m in ("energy", "recon_error", "gmm_nll")
        )
        + "."
    )
    best = _best(demo, "pauc_mcclish")
    if best != p:
        text += (
            f" At low false-alarm rates {DEMO_TITLES[best]} is better (pAUC "
            f"{_num(_m(demo, best, 'pauc_mcclish'))} vs {_num(_m(demo, p, 'pauc_mcclish'))}):"
            " [docs/model_results.md](docs/model_results.md) discusses why."
        )
    return text


def demo_archive_text(demo: dict[str, Any]) -> str:
    """docs/model_results.md: the demo's figures per method, and what they say."""
    p = "production"
    champion = "champion" if demo.get("is_champion") else "not champion: it missed its checks"
    lines = [
        f"Model version {demo.get('model_version')} ({champion}; production score "
        f"`{demo.get('score_name')}`), trained on {demo.get('n_general')} windows "
        f"({demo.get('n_typical')} typical); every method scored on the same "
        f"{_num(_m(demo, p, 'n_windows'), '.0f')} windows of the demo's {demo.get('days')} days, "
        f"{_num(_m(demo, p, 'n_positive'), '.0f')} of them overlapping a catalogued event:",
        "",
        "| method | AUC | pAUC <= 0.1 (McClish) | event recall | precision | alarms/day |",
        "|---|---|---|---|---|---|",
    ]
    for m in DEMO_METHODS:
        if m in demo.get("methods", {}):
            cells = [_num(_m(demo, m, k), ".3f") for k in ("auc", "pauc_mcclish", "event_recall",
                     "detection_precision", "alarms_per_day")]  # fmt: skip
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
    auc_prod, auc_energy = _m(demo, p, "auc"), _m(demo, "energy", "auc")
    verb = "beats" if _finite(auc_prod) > _finite(auc_energy) else "does not beat"
    best_auc, best_pauc = _best(demo, "auc"), _best(demo, "pauc_mcclish")
    lines += [
        "",
        f"The production score {verb} the classic band-limited energy detector on AUC "
        f"({_num(auc_prod, '.3f')} vs {_num(auc_energy, '.3f')}; event recall "
        f"{_num(_m(demo, p, 'event_recall'), '.2f')} vs "
        f"{_num(_m(demo, 'energy', 'event_recall'), '.2f')}). The best AUC is {DEMO_TITLES[best_auc]}"
        f"'s ({_num(_m(demo, best_auc, 'auc'), '.3f')}); the best at low false-alarm rates (pAUC) "
        f"is {DEMO_TITLES[best_pauc]}'s ({_num(_m(demo, best_pauc, 'pauc_mcclish'), '.3f')}).",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ digits
def digits_text(runs: list[dict[str, Any]]) -> str:
    """README sentence: the NP detector on real digits (means over the seeds' JSON)."""

    def mean(method: str, key: str) -> float:
        return float(np.mean([r[method][key] for r in runs]))

    rho = runs[0]["config"]["train"]["rho"]
    quick = " (quick schedule)" if runs[0]["config"].get("quick") else ""
    return (
        f"On real digits ([docs/digits.md](docs/digits.md), {len(runs)} "
        f"seed{'s' if len(runs) != 1 else ''}{quick}) the NP "
        f"detector reaches AUC {mean('np', 'auc'):.2f} and TPR {mean('np', 'tpr_at_rho'):.2f} at a "
        f"realised FPR of {mean('np', 'fpr_at_rho'):.3f} for a {rho:.0%} target."
    )


# ------------------------------------------------------------------------------ benchmarks
def benchmarks_text(bench: dict[str, Any]) -> str:
    """README sentence: decoder, front end and (when measured) the full-day pipeline."""
    parts = []
    if "codec" in bench:
        c = bench["codec"]
        parts.append(f"the decoder reads {c['read_file_mb_s']:.0f} MB/s on one core "
                     f"({c['ratio_vs_acoio']:.0f}x ACOio)")  # fmt: skip
    if "features" in bench:
        parts.append(f"the front end takes {bench['features']['mean_s']:.2f} s per 5-minute file")
    if "pipeline" in bench:
        pl = bench["pipeline"]
        parts.append(
            f"a full {pl['n_files']}-file day goes through {', '.join(pl['timed_stages'])} in "
            f"{pl['timed_s']:.0f} s with {pl['workers']} workers on "
            f"{pl.get('machine', {}).get('cores', '?')} cores (measured "
            f"{pl.get('machine', {}).get('measured_at', '?')[:10]}{_load(pl.get('machine', {}))})"
        )
        if pl.get("aco_pipeline"):  # the day as a user runs it: a new process, its runs
            parts.append(
                f"as a user runs it (`aco pipeline`, start-up and review clips included) "
                f"{pl['aco_pipeline']['wall_s']:.0f} s, against a target of {pl['target_s']:.0f} s"
            )
    else:
        parts.append("the full-day pipeline is measured by `make bench-pipeline`")
    text = "; ".join(parts)
    return f"Speed ([docs/benchmarks.md](docs/benchmarks.md)): {text}."


def _load(machine: dict[str, Any]) -> str:
    load = machine.get("load_avg_1min")
    return f", load average {load:.1f}" if load is not None else ""


def synth_coverage_text(bench: dict[str, Any]) -> str:
    """docs/synthetic_archive.md: the share of windows overlapping an event, by month."""
    if "coverage" not in bench.get("synth", {}):
        return "Event coverage not measured (`python benchmarks/bench_synth.py` prints it)."
    c = bench["synth"]["coverage"]
    months: dict[str, list[float]] = {}
    for key, g in c["groups"].items():
        months.setdefault(key.split()[0], []).append(100 * g["share"])
    cells = ", ".join(f"{m} {min(v):.0f}-{max(v):.0f} %" for m, v in sorted(months.items()))
    return (
        f"In the `demo` archive (seed {bench['synth']['demo']['seed']}) {100 * c['share']:.1f} % of "
        f"5 s windows overlap an event; by month (HST evening and the rest): {cells} "
        "(`python benchmarks/bench_synth.py`; with eight files a day the per-month figures are "
        "noisy)."
    )


def synth_speed_text(bench: dict[str, Any]) -> str:
    """docs/synthetic_archive.md: seconds per file by stage and the demo archive's wall time."""
    s = bench.get("synth")
    if not s:
        return "Not measured (`python benchmarks/bench_synth.py`)."
    f, m = s["files"], s.get("machine", {})
    load = m.get("load_avg_1min")
    load_text = f", load average {load:.1f}" if load is not None else ""
    text = (
        f"Measured by `python benchmarks/bench_synth.py` (one core of a {m.get('cores', '?')}-core "
        f"machine, {m.get('measured_at', '?')[:10]}{load_text}): background {f['background_s']:.2f} s, "
        f"background plus whale-season events {f['render_s']:.2f} s, codec write "
        f"{f['write_s']:.2f} s, **{f['total_s']:.2f} s per 5-minute file (about "
        f"{f['rtf']:.0f}x real time)**"
    )
    if "demo" in s:
        text += f"; the demo archive ({s['demo']['files']} files) in {s['demo']['wall_s']:.0f} s"
    return text + "."


# ------------------------------------------------------------------------------ make results
def timings_text(timings: dict[str, Any]) -> str:
    """README: how long each step of the last ``make results`` took."""
    steps = timings.get("steps", {})
    lines = [
        f"The last `make results` (finished {timings.get('finished', '?')[:16].replace('T', ' ')}, "
        f"{timings.get('cores', '?')} cores):",
        "",
        "| step | minutes |",
        "|---|---|",
        *(f"| {name} | {s['seconds'] / 60:.1f} |" for name, s in steps.items()),
        f"| **all** | **{sum(s['seconds'] for s in steps.values()) / 60:.1f}** |",
    ]
    return "\n".join(lines)
