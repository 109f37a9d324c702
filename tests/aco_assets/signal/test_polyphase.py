"""Tests of aco_assets.signal.polyphase: decimation equal to scipy.signal.resample_poly."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from aco_assets.signal.polyphase import LineDecimator


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20160215)


@pytest.mark.parametrize("down", [2, 5, 6, 12])  # 6: the front end's 3 kHz -> 500 Hz
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_decimation_equals_resample_poly_with_line_padding(rng, down, dtype):
    # A random walk over a large offset: the line padding at both ends matters.
    y = (np.cumsum(rng.standard_normal(down * 5000)) * 10 + 8e4).astype(dtype)
    expected = scipy.signal.resample_poly(y.astype(np.float64), 1, down, padtype="line")
    np.testing.assert_allclose(LineDecimator.of(down)(y), expected, rtol=1e-12, atol=1e-9)


def test_bad_factors_and_lengths_are_refused():
    with pytest.raises(ValueError, match="down must be an integer >= 2, got 1"):
        LineDecimator.of(1)
    with pytest.raises(ValueError, match="multiple of down=6 samples, got 7"):
        LineDecimator.of(6)(np.zeros(7))
