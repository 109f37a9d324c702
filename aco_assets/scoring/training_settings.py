"""The detector's settings as a frozen dataclass: :class:`TrainingSettings`.

The ``detector`` asset's config (``DetectorTrainingConfig``) takes its defaults from here, so the
production settings are written once; :func:`aco_assets.scoring.training.train_detector` reads
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["TrainingSettings"]


@dataclass(frozen=True)
class TrainingSettings:
    """The detector's settings; mirrors ``ml.DetectorConfig`` / ``ml.TrainConfig`` (see their
    docstrings). These defaults are the production ones (the ``detector`` asset's config takes
    them from here)."""

    schedule: Literal["quick", "default"] = "quick"  # TrainConfig preset
    rho: float = 0.05  # target false-positive rate
    z_dim: int = 16
    n_components: int = 4
    # the production score: the model score of best held-out event recall at the budget on the
    # realistic archive over three seeds ("The production score" in docs/results.md)
    score: Literal["np", "gmm_nll", "combined", "recon_error"] = "np"
    # scores come every score_step_s seconds (steps of each analysis window), from localised
    # errors: the worst of band_groups groups of bands, in the step's worst frame
    # (step_pool "max") or on the step's mean (docs/model_results.md)
    score_step_s: float = 1.0
    band_groups: int = 32
    step_pool: Literal["mean", "max"] = "max"
    # the step errors count the excess only (input above the reconstruction: energy the head
    # did not predict), and the discriminator head is held at or above each band's
    # discriminator_floor quantile of the general data, so that the NP phase can raise its
    # error on an anomaly only where the anomaly's energy lies (docs/model_results.md)
    error_part: Literal["both", "excess"] = "excess"
    discriminator_floor: float | None = 0.1
    # and at or below its discriminator_ceiling quantile: the NP loss's threshold comes from
    # the batch's own typical errors, so unbounded the head could inflate every error without
    # limit (docs/model.md, "The discriminator's range")
    discriminator_ceiling: float | None = 0.999
    anomaly_source: Literal["decoded", "real", "mix"] = "real"
    # input standardisation: "row" (per band) was best and steadiest on the demo archive
    normalise: Literal["feature", "row", "global", "none"] = "row"
    # the preset's step counts: the production schedule is the quick preset's single era
    # trained longer, 1000 VAE and 200 NP steps (best held-out recall at the budget over three
    # seeds against the 300 and 100 of `schedule_quick`, docs/model_results.md); None: the preset's
    phase1_steps: int | None = 1000
    phase2_steps: int | None = 200
    eras: int | None = None
    max_general_windows: int = 20000  # cap on general windows used for training
    # false-alarm budget: alarms (merged episodes) per hour of audio; per day when given
    false_alarms_per_hour: float = 1.0
    false_alarms_per_day: float | None = None
    calibration_share: float = 0.15  # of the time units (days): set the threshold
    heldout_share: float = 0.3  # of the time units (days): test; check the realised rate
    check_alpha: float = 0.01  # two-sided Poisson check of the held-out alarm rate
    seed: int = 0

    @property
    def budget_per_hour(self) -> float:
        if self.false_alarms_per_day is not None:
            return self.false_alarms_per_day / 24.0
        return self.false_alarms_per_hour

    def n_steps(self, window_s: float) -> int:
        """Scoring steps per analysis window of ``window_s`` seconds."""
        steps = window_s / self.score_step_s
        if self.score_step_s <= 0 or abs(steps - round(steps)) > 1e-9:
            raise ValueError(
                f"score_step_s={self.score_step_s:g} must divide the {window_s:g} s analysis "
                "window into whole steps (e.g. 1.0, 2.5 or 5.0)"
            )
        return int(round(steps))

    def ml_configs(self, input_shape: tuple[int, int, int], window_s: float = 5.0):
        """``(ml.DetectorConfig, ml.TrainConfig)`` for features of ``input_shape``."""
        from ml import DetectorConfig, TrainConfig

        detector = DetectorConfig(
            input_shape=input_shape,
            z_dim=self.z_dim,
            n_components=self.n_components,
            normalise=self.normalise,
            score=self.score,
            n_steps=self.n_steps(window_s),
            band_groups=self.band_groups,
            step_pool=self.step_pool,
            error_part=self.error_part,
            discriminator_floor=self.discriminator_floor,
            discriminator_ceiling=self.discriminator_ceiling,
        )
        overrides = {
            k: v
            for k, v in {
                "phase1_steps": self.phase1_steps,
                "phase2_steps": self.phase2_steps,
                "eras": self.eras,
            }.items()
            if v is not None
        }
        preset = TrainConfig.quick if self.schedule == "quick" else TrainConfig.default
        train = preset(
            rho=self.rho, anomaly_source=self.anomaly_source, seed=self.seed, **overrides
        )
        return detector, train
