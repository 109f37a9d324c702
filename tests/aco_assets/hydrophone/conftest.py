from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20160215)


@pytest.fixture
def start() -> datetime:
    return datetime(2016, 2, 15, 5, 0, 0, 123457)
