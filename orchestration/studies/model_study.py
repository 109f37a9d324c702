"""``python -m orchestration.studies.model_study``: model variants measured on the realistic archive.

Every variant is trained and scored on the data folders ``aco yardstick`` leaves in ``--work``
(``seed<N>/``: the realistic archive of that seed, its windows, features and the time split of
its champion). Each variant trains on the training days only, sets its threshold from the
false-alarm budget on the calibration days, and is evaluated on the held-out days with the
yardstick (``aco_assets.yardstick``), at the steps it scores (5 s windows, or 1 s steps).
Writes ``docs/model_results.md`` and ``<work>/model_study.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from orchestration.studies.seed_data import Variant, evaluate_steps, load_seed

CLASSES = ("blue_whale", "humpback", "implosion", "orca", "ping", "ship")


def run_seed_variants(
    work: Path, seed: int, names: Sequence[str], production: dict[str, str]
) -> dict[str, Any]:
    """Every named variant on one seed: ``{"variants": {name: figures}, "energy", "hours"}``."""
    import torch

    from orchestration.studies.model_variants import VARIANTS, energy_baselines

    torch.set_num_threads(1)  # one seed per process (``--jobs``)
    folder = work / f"seed{seed}"
    data = load_seed(folder, seed)
    out: dict[str, Any] = {"variants": {}, "energy": energy_baselines(folder), "hours": {}}
    cache = work / "model_study" / f"seed{seed}"
    cache.mkdir(parents=True, exist_ok=True)
    for name in names:
        done = cache / f"{name}.json"
        if done.exists():  # measured by an earlier run on the same data folder
            saved = json.loads(done.read_text())
            out["variants"][name] = saved["figures"]
            if saved.get("hours") is not None:
                out["hours"][name] = saved["hours"]
            continue
        t0 = time.perf_counter()
        test, cal = VARIANTS[name][1](data)
        res = evaluate_steps(name, test, cal, data, production=production.get(name))
        res["_wall_s"] = time.perf_counter() - t0
        hours = data.extra.pop("training_hours", None)
        done.write_text(json.dumps({"figures": res, "hours": hours}, default=float))
        if hours is not None:
            out["hours"][name] = hours
        out["variants"][name] = res
        judged = res[production.get(name, "np")]
        print(f"seed {seed} {name}: class-balanced AUC {judged['class_balanced_auc']:.3f}, "
              f"recall at budget {judged['recall_at_budget']:.2f} ({res['_wall_s']:.0f} s)",
              flush=True)  # fmt: skip
    return out


def run_variants(
    work: Path, seeds: Sequence[int], names: Sequence[str], *, production: dict[str, str],
    jobs: int = 1,
) -> dict[str, Any]:  # fmt: skip
    """``{"variants": {variant: {seed: {score: figures}}}, "energy", "training_hours"}``."""
    from concurrent.futures import ProcessPoolExecutor

    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            per_seed = list(pool.map(run_seed_variants, [work] * len(seeds), seeds,
                                     [list(names)] * len(seeds), [production] * len(seeds)))  # fmt: skip
    else:
        per_seed = [run_seed_variants(work, s, names, production) for s in seeds]
    results: dict[str, Any] = {"variants": {}, "energy": {}, "training_hours": {}}
    for seed, one in zip(seeds, per_seed, strict=True):
        results["energy"][str(seed)] = one["energy"]
        for name, res in one["variants"].items():
            results["variants"].setdefault(name, {})[str(seed)] = res
        for name, hours in one["hours"].items():
            results["training_hours"].setdefault(name, []).append(hours)
    return results


def _stat(values: list[float], digits: int = 2) -> str:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], float)
    if not v.size:
        return "-"
    return (
        f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"
        if v.size > 1
        else f"{v[0]:.{digits}f}"
    )


def _figures(per_seed: dict[str, dict], key: str, cls: str | None = None) -> list[float]:
    out = []
    for fig in per_seed.values():
        value = fig.get(key) if cls is None else fig.get(key, {}).get(cls)
        out.append(np.nan if value is None else float(value))
    return out


def markdown(results: dict[str, Any], variants: dict[str, tuple[str, Variant]],
             production: dict[str, str], seeds: Sequence[int], command: str) -> str:  # fmt: skip
    """docs/model_results.md."""
    v = results["variants"]
    head = ("| variant | score | class-balanced AUC | event recall at <= 1 false alarm / h | "
            "false alarms / h at the calibrated threshold | event recall at that threshold | "
            + " | ".join(CLASSES) + " |")  # fmt: skip
    rule = "|" + "---|" * (6 + len(CLASSES))
    rows = []

    def row(label: str, score: str, per_seed: dict[str, dict]) -> str:
        cells = [_stat(_figures(per_seed, "class_balanced_auc")),
                 _stat(_figures(per_seed, "recall_at_budget")),
                 _stat(_figures(per_seed, "fa_per_hour_at_threshold")),
                 _stat(_figures(per_seed, "recall_at_threshold"))]  # fmt: skip
        cells += [_stat(_figures(per_seed, "per_class_recall", c)) for c in CLASSES]
        return f"| {label} | `{score}` | " + " | ".join(cells) + " |"

    for name, (what, _) in variants.items():
        if name not in v:
            continue
        score = production.get(name, "np")
        rows.append(row(f"**{name}**: {what}", score, {s: r[score] for s, r in v[name].items()}))
    prod = v.get("production", {})
    alone = [row(f"production network, `{sc}` alone", sc,
                 {s: r[sc] for s, r in prod.items()}) for sc in ("np", "combined", "recon_error", "gmm_nll")]  # fmt: skip
    energy = results["energy"]
    names = sorted({m for e in energy.values() for m in e})
    base = []
    for m in names:
        per_seed = {}
        for s, e in energy.items():
            if m in e:
                f = e[m]
                per_seed[s] = {"class_balanced_auc": f.get("class_balanced_auc"),
                               "recall_at_budget": f.get("recall_at_budget"),
                               "per_class_recall": f.get("per_class_recall", {})}  # fmt: skip
        base.append(row(f"baseline: band-energy z-score, 1/3-octave, {m.split('_')[1]} steps", m, per_seed))  # fmt: skip
    lines = [
        f"Generated by `make results` (`{command}`) on {dt.date.today()}, over seeds "
        f"{', '.join(map(str, seeds))}: each seed's realistic archive, data folder and champion "
        "are the ones `aco yardstick` left (docs/results.md). Every variant trains on the "
        "seed's training days only, its threshold is set from the false-alarm budget "
        "(1 alarm per hour) on the calibration days, and every figure is measured on the "
        "held-out test days, at the steps the variant scores. Mean ± standard deviation over "
        "the seeds.",
        "",
        "Scoring variants read the production network in another way (no retraining); training "
        "variants retrain with one thing changed. Event recall at <= 1 false alarm per hour "
        "sweeps the threshold on the test days (an oracle operating point, the same for every "
        "method); the calibrated threshold is the one the budget sets on the calibration days. "
        "Per-class columns: event recall at <= 1 false alarm per hour.",
        "",
        "### Variants",
        "",
        head,
        rule,
        *rows,
        "",
        "### The production network's scores, each alone, and the baselines",
        "",
        "The Neyman-Pearson score (`np`) is the discriminator head's localised error; "
        "`recon_error` is the VAE generator's; `gmm_nll` the latent mixture's negative "
        "log-likelihood (one figure per 5 s window); `combined` their standardised sum. The "
        "`no_np_phase` row above is the same design trained without the NP phase.",
        "",
        head,
        rule,
        *alone,
        *base,
        "",
    ]
    hours = results.get("training_hours", {})
    if hours:
        lines += [
            "Audio of phase 1 of the retrained variants (general windows of their training days, hours): "
            + ", ".join(f"{k}: {_stat(vals, 2)}" for k, vals in hours.items()),
            "",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m orchestration.studies.model_study", description=__doc__
    )
    p.add_argument("--work", type=Path, required=True, help="the folder of aco yardstick --work")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--only", nargs="*", default=None, help="variant names (default: all)")
    p.add_argument("--out", type=Path, default=Path("docs/model_results.md"))
    p.add_argument("--jobs", type=int, default=1, help="seeds measured at once (processes)")
    p.add_argument("--fresh", action="store_true", help="forget variants measured before")
    args = p.parse_args(argv)
    from orchestration.studies import model_variants

    variants = model_variants.VARIANTS
    if args.only:
        variants = {k: v for k, v in variants.items() if k in args.only}
    missing = [s for s in args.seeds if not (args.work / f"seed{s}" / "aco.duckdb").exists()]
    if missing:
        print(f"model_study: no yardstick data folder for seed(s) {missing} in {args.work}: "
              "run `aco yardstick` first")  # fmt: skip
        return 2
    if args.fresh:
        shutil.rmtree(args.work / "model_study", ignore_errors=True)
    results = run_variants(args.work, args.seeds, list(variants),
                           production=model_variants.PRODUCTION, jobs=args.jobs)  # fmt: skip
    (args.work / "model_study.json").write_text(json.dumps(results, indent=1, default=float))
    command = f"python -m orchestration.studies.model_study --work {args.work} --seeds " + " ".join(
        map(str, args.seeds)
    )
    from orchestration.studies.docs_blocks import replace_block

    text = markdown(results, variants, model_variants.PRODUCTION, args.seeds, command)
    replace_block(args.out, "realistic-variants", text.rstrip("\n"))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
