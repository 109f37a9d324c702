"""``aco yardstick``: the realistic archive over several seeds, evaluated on held-out days.

For each seed: write the realistic archive from the real recordings in ``--sounds`` (same seed),
run the whole lineage on it in its own data folder (``aco pipeline --retrain``, the detector
seeded too), and read the ``evaluation`` asset's yardstick summary of the champion. Then average
every figure over the seeds and write ``docs/results.md`` with its figures, plus
``<work>/summary.json`` (the numbers the README quotes).

Figures of the held-out days are the evidence; those of the training days are printed beside
them, labelled, to show how much the model flatters itself on data it has seen.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

#: Methods in the order the results table lists them: the model's scores, then the baselines.
MODEL_METHODS: tuple[str, ...] = ("production", "np", "gmm_nll", "combined", "recon_error")
BASELINES: tuple[str, ...] = ("energy_1s", "energy_5s")
#: Metrics of the main table: (key in the summary, column title).
MAIN_METRICS: tuple[tuple[str, str], ...] = (
    ("class_balanced_auc", "class-balanced AUC"),
    ("event_balanced_auc", "event-balanced AUC"),
    ("pauc", "pAUC (FPR <= 0.1)"),
    ("recall_at_budget", "event recall at <= 1 false alarm / h"),
)
SUMMARY_NAME = "yardstick.json"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``yardstick`` to the ``aco`` command line."""
    p = subparsers.add_parser(
        "yardstick",
        help="evaluate the lineage on realistic archives (several seeds, held-out days)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--sounds", type=Path, required=True, help="folder of real recordings")
    p.add_argument("--work", type=Path, required=True, help="folder for archives and data")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--days", type=int, help="days of the realistic archive (default: preset)")
    p.add_argument("--files-per-day", type=int, help="files a day (default: preset)")
    p.add_argument("--detector-config", type=json.loads, default={}, help="JSON overrides")
    p.add_argument("--out", type=Path, default=Path("docs/results.md"))
    p.add_argument("--reuse", action="store_true", help="keep seeds already evaluated in --work")
    p.set_defaults(func=cmd_yardstick)


def cmd_yardstick(args: argparse.Namespace) -> int:
    if not args.sounds.is_dir():
        print(f"aco yardstick: no recordings folder {args.sounds} (set --sounds / SOUNDS)")
        return 2
    runs = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        summary = run_seed(args, seed)
        summary["wall_s"] = time.perf_counter() - t0
        runs.append(summary)
        print(f"seed {seed}: evaluated in {summary['wall_s']:.0f} s", flush=True)
    aggregate = aggregate_runs(runs)
    (args.work / "summary.json").write_text(json.dumps(aggregate, indent=2, default=float))
    figures = write_figures(aggregate, args.out.parent / "figures")
    args.out.write_text(results_markdown(aggregate, figures, args))
    print(f"wrote {args.out} and {args.work / 'summary.json'}")
    return 0


def run_seed(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """Write the archive, run the lineage and return the evaluation's summary for ``seed``."""
    data = (args.work / f"seed{seed}").resolve()
    archive = data / "archive"
    done = list((data / "evaluation").glob(f"v*/{SUMMARY_NAME}"))
    if args.reuse and done:
        summary = json.loads(max(done, key=lambda p: p.stat().st_mtime).read_text())
        return summary | {"seed": seed}
    # a fresh folder: a registry left by an earlier run would keep its champion when the new
    # version fails its check, and the yardstick would measure the old model
    shutil.rmtree(data, ignore_errors=True)
    synth = ["synth", "--preset", "realistic", "--sounds", str(args.sounds.resolve())]
    synth += ["--out", str(archive), "--seed", str(seed), "--quiet"]
    if args.days:
        synth += ["--days", str(args.days)]
    if args.files_per_day:
        synth += ["--files-per-day", str(args.files_per_day)]
    _aco(synth)
    config = json.dumps({"seed": seed, **args.detector_config})
    _aco(["pipeline", "--archive", str(archive), "--data", str(data), "--retrain",
          "--detector-config", config])  # fmt: skip
    found = sorted(
        (data / "evaluation").glob(f"v*/{SUMMARY_NAME}"), key=lambda p: p.stat().st_mtime
    )
    if not found:
        raise FileNotFoundError(f"the evaluation of seed {seed} wrote no {SUMMARY_NAME} in {data}")
    summary = json.loads(found[-1].read_text())
    summary["seed"] = seed
    return summary


#: Settings that would point a seed's run at another data folder or MLflow store.
_FOREIGN_SETTINGS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "DAGSTER_HOME",
                     "ACO_DATA_DIR", "ACO_ARCHIVE_ROOT", "ACO_STORE_ROOT")  # fmt: skip


