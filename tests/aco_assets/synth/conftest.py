"""Fixtures of the synthetic-archive tests: one small archive with faults, written once."""

from __future__ import annotations

import pytest

from aco_assets.synth import ArchiveSummary, write_archive

SEED = 7


@pytest.fixture(scope="session")
def test_archive(tmp_path_factory: pytest.TempPathFactory) -> ArchiveSummary:
    """The ``test`` preset with every fault, seed 7 (six files over two days)."""
    root = tmp_path_factory.mktemp("synth_archive")
    return write_archive(root, preset="test", seed=SEED, faults=True)
