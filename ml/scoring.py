"""Scoring with a trained detector: the scores, the thresholds and the calibrated tail probability.

Dimension letters: N samples, C channels, H height, W width, D latent.

Every score is "higher = more anomalous". Thresholds are the (1 - rho) quantiles of each score on
held-out typical data (the calibration set), never on test data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, get_args

import numpy as np
import torch

from ml.config import DetectorConfig, ScoreName, TrainConfig
from ml.detector_files import DetectorFiles, read_detector_files, write_detector_files
from ml.errors import InputShapeError, ModelFileError
from ml.gmm import GaussianMixture
from ml.model import NPDetector, check_input, encode_mu
from ml.sampler import rejection_sample

__all__ = ["Scores", "FittedDetector", "SCORE_NAMES", "SCORE_FIELDS", "generate_anomalies"]

logger = logging.getLogger(__name__)
SCORE_NAMES: tuple[str, ...] = get_args(ScoreName)
#: score name -> the Scores field that holds it
SCORE_FIELDS: dict[str, str] = {
    "np": "np_error",
    "gmm_nll": "gmm_nll",
    "combined": "combined",
    "recon_error": "recon_error",
}


@dataclass(frozen=True)
class Scores:
    """Per-sample scores, each (N,) float64 (``is_anomaly`` bool), or (N, K) per scoring step
    (:meth:`FittedDetector.score_steps`).

    Attributes
    ----------
    np_error
        Discriminator reconstruction error with mu (mean squared, standardised units^2).
    gmm_nll
        Negative log-likelihood of mu under the typical-latent GMM (nats).
    combined
        Sum of log(np_error) and gmm_nll, each standardised by its calibration mean and std.
    recon_error
        Generator (VAE) reconstruction error with mu (mean squared, standardised units^2).
    score
        The configured production score (one of the three above).
    tail_prob
        Fraction of calibration typical samples whose production score is >= this score.
    is_anomaly
        ``score > threshold``.
    """

    np_error: np.ndarray
    gmm_nll: np.ndarray
    combined: np.ndarray
    recon_error: np.ndarray
    score: np.ndarray
    tail_prob: np.ndarray
    is_anomaly: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        """Column name -> array, e.g. for a table."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class FittedDetector:
    """A trained detector with its GMM, calibration scores and thresholds.

    Build with :func:`ml.fit_detector` or :meth:`load`; do not construct by hand.
    """

    def __init__(
        self,
        model: NPDetector,
        gmm: GaussianMixture,
        *,
        train: TrainConfig,
        calibration_scores: dict[str, np.ndarray],
        combine_stats: dict[str, float],
        history: list[dict[str, Any]],
    ) -> None:
        self.model = model.eval()
        self.gmm = gmm
        self.train = train
        self.calibration_scores = calibration_scores
        self.combine_stats = combine_stats
        self.history = history
        self.thresholds: dict[str, float] = {
            name: _quantile_threshold(calibration_scores[name], train.rho) for name in SCORE_NAMES
        }
        #: The operating point of the production score when one was set by the caller (e.g. a
        #: false-alarm budget turned into a threshold on calibration time): ``threshold`` plus
        #: whatever describes how it was chosen. ``None``: the (1 - rho) calibration quantile.
        self.operating_point: dict[str, Any] | None = None

    # ------------------------------------------------------------- properties
    @property
    def config(self) -> DetectorConfig:
        return self.model.config

    @property
    def score_name(self) -> ScoreName:
        return self.model.config.score

    @property
    def rho(self) -> float:
        return self.train.rho

    @property
    def threshold(self) -> float:
        """Threshold of the production score: the operating point when one is set, else the
        (1 - rho) quantile of the calibration scores (the target window FPR rho)."""
        if self.operating_point is not None:
            return float(self.operating_point["threshold"])
        return self.thresholds[self.score_name]

    def set_operating_point(self, threshold: float, **how: Any) -> None:
        """Use ``threshold`` for the production score (``score > threshold`` is anomalous).

        ``how`` describes the rule that chose it (JSON-able values); it is saved with the model.
        """
        if not np.isfinite(threshold):
            raise InputShapeError(f"operating threshold must be finite, got {threshold}")
        self.operating_point = {"threshold": float(threshold), **how}

    @property
    def realised_calibration_fpr(self) -> float:
        """Share of calibration samples above the production threshold (<= rho by design)."""
        return float(np.mean(self.calibration_scores[self.score_name] > self.threshold))

    # ---------------------------------------------------------------- scoring
    @classmethod
    def calibrate(
        cls,
        model: NPDetector,
        gmm: GaussianMixture,
        calibration: np.ndarray,
        *,
        train: TrainConfig,
        history: list[dict[str, Any]],
    ) -> FittedDetector:
        """Score held-out typical data and set every threshold from it."""
        raw = _raw_scores(model, gmm, calibration, batch_size=1024, with_recon=True)
        log_np = np.log(raw["np_error"])
        stats = {"log_np_mean": float(log_np.mean()), "log_np_std": float(log_np.std() + 1e-12),
                 "nll_mean": float(raw["gmm_nll"].mean()),
                 "nll_std": float(raw["gmm_nll"].std() + 1e-12)}  # fmt: skip
        raw["combined"] = _combine(raw, stats)
        steps = _per_step(raw)  # calibration scores are per step, flattened
        cal = {name: steps[SCORE_FIELDS[name]].ravel() for name in SCORE_NAMES}
        return cls(model, gmm, train=train, calibration_scores=cal, combine_stats=stats,
                   history=history)  # fmt: skip

    def score(self, x: np.ndarray, *, batch_size: int = 1024) -> Scores:
        """Score raw inputs ``x`` (N, C, H, W) float32, one value per input; see :class:`Scores`.

        With several scoring steps per input (``DetectorConfig.n_steps``) each score is the
        largest of the input's steps (:meth:`score_steps`), so an input is anomalous when any
        of its steps is.
        """
        steps = self.score_steps(x, batch_size=batch_size)
        worst = {f.name: getattr(steps, f.name).max(axis=1) for f in fields(steps)
                 if f.name not in ("gmm_nll", "tail_prob", "is_anomaly")}  # fmt: skip
        return Scores(gmm_nll=steps.gmm_nll[:, 0], tail_prob=self._tail_prob(worst["score"]),
                      is_anomaly=worst["score"] > self.threshold, **worst)  # fmt: skip

    def score_steps(self, x: np.ndarray, *, batch_size: int = 1024) -> Scores:
        """Score raw inputs ``x`` (N, C, H, W) per scoring step: every field (N, K)."""
        x = np.ascontiguousarray(np.asarray(x), dtype=np.float32)
        check_input(x, self.config.input_shape)
        raw = _raw_scores(self.model, self.gmm, x, batch_size=batch_size, with_recon=True)
        raw["combined"] = _combine(raw, self.combine_stats)
        raw = _per_step(raw)
        score = raw[SCORE_FIELDS[self.score_name]]
        return Scores(
            np_error=raw["np_error"],
            gmm_nll=raw["gmm_nll"],
            combined=raw["combined"],
            recon_error=raw["recon_error"],
            score=score,
            tail_prob=self._tail_prob(score),
            is_anomaly=score > self.threshold,
        )

    def _tail_prob(self, score: np.ndarray) -> np.ndarray:
        """Share of calibration steps whose production score is >= ``score`` (any shape)."""
        cal = np.sort(self.calibration_scores[self.score_name])
        n_ge = cal.size - np.searchsorted(cal, score, side="left")
        return n_ge / cal.size

    def latents(self, x: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
        """Latent means mu (N, D) float32 of raw inputs (N, C, H, W)."""
        x = np.ascontiguousarray(np.asarray(x), dtype=np.float32)
        check_input(x, self.config.input_shape)
        return encode_mu(self.model, x, batch_size=batch_size).numpy()

    # ------------------------------------------------------------------- I/O
    def save(self, directory: str | Path) -> Path:
        """Write state dict, JSON config, GMM and calibration scores into ``directory``
        (created if needed) and return it; the layout is that of :mod:`ml.detector_files`."""
        files = DetectorFiles(
            model=self.model,
            gmm=self.gmm,
            train=self.train,
            calibration_scores=self.calibration_scores,
            combine_stats=self.combine_stats,
            history=self.history,
            thresholds=self.thresholds,
            operating_point=self.operating_point,
        )
        return write_detector_files(files, directory)

    @classmethod
    def load(cls, directory: str | Path) -> FittedDetector:
        """Rebuild a detector written by :meth:`save` exactly.

        Raises
        ------
        ModelFileError
            If a file is missing, truncated or corrupt, the format version is unknown, the
            state dict does not fit the saved configuration, or the thresholds recomputed
            from the calibration scores differ from the recorded ones.
        """
        files = read_detector_files(directory)
        fitted = cls(files.model, files.gmm, train=files.train,
                     calibration_scores=files.calibration_scores,
                     combine_stats=files.combine_stats, history=files.history)  # fmt: skip
        fitted.operating_point = files.operating_point
        if fitted.thresholds != files.thresholds:
            raise ModelFileError(
                f"{Path(directory)}: thresholds recomputed from calibration.npz differ from config"
            )
        return fitted


def _quantile_threshold(scores: np.ndarray, rho: float) -> float:
    """The (1 - rho) quantile (method "higher"), so at most rho of ``scores`` exceed it."""
    if scores.size < 1:
        raise InputShapeError("cannot set a threshold from an empty calibration set")
    return float(np.quantile(scores, 1.0 - rho, method="higher"))


@torch.no_grad()
def _raw_scores(
    model: NPDetector,
    gmm: GaussianMixture,
    x: np.ndarray,
    *,
    batch_size: int,
    with_recon: bool = False,
) -> dict[str, np.ndarray]:
    """``np_error`` and ``recon_error`` per step (N, K); ``gmm_nll`` per input (N,)."""
    model.eval()
    mus, errs, recons = [], [], []
    for i in range(0, x.shape[0], batch_size):
        xb = torch.from_numpy(x[i : i + batch_size])  # (B, C, H, W)
        mu, _ = model.encode(xb)  # (B, D)
        errs.append(model.step_errors(xb, "discriminator"))  # (B, K)
        if with_recon:
            recons.append(model.step_errors(xb, "generator"))
        mus.append(mu)
    out = {
        "np_error": torch.cat(errs).double().clamp_min(1e-30).numpy(),
        "gmm_nll": (-gmm.log_prob(torch.cat(mus))).numpy(),
    }
    if with_recon:
        out["recon_error"] = torch.cat(recons).double().numpy()
    return out


def _combine(raw: dict[str, np.ndarray], stats: dict[str, float]) -> np.ndarray:
    """(N, K): standardised log np_error per step plus the input's standardised gmm_nll."""
    z_np = (np.log(raw["np_error"]) - stats["log_np_mean"]) / stats["log_np_std"]
    z_nll = (raw["gmm_nll"] - stats["nll_mean"]) / stats["nll_std"]
    return z_np + z_nll[:, None]


def _per_step(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every raw score as (N, K) (``gmm_nll`` repeated over the input's steps)."""
    k = raw["np_error"].shape[1]
    return {n: v if v.ndim == 2 else np.repeat(v[:, None], k, axis=1) for n, v in raw.items()}


def generate_anomalies(fitted: FittedDetector, n: int, *, seed: int = 0) -> np.ndarray:
    """Decode ``n`` simulated anomalies (n, C, H, W) float32 in raw input units.

    Latents are rejection-sampled from N(0, I) below the rho-quantile of the GMM log-density of
    the calibration latents, and decoded by the generator head (what phase 2 calls "decoded").
    """
    model = fitted.model
    cal_ll = -fitted.calibration_scores["gmm_nll"]
    thr = float(np.quantile(cal_ll, fitted.rho))
    z = rejection_sample(fitted.gmm.log_prob, thr, n, fitted.config.z_dim,
                         generator=torch.Generator().manual_seed(seed),
                         batch_size=fitted.train.sampler_batch,
                         max_rounds=fitted.train.sampler_max_rounds)  # fmt: skip
    with torch.no_grad():
        x = model.decode(z, "generator") * model.input_std + model.input_mean  # (n, C, H, W)
    return x.numpy()
