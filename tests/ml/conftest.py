"""Shared fixtures for the detector tests: seeded randomness and small fitted models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml import DetectorConfig, TrainConfig, fit_detector

SMALL_SHAPE = (1, 16, 8)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _seed_torch() -> None:
    torch.manual_seed(0)


def blobs(rng: np.random.Generator, n: int, shape=SMALL_SHAPE, *, shift: float = 0.0) -> np.ndarray:
    """Smooth random images (n, *shape) float32: typical ones, or shifted ones (anomalies)."""
    base = rng.normal(size=(n, *shape)).astype(np.float32)
    rows = np.linspace(0, 1, shape[1], dtype=np.float32)[None, None, :, None]
    return base * 0.3 + np.sin(6 * rows + shift) + shift * rows


@pytest.fixture(scope="session")
def small_config() -> DetectorConfig:
    return DetectorConfig(input_shape=SMALL_SHAPE, z_dim=4, h_dim=16, n_components=2,
                          channels=(8, 16), gmm_n_init=1)  # fmt: skip


@pytest.fixture(scope="session")
def small_train() -> TrainConfig:
    return TrainConfig(eras=1, phase1_steps=30, phase1_steps_later=0, phase2_steps=15,
                       batch_size=32, np_batch_size=32, sampler_batch=512, seed=3)  # fmt: skip


@pytest.fixture(scope="session")
def small_data():
    rng = np.random.default_rng(7)
    typical = blobs(rng, 240)
    anomalies = blobs(rng, 12, shift=2.0)
    general = np.concatenate([typical[:200], anomalies])
    return {"general": general, "typical": typical[:160], "calibration": typical[200:],
            "anomalies": blobs(rng, 40, shift=2.0), "typical_test": blobs(rng, 40)}  # fmt: skip


@pytest.fixture(scope="session")
def small_fitted(small_config, small_train, small_data):
    return fit_detector(small_data["general"], small_data["typical"], config=small_config,
                        train=small_train, calibration=small_data["calibration"])  # fmt: skip