def seed_environment() -> dict[str, str]:
    """This process's environment without the settings that would share a store across seeds
    (each seed keeps its runs, registry and champion in its own data folder)."""
    return {k: v for k, v in os.environ.items() if k not in _FOREIGN_SETTINGS}


def _aco(argv: list[str]) -> None:
    cmd = [sys.executable, "-m", "orchestration.cli.main", *argv]
    print("$ aco " + " ".join(argv), flush=True)
    subprocess.run(cmd, check=True, env=seed_environment())


def _stats(values: list[float]) -> dict[str, float]:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], float)
    if v.size == 0:
        return {"mean": float("nan"), "sd": float("nan"), "n": 0}
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "n": int(v.size)}  # fmt: skip


def aggregate_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and standard deviation over seeds of every figure of every method and part.

    Each run is the evaluation's summary: ``parts -> {part: {"hours", "methods" -> {method:
    {metric: value, "per_class_recall": {class: value}, "per_snr_recall": {...}}}}}``.
    """
    out: dict[str, Any] = {"seeds": [r["seed"] for r in runs], "parts": {}, "runs": runs}
    for part in ("test", "train"):
        methods: dict[str, Any] = {}
        names = sorted({m for r in runs for m in r["parts"].get(part, {}).get("methods", {})})
        for m in names:
            per_run = [r["parts"][part]["methods"].get(m, {}) for r in runs if part in r["parts"]]
            methods[m] = _aggregate_method(per_run)
        hours = [r["parts"][part]["hours"] for r in runs if part in r["parts"]]
        out["parts"][part] = {"hours": _stats(hours), "methods": methods}
    out["methods"] = {m: {k: v["mean"] for k, v in d.items() if isinstance(v, dict) and "mean" in v}
                      for m, d in out["parts"]["test"]["methods"].items()}  # fmt: skip
    out["choice"] = choose_production(out["parts"]["test"]["methods"])
    return out


def _aggregate_method(per_run: list[dict[str, Any]]) -> dict[str, Any]:
    scalars = sorted({k for r in per_run for k, v in r.items() if isinstance(v, int | float)})
    agg: dict[str, Any] = {k: _stats([r.get(k) for r in per_run]) for k in scalars}
    for table in (
        "per_class_recall",
        "per_snr_recall",
        "per_class_auc",
        "per_class_recall_at_threshold",
    ):
        keys = sorted({k for r in per_run for k in r.get(table, {})})
        if keys:
            agg[table] = {k: _stats([r.get(table, {}).get(k) for r in per_run]) for k in keys}
    return agg


def choose_production(methods: dict[str, Any]) -> dict[str, Any]:
    """The model score with the best held-out event recall at the budget (then the AUC)."""
    candidates = [m for m in ("np", "gmm_nll", "combined", "recon_error") if m in methods]
    if not candidates:
        return {}

    def key(m: str) -> tuple[float, float]:
        d = methods[m]
        return (d["recall_at_budget"]["mean"], d["class_balanced_auc"]["mean"])

    best = max(candidates, key=key)
    return {"best": best, "ranking": sorted(candidates, key=key, reverse=True)}


# ------------------------------------------------------------------------------ the document
def _fmt(stat: dict[str, float] | None, digits: int = 2) -> str:
    if not stat or not np.isfinite(stat.get("mean", np.nan)):
        return "-"
    return f"{stat['mean']:.{digits}f} ± {stat['sd']:.{digits}f}"


def _method_title(m: str, score_names: set[str]) -> str:
    titles = {
        "production": "production score"
        + (f" (`{'`, `'.join(sorted(score_names))}`)" if score_names else ""),
        "np": "NP discriminator error",
        "gmm_nll": "latent GMM NLL",
        "combined": "GMM NLL + NP error (standardised sum)",
        "recon_error": "VAE reconstruction error",
        "energy_1s": "band-energy z-score, 1/3-octave, 1 s steps",
        "energy_5s": "band-energy z-score, 1/3-octave, 5 s steps",
    }
    return titles.get(m, m)


def _main_table(part: dict[str, Any], score_names: set[str]) -> list[str]:
    cols = [t for _, t in MAIN_METRICS] + ["false alarms / h at the production threshold",
                                           "event recall at the production threshold"]  # fmt: skip
    lines = ["| method | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for m in (*MODEL_METHODS, *BASELINES):
        d = part["methods"].get(m)
        if d is None:
            continue
        cells = [_fmt(d.get(k)) for k, _ in MAIN_METRICS]
        cells += [_fmt(d.get("fa_per_hour_at_threshold")), _fmt(d.get("recall_at_threshold"))]
        lines.append(f"| {_method_title(m, score_names)} | " + " | ".join(cells) + " |")
    return lines


def _subset_table(part: dict[str, Any], table: str) -> list[str]:
    keys = sorted({k for d in part["methods"].values() for k in d.get(table, {})})
    methods = [m for m in (*MODEL_METHODS, *BASELINES) if m in part["methods"]]
    lines = ["| subset | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for k in keys:
        cells = [_fmt(part["methods"][m].get(table, {}).get(k)) for m in methods]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return lines


def results_markdown(agg: dict[str, Any], figures: dict[str, str], args: argparse.Namespace) -> str:
    """docs/results.md from the aggregate of :func:`aggregate_runs`."""
    runs = agg["runs"]
    score_names = {r.get("score_name", "") for r in runs} - {""}
    test, train = agg["parts"]["test"], agg["parts"]["train"]
    budget = runs[0].get("budget_per_hour", 1.0)
    lines = [
        "# Results: the realistic archive, held-out days",
        "",
        f"Generated by `make results` (`aco yardstick --seeds {' '.join(map(str, agg['seeds']))}`)"
        f" on {dt.date.today()}. Every number below is the mean ± standard deviation over "
        f"{len(runs)} seeds; each seed writes its own realistic archive from the real recordings "
        "(`aco synth --preset realistic`, docs/synthetic_archive.md) and trains, calibrates and "
        "tests its own detector on it (`aco pipeline --retrain`).",
        "",
        "## Protocol",
        "",
        "- Training, calibration and test are separated by whole UTC days "
        "(`aco_assets/scoring/protocol.py`): no window of a calibration or test day is seen by any "
        "training phase; the phase-2 anomaly candidates are general windows outside the typical "
        "selection.",
        f"- The false-alarm budget is {budget:g} alarm(s) per hour of audio; it becomes the "
        "production threshold on the typical windows of the calibration day(s). Alarms are "
        "merged episodes (the `detections` rule), and a false alarm is an episode that touches no "
        "catalogued event and no data fault.",
        "- Windows that overlap a data fault of the catalog are scored apart, not as events.",
        f"- Held-out audio per seed: {_fmt(test['hours'], 2)} h; training audio "
        f"{_fmt(train['hours'], 2)} h.",
        "",
        "| seed | days (train / calibration / test) | production score | threshold rule | "
        "held-out typical false alarms / h (check) | champion check |",
        "|---|---|---|---|---|---|",
    ]
    for r in runs:
        s = r.get("split", {})
        lines.append(
            f"| {r['seed']} | {len(s.get('train', []))} / {len(s.get('calibration', []))} / "
            f"{len(s.get('test', []))} | `{r.get('score_name', '')}` | {r.get('threshold_rule', '')} "
            f"| {r.get('heldout_false_alarms_per_hour', float('nan')):.2f} (budget {budget:g}) | "
            f"{'passed' if r.get('checks_passed') else 'failed'} |"
        )
    lines += ["", "## Held-out days: every method on the same windows", ""]
    lines += _main_table(test, score_names)
    lines += [
        "",
        "Class-balanced AUC: the mean over classes of the AUC of that class's windows against "
        "event-free windows. Event-balanced AUC: every event weighs the same. Recall at <= 1 "
        "false alarm per hour: the threshold swept on the test days (an oracle operating point, "
        "the same for every method); the production threshold is the one set on the calibration "
        "days without looking at the test days.",
        "",
    ]
    choice = agg.get("choice", {})
    if choice:
        lines += [
            "## The production score",
            "",
            f"Among the model's scores, ranked by held-out event recall at the budget, then by "
            f"class-balanced AUC: {', '.join(f'`{m}`' for m in choice['ranking'])}. The best is "
            f"`{choice['best']}`; these runs used `{', '.join(sorted(score_names))}`.",
            "",
        ]
    lines += ["## Event recall per class at <= 1 false alarm / h (held-out days)", ""]
    lines += _subset_table(test, "per_class_recall")
    lines += ["", "## Event recall per SNR bucket at <= 1 false alarm / h (held-out days)", ""]
    lines += _subset_table(test, "per_snr_recall")
    lines += ["", "## AUC per class (held-out days)", ""]
    lines += _subset_table(test, "per_class_auc")
    lines += ["", "## Training days (seen in training: not evidence)", ""]
    lines += _main_table(train, score_names)
    faults = _fault_lines(runs)
    if faults:
        lines += ["", "## Data faults: found by the quality checks?", "", *faults]
    lines += [""]
    for name, path in figures.items():
        lines += [f"![{name}]({path})", ""]
    return "\n".join(lines)


def _fault_lines(runs: list[dict[str, Any]]) -> list[str]:
    classes = sorted({c for r in runs for c in r.get("faults", {})})
    if not classes:
        return []
    lines = ["| fault class | catalogued | found by a quality issue |", "|---|---|---|"]
    for c in classes:
        n = sum(r.get("faults", {}).get(c, {}).get("n", 0) for r in runs)
        found = sum(r.get("faults", {}).get(c, {}).get("found", 0) for r in runs)
        lines.append(f"| {c} | {n} | {found} |")
    return lines


def write_figures(agg: dict[str, Any], directory: Path) -> dict[str, str]:
    """Bar charts of the held-out figures; returns name -> path relative to the document."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    test = agg["parts"]["test"]["methods"]
    methods = [m for m in (*MODEL_METHODS, *BASELINES) if m in test]
    out: dict[str, str] = {}
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    for ax, (key, title) in zip(axes, (MAIN_METRICS[0], MAIN_METRICS[3]), strict=True):
        means = [test[m].get(key, {}).get("mean", np.nan) for m in methods]
        sds = [test[m].get(key, {}).get("sd", 0.0) for m in methods]
        ax.bar(range(len(methods)), means, yerr=sds, color="tab:blue", capsize=3)
        ax.set_xticks(range(len(methods)), methods, rotation=35, ha="right")
        ax.set_ylim(0, 1)
        ax.set_title(f"{title} (held-out days)", fontsize=9)
    fig.savefig(directory / "results_methods.png", dpi=100)
    plt.close(fig)
    out["methods"] = "figures/results_methods.png"
    classes = sorted({c for m in methods for c in test[m].get("per_class_recall", {})})
    if classes:
        fig, ax = plt.subplots(figsize=(10, 3.6), constrained_layout=True)
        width = 0.8 / len(methods)
        for i, m in enumerate(methods):
            vals = [
                test[m].get("per_class_recall", {}).get(c, {}).get("mean", np.nan) for c in classes
            ]
            ax.bar(np.arange(len(classes)) + i * width, vals, width, label=m)
        ax.set_xticks(np.arange(len(classes)) + 0.4 - width / 2, classes)
        ax.set_ylim(0, 1)
        ax.set_ylabel("event recall at <= 1 FA/h")
        ax.legend(fontsize=7, ncol=4)
        fig.savefig(directory / "results_per_class.png", dpi=100)
        plt.close(fig)
        out["per_class"] = "figures/results_per_class.png"
    return out
