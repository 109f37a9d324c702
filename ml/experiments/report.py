"""Summarise digit-experiment JSON files (one per seed) as Markdown tables of mean +- std.

Usage::

    python -m ml.experiments.report seed0.json seed1.json seed2.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["summarise", "main"]

METHODS = {
    "np": "NP detector: discriminator error (real unlikely-latent anomalies)",
    "gmm_nll": "GMM NLL of mu (same model)",
    "combined": "NP + GMM NLL (standardised on calibration, summed)",
    "vae": "VAE on general data, reconstruction error",
    "vae_gmm_nll": "GMM NLL of mu of the general VAE",
    "vae_typical": "VAE on typical data only, reconstruction error",
    "knn": "kNN distance in pixel space (k = 5, typical training images)",
}


def _cell(values: list[float], digits: int = 3) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


def summarise(runs: list[dict[str, Any]]) -> str:
    """Markdown: one row per method with AUC, pAUC, TPR / FPR at rho and per-digit AUC."""
    digits = sorted(runs[0]["np"]["per_digit_auc"])
    head = ["method", "AUC", "pAUC (FPR ≤ 0.1)", "TPR at ρ", "FPR at ρ"]
    head += [f"AUC digit {d}" for d in digits]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label in METHODS.items():
        if key not in runs[0]:
            continue
        row = [f"{label} (`{key}`)"]
        for metric in ("auc", "pauc", "tpr_at_rho", "fpr_at_rho"):
            row.append(_cell([r[key][metric] for r in runs]))
        row += [_cell([r[key]["per_digit_auc"][d] for r in runs]) for d in digits]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(prog="python -m ml.experiments.report")
    p.add_argument("files", nargs="+", type=Path)
    args = p.parse_args(argv)
    text = summarise([json.loads(f.read_text()) for f in args.files])
    print(text)  # noqa: T201  (command-line output)
    return text


if __name__ == "__main__":
    main()
