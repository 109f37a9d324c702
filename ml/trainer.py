"""The three-phase trainer: eras of VAE (phase 1), GMM fit, Neyman-Pearson (phase 2), GMM refit.

Dimension letters: N samples, B batch, C channels, H height, W width, D latent.

See the project's model notes (Koizumi et al. 2019, arXiv 1810.09133, adapted): phase 1 trains the
encoder, bottleneck and generator as a VAE on general data; a GMM is fitted to the latent means of
typical data; phase 2 trains the encoder, mu, eta and the discriminator head on smoothed FPR - TPR
at the typical batch's (1 - rho) error quantile, against simulated anomalies (decoded unlikely
latents, real general-data samples with unlikely latents, or a mix); phase 3 refits the GMM.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from ml.config import DetectorConfig, TrainConfig
from ml.errors import InputShapeError
from ml.gmm import GaussianMixture
from ml.losses import kl_divergence, np_loss, np_threshold, vae_loss
from ml.model import NPDetector, check_input, encode_mu, residual_squares
from ml.sampler import rejection_sample, unlikely_indices
from ml.scoring import FittedDetector

__all__ = ["fit_detector", "encode_mu", "fit_gmm", "Callback"]

logger = logging.getLogger(__name__)

Callback = Callable[[str, int, dict[str, float]], None]


@dataclass
class _Run:
    """Mutable state of one training run (randomness, history, reporting)."""

    model: NPDetector
    train: TrainConfig
    rng: np.random.Generator
    gen: torch.Generator
    callback: Callback | None
    bar: tqdm | None
    history: list[dict[str, float | str | int]] = field(default_factory=list)
    step: int = 0

    def report(self, phase: str, era: int, metrics: dict[str, float]) -> None:
        self.step += 1
        self.history.append({"phase": phase, "era": era, "step": self.step, **metrics})
        if self.callback is not None:
            self.callback(phase, self.step, metrics)
        if self.bar is not None and phase != "gmm":
            self.bar.update(1)
            self.bar.set_postfix_str(f"{phase} loss={metrics.get('loss', float('nan')):.4g}")

    def batch(self, data: np.ndarray, size: int) -> torch.Tensor:
        idx = self.rng.integers(0, data.shape[0], size=size)
        return torch.from_numpy(data[np.sort(idx)])  # (B, C, H, W)


def fit_detector(
    general: np.ndarray,
    typical: np.ndarray,
    *,
    config: DetectorConfig,
    train: TrainConfig,
    calibration: np.ndarray | None = None,
    candidates: np.ndarray | None = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> FittedDetector:
    """Train the detector and calibrate its thresholds.

    Parameters
    ----------
    general
        All (unlabeled) data, (N, C, H, W) float32, raw units (e.g. log power); used for the
        normalisation statistics and phase 1 (and the pool of real anomaly candidates when
        ``candidates`` is not given).
    typical
        Data chosen as typical, (M, C, H, W) float32; fits the GMM and is the NP negative class.
    config, train
        What to build and how to train it.
    calibration
        Held-out typical data (L, C, H, W) float32 that sets the thresholds. When ``None``, a
        ``train.calibration_fraction`` share of ``typical`` is held out (seeded).
    candidates
        The pool of real anomaly candidates of phase 2, (P, C, H, W) float32: samples whose
        latent is unlikely under the typical GMM are drawn from it. It must not hold typical
        samples (they are the negative class of the same loss); ``None`` uses ``general``,
        which is right only when ``general`` and ``typical`` are disjoint.
    callback
        Called as ``callback(phase, step, metrics)`` after every step, with phase one of
        ``"phase1"``, ``"gmm"``, ``"phase2"`` and a global step counter.
    progress
        Show a tqdm bar.

    Returns
    -------
    FittedDetector
    """
    general, typical = _as_input(general, config, "general"), _as_input(typical, config, "typical")
    rng = np.random.default_rng(train.seed)
    if calibration is None:
        typical, calibration = _split_calibration(typical, train.calibration_fraction, rng)
    calibration = _as_input(calibration, config, "calibration")
    pool = general if candidates is None else _as_input(candidates, config, "candidates")
    torch.manual_seed(train.seed)
    model = NPDetector(config)
    model.set_normalisation(general)
    total = train.phase1_steps + (train.eras - 1) * train.phase1_steps_later
    total += train.eras * train.phase2_steps
    bar = tqdm(total=total, desc="fit_detector", leave=False) if progress else None
    run = _Run(model, train, rng, torch.Generator().manual_seed(train.seed), callback, bar)
    gmm: GaussianMixture | None = None
    try:
        for era in range(1, train.eras + 1):
            steps1 = train.phase1_steps if era == 1 else train.phase1_steps_later
            _phase1(run, general, steps1, era)
            gmm = _fit_and_report(run, typical, era)
            if train.phase2_steps > 0:
                _phase2(run, gmm, pool, typical, era)
                gmm = _fit_and_report(run, typical, era)  # phase 3
    finally:
        if bar is not None:
            bar.close()
    assert gmm is not None
    model.eval()
    if config.band_groups > 1:
        model.set_error_scales(typical)
    return FittedDetector.calibrate(model, gmm, calibration, train=train, history=run.history)


def _as_input(x: np.ndarray, config: DetectorConfig, name: str) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(x), dtype=np.float32)
    try:
        check_input(arr, config.input_shape)
    except InputShapeError as e:
        raise InputShapeError(f"{name}: {e}") from e
    return arr


def _split_calibration(
    typical: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    n_cal = int(round(fraction * typical.shape[0]))
    if n_cal < 1 or n_cal >= typical.shape[0]:
        raise InputShapeError(
            f"cannot hold out calibration_fraction={fraction} of {typical.shape[0]} typical "
            "samples; pass calibration= or more typical data"
        )
    perm = rng.permutation(typical.shape[0])
    return typical[np.sort(perm[n_cal:])], typical[np.sort(perm[:n_cal])]


def _phase1(run: _Run, general: np.ndarray, steps: int, era: int) -> None:
    """VAE on general data: encoder + bottleneck + generator (docs/model.md, reference bugs 1
    and 8)."""
    model, train = run.model, run.train
    opt = torch.optim.Adam(model.phase_parameters("phase1"), lr=train.lr)
    model.train()
    for _ in range(steps):
        x = run.batch(general, train.batch_size)
        x_hat, mu, logvar = model(x, "generator", sample=True)
        loss, metrics = vae_loss(model.standardise(x), x_hat, mu, logvar, beta=train.beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run.report("phase1", era, {"loss": float(loss.detach()), **metrics})


def fit_gmm(model: NPDetector, typical: np.ndarray, *, seed: int = 0) -> GaussianMixture:
    """Fit the configured GMM on mu of all typical data."""
    cfg = model.config
    gmm = GaussianMixture(cfg.n_components, reg_covar=cfg.reg_covar, max_iter=cfg.gmm_max_iter,
                          tol=cfg.gmm_tol, n_init=cfg.gmm_n_init, seed=seed)  # fmt: skip
    return gmm.fit(encode_mu(model, typical))


def _fit_and_report(run: _Run, typical: np.ndarray, era: int) -> GaussianMixture:
    gmm = fit_gmm(run.model, typical, seed=run.train.seed + era)
    metrics = {"gmm_log_likelihood": gmm.lower_bounds_[-1], "gmm_n_iter": float(gmm.n_iter_),
               "gmm_converged": float(gmm.converged_)}  # fmt: skip
    run.report("gmm", era, metrics)
    return gmm


class _AnomalySource:
    """Draws simulated anomalies (raw units) for phase 2, fixed at the start of the phase."""

    def __init__(self, run: _Run, gmm: GaussianMixture, general: np.ndarray, typical: np.ndarray):
        model, train = run.model, run.train
        self.run, self.gmm = run, gmm
        typical_ll = gmm.log_prob(encode_mu(model, typical)).numpy()  # (M,)
        self.latent_threshold = float(np.quantile(typical_ll, train.rho))
        general_ll = gmm.log_prob(encode_mu(model, general)).numpy()  # (N,)
        pool = unlikely_indices(general_ll, self.latent_threshold)
        if pool.size < 1 and train.anomaly_source != "decoded":
            n_low = max(1, int(np.ceil(train.rho * general.shape[0])))
            logger.warning("no general sample lies below the typical latent %.3f-quantile; using "
                           "the %d least likely instead", train.rho, n_low)  # fmt: skip
            pool = np.argsort(general_ll)[:n_low]
        self.pool, self.general = pool, general
        # frozen snapshot of eta + generator: phase 2 trains eta
        self.eta = copy.deepcopy(model.bottleneck.eta).requires_grad_(False)
        self.generator = copy.deepcopy(model.heads["generator"]).requires_grad_(False)

    def draw(self, n: int) -> tuple[torch.Tensor, int]:
        """n anomalies (n, C, H, W) raw units, and how many of them were decoded."""
        train = self.run.train
        n_decoded = {"decoded": n, "real": 0, "mix": int(round(train.mix_decoded * n))}[
            train.anomaly_source
        ]
        parts = []
        if n - n_decoded > 0:
            idx = self.pool[self.run.rng.integers(0, self.pool.size, size=n - n_decoded)]
            parts.append(torch.from_numpy(self.general[np.sort(idx)]))
        if n_decoded > 0:
            z = rejection_sample(self.gmm.log_prob, self.latent_threshold, n_decoded,
                                 self.run.model.config.z_dim, generator=self.run.gen,
                                 batch_size=train.sampler_batch,
                                 max_rounds=train.sampler_max_rounds)  # fmt: skip
            with torch.no_grad():
                x_std = self.generator(self.eta(z))  # (n_decoded, C, H, W) standardised
            model = self.run.model
            parts.append(x_std * model.input_std + model.input_mean)
        return torch.cat(parts), n_decoded


def _phase2(
    run: _Run, gmm: GaussianMixture, candidates: np.ndarray, typical: np.ndarray, era: int
) -> _Checkpoint | None:
    """Neyman-Pearson phase: encoder + mu + eta + discriminator (docs/model.md, reference bugs
    2, 3, 7).

    With ``TrainConfig.phase2_validation`` a share of the typical data and of the candidate
    pool is held out, and the state of best held-out TPR (at the held-out typical
    ``1 - rho`` quantile) is the one kept.
    """
    model, train = run.model, run.train
    if train.phase2_error == "localised" and model.config.band_groups > 1:
        model.set_error_scales(typical)  # the scales the loss reads (set again after training)
    source = _AnomalySource(run, gmm, candidates, typical)
    typical, check = _hold_out(run, source, typical)
    kl_weight = train.phase2_kl_weight
    params = model.phase_parameters("phase2", with_logvar=kl_weight > 0)
    opt = torch.optim.Adam(params, lr=train.phase2_lr or train.lr)
    model.train()
    for i in range(train.phase2_steps):
        x_typ = run.batch(typical, train.np_batch_size)
        x_anom, n_decoded = source.draw(train.np_batch_size)
        x = torch.cat([x_typ, x_anom])
        x_hat, mu, logvar = model(x, "discriminator")  # (2B, C, H, W)
        err = _np_errors(model, x_hat, x, train)  # (2B,)
        e_typ, e_anom = err[: len(x_typ)], err[len(x_typ) :]  # (B,), (B,)
        thr = np_threshold(e_typ, train.rho)  # 0-d
        loss, metrics = np_loss(e_typ, e_anom, thr, tau=train.tau_rel * thr)
        kl = kl_divergence(mu[: len(x_typ)], logvar[: len(x_typ)]).mean()
        metrics["kl_typical"] = float(kl.detach())
        if kl_weight > 0:
            loss = loss + kl_weight * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        metrics.update(loss=float(loss.detach()), rho_thr=float(thr), n_decoded=float(n_decoded),
                       latent_threshold=source.latent_threshold,
                       n_real_candidates=float(source.pool.size))  # fmt: skip
        if check is not None and ((i + 1) % train.phase2_eval_every == 0 or i == 0):
            metrics["heldout_tpr"] = check.measure(i + 1)
        run.report("phase2", era, metrics)
    if check is not None:
        check.restore_best()
        logger.info("phase 2: kept the state of step %d (held-out TPR %.3f)", check.best_step,
                    check.best_tpr)  # fmt: skip
    return check


def _np_errors(model: NPDetector, x_hat: torch.Tensor, x: torch.Tensor, train: TrainConfig):
    """What the NP loss separates, per input (B,): the mean or the localised error."""
    # both signs, whatever the scores read (DetectorConfig.error_part): a loss on the excess
    # alone is degenerate, a head that over-predicts every typical cell makes it 0
    sq = residual_squares(model.standardise(x) - x_hat, "both")  # (B, C*H, W)
    if train.phase2_error == "localised":
        return model.pool_steps(sq, "discriminator").amax(dim=1)
    return sq.flatten(1).mean(1)


class _Checkpoint:
    """Held-out typical data and candidates of phase 2, and the state of best held-out TPR."""

    def __init__(self, run: _Run, typical: np.ndarray, anomalies: np.ndarray) -> None:
        self.run, self.typical, self.anomalies = run, typical, anomalies
        self.best_tpr, self.best_step = -1.0, 0
        self.best_state: dict | None = None

    @torch.no_grad()
    def tpr(self) -> float:
        """Held-out TPR of the model as it is, at the held-out typical (1 - rho) quantile."""
        model, train = self.run.model, self.run.train
        was_training = model.training
        model.eval()
        err = []
        for data in (self.typical, self.anomalies):
            x = torch.from_numpy(data)
            x_hat, _, _ = model(x, "discriminator")
            err.append(_np_errors(model, x_hat, x, train))
        model.train(was_training)
        thr = torch.quantile(err[0].double(), 1.0 - train.rho)
        return float((err[1].double() > thr).double().mean())

    def measure(self, step: int) -> float:
        """:meth:`tpr` now; the state is kept when it is the best so far."""
        model = self.run.model
        tpr = self.tpr()
        if tpr > self.best_tpr:
            self.best_tpr, self.best_step = tpr, step
            self.best_state = copy.deepcopy(model.state_dict())
        return tpr

    def restore_best(self) -> None:
        if self.best_state is not None:
            self.run.model.load_state_dict(self.best_state)


def _hold_out(
    run: _Run, source: _AnomalySource, typical: np.ndarray
) -> tuple[np.ndarray, _Checkpoint | None]:
    """Split typical data and the real candidate pool for the checkpoint choice (or not)."""
    share = run.train.phase2_validation
    if share <= 0 or source.pool.size < 10 or typical.shape[0] < 20:
        return typical, None
    order = run.rng.permutation(typical.shape[0])
    n_typ = max(1, int(round(share * typical.shape[0])))
    pool = run.rng.permutation(source.pool)
    n_pool = max(1, int(round(share * pool.size)))
    held = source.general[np.sort(pool[:n_pool])]
    source.pool = np.sort(pool[n_pool:])
    kept = typical[np.sort(order[n_typ:])]
    return kept, _Checkpoint(run, typical[np.sort(order[:n_typ])], held)
