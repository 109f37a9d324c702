"""Frozen configuration of the detector (what to build) and of its training (how to fit it).

Both dataclasses round-trip through plain JSON dictionaries (``to_dict`` / ``from_dict``), so a
saved model carries the configuration needed to rebuild it exactly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from ml.errors import ConfigError

__all__ = ["DetectorConfig", "TrainConfig", "ScoreName", "AnomalySource"]

ScoreName = Literal["np", "gmm_nll", "combined", "recon_error"]
AnomalySource = Literal["decoded", "real", "mix"]
Architecture = Literal["conv", "linear"]
Normalise = Literal["feature", "row", "global", "none"]
StepPool = Literal["mean", "max"]
ErrorPart = Literal["both", "excess"]


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


@dataclass(frozen=True)
class DetectorConfig:
    """What the detector is: network sizes, latent size, mixture size and production score.

    Parameters
    ----------
    input_shape
        ``(C, H, W)`` of one input, e.g. ``(1, 28, 28)`` digits or ``(1, 64, 32)`` windows of
        64 frequency bands x 32 frames.
    z_dim, h_dim
        Latent size D and the size of the hidden code before / after the bottleneck.
    n_components
        Number K of Gaussian components of the typical-latent mixture.
    architecture
        ``"conv"``: stride-2 convolutions with ``channels`` filters; ``"linear"``: an MLP whose
        hidden widths are ``channels``.
    channels
        Filters per convolution (or hidden widths of the MLP), outermost first.
    normalise
        How inputs are standardised with statistics of the general data: ``"feature"`` per
        element ``(C, H, W)``, ``"row"`` per ``(C, H)`` (per frequency band, pooled over time),
        ``"global"`` one mean and std, ``"none"`` raw. The pipeline's detector asset passes its
        own choice (``"row"``); this default (``"feature"``) is the library's.
    std_floor
        Standard deviations below ``std_floor`` x the global std are raised to it (constant
        pixels or bands would otherwise be divided by zero).
    score
        The production score: discriminator error (``"np"``), latent GMM negative
        log-likelihood (``"gmm_nll"``), their calibration-standardised sum (``"combined"``) or
        the VAE (generator) reconstruction error (``"recon_error"``).
    n_steps
        Scoring steps per input: the error maps are scored per step of ``W / n_steps``
        columns (frames whose centre falls in the step), e.g. 5 steps of 1 s in a 5 s window.
        Scores then come per step, the window's being the largest of its steps.
    band_groups
        Localised error: the ``C x H`` rows (bands of every channel) are split into this many
        contiguous groups; a step's error is the largest, over groups, of the mean error of the
        group's cells in that step, each row's squared error divided first by its median on the
        typical training data. 1 with ``n_steps`` 1 is the whole-input mean squared error.
    step_pool
        How a step pools its columns: ``"mean"`` over the step's frames, or ``"max"``, the
        frame of largest group error (a 30 ms ping then counts in full, not diluted by the
        step's other frames).
    error_part
        Which cells of the error maps the step errors count: ``"both"``, every cell's squared
        error; ``"excess"``, only where the input lies above the head's reconstruction (energy
        the head did not predict, as an added sound brings), the shortfall counting 0. A sound
        that masks or lacks nothing then no longer scores where the head over-predicts (e.g.
        a quieter stretch of the background). The row scales stay the median squared error of
        both signs, and the NP loss reads both signs whatever ``TrainConfig.phase2_error`` is
        (on the excess alone, a head that over-predicts every typical cell makes it 0).
    discriminator_floor
        ``None``, or a quantile q: the discriminator head's reconstruction is held at or above
        each row's q quantile of the standardised general data (a per-band floor). The NP phase
        raises the head's error on anomalies; unbounded, the head does so by decoding any
        unlikely latent to an extreme value in a few fixed cells, wherever the event lies. With
        the floor, the largest error a cell can take is that of the input's own level above the
        floor, so the error lands where the input holds energy, i.e. on the event.
    discriminator_ceiling
        ``None``, or a quantile q: the head's reconstruction is held at or below each row's q
        quantile of the standardised general data. The NP loss compares errors with a
        threshold taken from the same batch's typical errors, so it does not change when every
        error grows: unbounded above, the head can inflate its errors without limit (as it did
        on a realistic archive of sixteen files a day), and rows it inflates on typical data are
        then muted by their error scale. With floor and ceiling every cell's error is bounded
        by the data's own range.
    reg_covar
        Covariance floor added to each component's diagonal (latent units squared).
    gmm_max_iter, gmm_tol, gmm_n_init
        EM iteration cap, convergence tolerance on the mean log-likelihood (nats per sample)
        and number of k-means++ restarts (the best lower bound wins).
    """

    input_shape: tuple[int, int, int] = (1, 64, 32)
    z_dim: int = 16
    h_dim: int = 64
    n_components: int = 4
    architecture: Architecture = "linear"
    channels: tuple[int, ...] = (512, 256)
    normalise: Normalise = "feature"
    std_floor: float = 0.1
    score: ScoreName = "combined"
    n_steps: int = 1
    band_groups: int = 1
    step_pool: StepPool = "mean"
    error_part: ErrorPart = "both"
    discriminator_floor: float | None = None
    discriminator_ceiling: float | None = None
    reg_covar: float = 1e-4
    gmm_max_iter: int = 300
    gmm_tol: float = 1e-4
    gmm_n_init: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(int(v) for v in self.input_shape))
        object.__setattr__(self, "channels", tuple(int(v) for v in self.channels))
        _check(
            len(self.input_shape) == 3 and min(self.input_shape) >= 1,
            f"input_shape must be (C, H, W) with positive sizes, got {self.input_shape}",
        )
        _check(self.z_dim >= 1 and self.h_dim >= 1, f"z_dim={self.z_dim}, h_dim={self.h_dim}")
        _check(self.n_components >= 1, f"n_components must be >= 1, got {self.n_components}")
        _check(len(self.channels) >= 1, "channels must name at least one layer")
        _check(self.architecture in ("conv", "linear"), f"architecture={self.architecture!r}")
        _check(
            self.normalise in ("feature", "row", "global", "none"), f"normalise={self.normalise!r}"
        )
        _check(self.score in ("np", "gmm_nll", "combined", "recon_error"), f"score={self.score!r}")
        _check(
            1 <= self.n_steps <= self.input_shape[2],
            f"n_steps must be in [1, W={self.input_shape[2]}], got {self.n_steps}",
        )
        _check(self.step_pool in ("mean", "max"), f"step_pool={self.step_pool!r}")
        _check(self.error_part in ("both", "excess"), f"error_part={self.error_part!r}")
        _check(self.discriminator_floor is None or 0.0 <= self.discriminator_floor < 1.0,
               f"discriminator_floor must be None or in [0, 1), got {self.discriminator_floor}")  # fmt: skip
        _check(self.discriminator_ceiling is None or 0.0 < self.discriminator_ceiling <= 1.0,
               f"discriminator_ceiling must be None or in (0, 1], got {self.discriminator_ceiling}")  # fmt: skip
        _check(self.discriminator_floor is None or self.discriminator_ceiling is None
               or self.discriminator_floor < self.discriminator_ceiling,
               "discriminator_floor must lie below discriminator_ceiling")  # fmt: skip
        rows = self.input_shape[0] * self.input_shape[1]
        _check(
            1 <= self.band_groups <= rows,
            f"band_groups must be in [1, C*H={rows}], got {self.band_groups}",
        )
        _check(self.std_floor > 0, f"std_floor must be > 0, got {self.std_floor}")
        _check(self.reg_covar > 0, f"reg_covar must be > 0, got {self.reg_covar}")
        _check(self.gmm_max_iter >= 1, f"gmm_max_iter must be >= 1, got {self.gmm_max_iter}")
        _check(self.gmm_n_init >= 1, f"gmm_n_init must be >= 1, got {self.gmm_n_init}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in _asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorConfig:
        """Rebuild from :meth:`to_dict` output; unknown keys are an error."""
        return _from_dict(cls, data)


@dataclass(frozen=True)
class TrainConfig:
    """How the detector is trained: eras of phase 1 / GMM / phase 2 / GMM refit.

    Parameters
    ----------
    rho
        Target false-positive rate of the Neyman-Pearson test (and of the final threshold).
    eras
        Number of eras; era 1 runs ``phase1_steps`` VAE steps, later eras
        ``phase1_steps_later``.
    phase2_steps
        Neyman-Pearson steps per era.
    batch_size, np_batch_size
        Phase-1 batch (general data) and phase-2 batch (typical data; as many anomalies).
    lr, beta
        Adam learning rate and the KL weight of the VAE loss.
    tau_rel
        Sigmoid temperature of the NP loss relative to the threshold: ``tau = tau_rel * rho_thr``.
    phase2_kl_weight
        Weight of the KL term of the typical batch added to the NP loss: it anchors the latent
        code to the prior while the NP phase trains the encoder (without it the latent scale
        drifts, which ruins the GMM and the N(0, I) proposals of later eras).
    phase2_lr
        Learning rate of phase 2 (``None``: ``lr``).
    anomaly_source
        ``"decoded"``: latents rejection-sampled from N(0, I) below the typical GMM's
        rho-quantile, decoded by a frozen snapshot of the generator; ``"real"``: general-data
        samples whose latent lies below that quantile; ``"mix"``: a ``mix_decoded`` share of
        decoded, the rest real.
    sampler_batch, sampler_max_rounds
        Rejection sampler: candidates per round and the cap on rounds.
    phase2_error
        What the NP loss separates: ``"mean"``, each input's mean squared error over all bands
        and frames; ``"localised"``, the score the detector is judged by (its worst scoring
        step, from band-group errors scaled by the typical medians, ``DetectorConfig``).
    phase2_validation
        Share of the typical data and of the real candidates held out of phase 2 to choose its
        checkpoint: every ``phase2_eval_every`` steps the held-out TPR at the held-out typical
        (1 - rho) quantile is measured and the best state is kept (0: no checkpoint choice,
        the last state).
    phase2_eval_every
        Steps between two checkpoint measurements.
    calibration_fraction
        Share of the typical data held out for the threshold when no calibration set is given.
    seed
        Seeds every random draw; CPU training is deterministic for a given seed.
    """

    rho: float = 0.05
    eras: int = 2
    phase1_steps: int = 1000
    phase1_steps_later: int = 200
    phase2_steps: int = 200
    batch_size: int = 128
    np_batch_size: int = 128
    lr: float = 1e-3
    beta: float = 1.0
    tau_rel: float = 0.1
    phase2_kl_weight: float = 0.1
    phase2_lr: float | None = None
    anomaly_source: AnomalySource = "real"
    mix_decoded: float = 0.5
    sampler_batch: int = 4096
    sampler_max_rounds: int = 200
    phase2_error: Literal["mean", "localised"] = "mean"
    phase2_validation: float = 0.0
    phase2_eval_every: int = 10
    calibration_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        _check(0 < self.rho < 0.5, f"rho must be in (0, 0.5), got {self.rho}")
        _check(self.eras >= 1, f"eras must be >= 1, got {self.eras}")
        for name in ("phase1_steps", "phase1_steps_later", "phase2_steps"):
            _check(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        _check(self.batch_size >= 2, f"batch_size must be >= 2, got {self.batch_size}")
        _check(self.np_batch_size >= 2, f"np_batch_size must be >= 2, got {self.np_batch_size}")
        _check(self.lr > 0 and self.beta >= 0, f"lr={self.lr}, beta={self.beta}")
        _check(self.tau_rel > 0, f"tau_rel must be > 0, got {self.tau_rel}")
        _check(self.phase2_kl_weight >= 0, f"phase2_kl_weight={self.phase2_kl_weight} < 0")
        _check(self.phase2_lr is None or self.phase2_lr > 0, f"phase2_lr={self.phase2_lr}")
        _check(self.phase2_error in ("mean", "localised"),
               f"phase2_error must be 'mean' or 'localised', got {self.phase2_error!r}")  # fmt: skip
        _check(0 <= self.phase2_validation < 0.5,
               f"phase2_validation must be in [0, 0.5), got {self.phase2_validation}")  # fmt: skip
        _check(self.phase2_eval_every >= 1, f"phase2_eval_every={self.phase2_eval_every} < 1")
        _check(
            self.anomaly_source in ("decoded", "real", "mix"),
            f"anomaly_source must be 'decoded', 'real' or 'mix', got {self.anomaly_source!r}",
        )
        _check(0 <= self.mix_decoded <= 1, f"mix_decoded must be in [0, 1], got {self.mix_decoded}")
        _check(
            0 < self.calibration_fraction < 1,
            f"calibration_fraction must be in (0, 1), got {self.calibration_fraction}",
        )
        _check(self.sampler_batch >= 1 and self.sampler_max_rounds >= 1, "sampler sizes >= 1")

    @classmethod
    def quick(cls, **overrides: Any) -> TrainConfig:
        """A short schedule for smoke runs and CPU tests (about a minute on 10k small inputs)."""
        base = dict(eras=1, phase1_steps=300, phase1_steps_later=0, phase2_steps=100)
        return cls(**{**base, **overrides})

    @classmethod
    def default(cls, **overrides: Any) -> TrainConfig:
        """The schedule used for the reported results."""
        return cls(**overrides)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return _asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Rebuild from :meth:`to_dict` output; unknown keys are an error."""
        return _from_dict(cls, data)


def _asdict(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def _from_dict(cls: Any, data: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} keys {unknown}; known keys are {sorted(names)}")
    return cls(**data)
