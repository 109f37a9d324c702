"""The variants ``orchestration.studies.model_study`` measures (docs/model_results.md).

Two kinds, all on the same held-out days of each seed:

- *scoring* variants read the production champion of the seed (the model ``aco yardstick``
  trained) in another way: whole 5 s windows instead of 1 s steps, without band groups, and
  each of its scores alone; nothing is retrained;
- *training* variants retrain the detector on the seed's training days with one thing changed
  (the two-channel front end, no Neyman-Pearson phase, two eras, fewer training days), scored
  like production.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from aco_assets.defs.model.detector import DetectorTrainingConfig
from aco_assets.scoring.protocol import step_spans_us, unit_keys, utc_micros
from orchestration.studies.seed_data import SeedData, StepScores

WINDOW_S = 5.0
#: anomaly_scores column names of the model's scores
SCORES = {"np": "np_error", "recon_error": "recon_error", "gmm_nll": "gmm_nll",
          "combined": "combined"}  # fmt: skip


def champion(data: SeedData):
    """The seed's champion detector, from the model cache its yardstick run filled (the
    ``model_versions`` row holding the champion alias names its MLflow run)."""
    from aco_assets.storage.warehouse import Warehouse
    from ml import FittedDetector

    folder = Path(data.extra["folder"])
    rows = Warehouse(folder / "aco.duckdb").query(
        "SELECT run_id FROM model_versions WHERE is_champion ORDER BY model_version DESC LIMIT 1"
    )
    found = sorted((folder / "models").glob(f"{rows['run_id'][0].as_py()}-*/detector"))
    if not rows.num_rows or not found:
        raise FileNotFoundError(f"no champion model cached in {folder}: run aco yardstick")
    return FittedDetector.load(found[-1])


def rescored(fitted, **reading):
    """A copy of ``fitted`` whose network reads its errors otherwise (``reading``: scoring
    fields of ``ml.DetectorConfig``, e.g. ``n_steps``, ``band_groups``, ``step_pool``,
    ``error_part``; same weights, same error scales)."""
    from ml import FittedDetector
    from ml.model import NPDetector

    config = dataclasses.replace(fitted.config, **reading)
    model = NPDetector(config)
    model.load_state_dict(fitted.model.state_dict())
    return FittedDetector(model, fitted.gmm, train=fitted.train,
                          calibration_scores=fitted.calibration_scores,
                          combine_stats=fitted.combine_stats, history=fitted.history)  # fmt: skip


def step_scores(fitted, x: np.ndarray, start_us: np.ndarray, end_us: np.ndarray) -> StepScores:
    """Every model score of ``x`` (N windows spanning ``start_us``-``end_us``) at its steps."""
    s = fitted.score_steps(x)
    starts, ends = step_spans_us(start_us, end_us, fitted.config.n_steps)
    return StepScores(starts, ends,
                      {name: getattr(s, field).ravel() for name, field in SCORES.items()})  # fmt: skip


def _pair(fitted, data: SeedData, channels: slice = slice(None)):
    return (step_scores(fitted, data.test[:, channels], data.test_start_us, data.test_end_us),
            step_scores(fitted, data.calibration[:, channels], data.calibration_start_us,
                        data.calibration_end_us))  # fmt: skip


def scoring_variant(data: SeedData, **reading):
    """The champion, its errors read as ``reading`` says (:func:`rescored`; none: as trained)."""
    fitted = champion(data)
    if reading:
        fitted = rescored(fitted, **reading)
    return _pair(fitted, data)


def pasted_anomalies(
    typical: np.ndarray, sources: np.ndarray, n: int, *, seed: int, max_gain_db: float = 6.0
) -> np.ndarray:
    """``n`` synthetic transients (outlier exposure in the manner of CutPaste): a random
    time-frequency patch of a random candidate window (4-24 bands x 2-16 frames, every
    channel) pasted into a random typical window, raised by 0-``max_gain_db`` dB."""
    rng = np.random.default_rng(seed)
    _, _, f, t = typical.shape
    out = typical[rng.integers(0, len(typical), n)].copy()
    src = sources[rng.integers(0, len(sources), n)]
    for i in range(n):
        fw, tw = rng.integers(4, min(24, f) + 1), rng.integers(2, min(16, t) + 1)
        f0, t0 = rng.integers(0, f - fw + 1), rng.integers(0, t - tw + 1)
        patch = (slice(None), slice(f0, f0 + fw), slice(t0, t0 + tw))
        out[i][patch] = src[i][patch] + rng.uniform(0.0, max_gain_db)
    return out


def training_variant(data: SeedData, *, channels: slice = slice(None), train_days: int | None = None,
                     pasted: bool = False, detector: dict | None = None, **train_overrides):  # fmt: skip
    """Retrain with the production settings but for ``channels`` of the input, the first
    ``train_days`` training days, ``detector`` fields of ``ml.DetectorConfig`` and
    ``train_overrides`` of ``ml.TrainConfig``."""
    from ml import fit_detector

    config = DetectorTrainingConfig(seed=data.seed)
    general, typical = data.general[:, channels], data.typical[:, channels]
    is_typical = data.general_is_typical
    if train_days is not None:
        # the first training days that hold phase-2 candidates (windows outside the typical
        # selection): a day of a low-traffic month can be typical throughout
        rows = data.extra["rows"]
        g_days = unit_keys(utc_micros(rows["general"]["window_start"]), "day")
        with_candidates = sorted(set(g_days[~is_typical].tolist()))
        days = with_candidates[:train_days]
        g_keep = np.isin(g_days, days)
        t_keep = np.isin(unit_keys(utc_micros(rows["typical"]["window_start"]), "day"), days)
        general, typical, is_typical = general[g_keep], typical[t_keep], is_typical[g_keep]
    det_cfg, train_cfg = config.ml_configs(tuple(general.shape[1:]), WINDOW_S)
    det_cfg = dataclasses.replace(det_cfg, **(detector or {}))
    train_cfg = dataclasses.replace(train_cfg, **train_overrides)
    candidates = general[~is_typical]
    if pasted:  # as many pasted transients as real candidates, beside them
        extra = pasted_anomalies(typical, candidates, len(candidates), seed=data.seed)
        candidates = np.concatenate([candidates, extra])
    fitted = fit_detector(general, typical, config=det_cfg, train=train_cfg,
                          calibration=data.calibration[:, channels],
                          candidates=candidates)  # fmt: skip
    data.extra["training_hours"] = len(general) * WINDOW_S / 3600  # audio of phase 1
    return _pair(fitted, data, channels)


def refeatured(data: SeedData, normalise: str) -> SeedData:
    """``data`` with every window's features recomputed by the front end with ``normalise``
    (the same windows: a day's files in the order the ``spectrograms`` asset reads them)."""
    from aco_assets.hydrophone import Archive
    from aco_assets.signal.features import FrontEndConfig
    from aco_assets.signal.pool import map_files
    from aco_assets.signal.processing import file_windows

    archive = Archive(Path(data.extra["folder"]) / "archive")
    config = FrontEndConfig(window_s=WINDOW_S, normalise=normalise)
    parts = data.extra["rows"]
    days = sorted({d for table in parts.values() for d in table["day"].to_pylist()})
    by_day: dict = {}
    for day in days:
        done = map_files(file_windows, [f.path for f in archive.day_files(day)], archive.root,
                         config)  # fmt: skip
        by_day[day] = np.concatenate([r.features for r in done])

    def gather(table) -> np.ndarray:
        index = table["window_index"].to_numpy()
        return np.stack(
            [by_day[d][i] for d, i in zip(table["day"].to_pylist(), index, strict=True)]
        )

    return dataclasses.replace(
        data,
        general=gather(parts["general"]),
        typical=gather(parts["typical"]),
        calibration=gather(parts["calibration"]),
        test=gather(parts["test"]),
        extra=dict(data.extra),
    )


def two_channel_variant(data: SeedData) -> tuple[StepScores, StepScores]:
    """Retrained on the two-channel front end (file-median equalised + absolute dB)."""
    other = refeatured(data, "file_median_and_absolute")
    out = training_variant(other)
    data.extra["training_hours"] = other.extra.get("training_hours")
    return out


def energy_baselines(folder: Path) -> dict[str, dict]:
    """The band-energy baselines' held-out figures of the seed's yardstick run."""
    found = sorted((folder / "evaluation").glob("v*/yardstick.json"),
                   key=lambda p: int(p.parent.name[1:]))  # fmt: skip
    if not found:
        return {}
    methods = json.loads(found[-1].read_text())["parts"]["test"]["methods"]
    return {k: v for k, v in methods.items() if k.startswith("energy")}


#: name -> (what it is, how it is built); the first is the production design.
VARIANTS: dict[str, tuple[str, Callable]] = {
    "production": (
        "production: 1 channel (file-median equalised), 1 s steps, the worst of 32 band "
        "groups in the step's worst frame, the excess over the reconstruction only, the "
        "discriminator held between its bands' 10 % floor and 99.9 % ceiling, NP phase, 1 era",
        scoring_variant,
    ),
    "both_signs": (
        "errors of both signs: a cell below its reconstruction counts too (same network)",
        partial(scoring_variant, error_part="both"),
    ),
    "no_floor": (
        "retrained without the discriminator's floor (the excess still read)",
        partial(training_variant, detector={"discriminator_floor": None}),
    ),
    "no_ceiling": (
        "retrained without the discriminator's ceiling (its floor kept)",
        partial(training_variant, detector={"discriminator_ceiling": None}),
    ),
    "earlier_design": (
        "retrained as the design was before: no floor or ceiling, errors of both signs",
        partial(
            training_variant,
            detector={
                "discriminator_floor": None,
                "discriminator_ceiling": None,
                "error_part": "both",
            },
        ),
    ),
    "floor_1pct": (
        "retrained with the discriminator's floor at its bands' 1 % quantile",
        partial(training_variant, detector={"discriminator_floor": 0.01}),
    ),
    "floor_25pct": (
        "retrained with the discriminator's floor at its bands' 25 % quantile",
        partial(training_variant, detector={"discriminator_floor": 0.25}),
    ),
    "whole_window": (
        "the earlier scoring: one score per 5 s window, mean error over all bands "
        "and frames (same network)",
        partial(scoring_variant, n_steps=1, band_groups=1, step_pool="mean"),
    ),
    "step_mean": (
        "1 s steps, 32 band groups, mean over the step's frames (same network)",
        partial(scoring_variant, n_steps=5, band_groups=32, step_pool="mean"),
    ),
    "groups_8": (
        "1 s steps, 8 band groups, worst frame (same network)",
        partial(scoring_variant, n_steps=5, band_groups=8, step_pool="max"),
    ),
    "no_groups": (
        "1 s steps, mean over all bands, worst frame (same network)",
        partial(scoring_variant, n_steps=5, band_groups=1, step_pool="max"),
    ),
    "window_max": (
        "one score per 5 s window, 32 band groups, worst frame (same network)",
        partial(scoring_variant, n_steps=1, band_groups=32, step_pool="max"),
    ),
    "two_channels": (
        "retrained on two channels: file-median equalised and absolute dB",
        two_channel_variant,
    ),
    "no_np_phase": (
        "retrained without the Neyman-Pearson phase (VAE + GMM only)",
        partial(training_variant, phase2_steps=0),
    ),
    "pasted": (
        "retrained with pasted transients (CutPaste-style patches of candidate windows in "
        "typical ones) beside the real phase-2 candidates",
        partial(training_variant, pasted=True),
    ),
    "eras_2": (
        "retrained with 2 eras (phase 1, GMM, NP, GMM repeated)",
        partial(training_variant, eras=2, phase1_steps_later=200),
    ),
    "schedule_quick": (
        "retrained with the shorter schedule (300 VAE steps, 100 NP steps; production trains "
        "1000 and 200)",
        partial(training_variant, phase1_steps=300, phase2_steps=100),
    ),
    "np_localised": (
        "retrained with the NP loss on the localised score it is judged by (worst step, "
        "band-group errors) instead of the whole-window mean error",
        partial(training_variant, phase2_error="localised"),
    ),
    "np_checkpoint": (
        "retrained keeping the NP state of best held-out TPR (20% of the typical windows and "
        "candidates held out of phase 2, measured every 10 steps)",
        partial(training_variant, phase2_validation=0.2),
    ),
    "np_localised_checkpoint": (
        "both: the localised NP loss and the checkpoint of best held-out TPR",
        partial(training_variant, phase2_error="localised", phase2_validation=0.2),
    ),
    "train_days_1": (
        "retrained on the first training day only",
        partial(training_variant, train_days=1),
    ),
    "train_days_3": (
        "retrained on the first 3 training days",
        partial(training_variant, train_days=3),
    ),
    "train_days_7": (
        "retrained on the first 7 training days",
        partial(training_variant, train_days=7),
    ),
}
#: the score each variant is judged by (the production threshold is set for it)
PRODUCTION: dict[str, str] = {name: "np" for name in VARIANTS} | {"no_np_phase": "recon_error"}
