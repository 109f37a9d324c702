"""The ``detector`` asset's config is the Dagster form of the pure training settings."""

from __future__ import annotations

import dataclasses

from aco_assets.defs.model.detector import DetectorTrainingConfig
from aco_assets.scoring.training_settings import TrainingSettings


def test_the_asset_config_has_the_settings_fields_and_takes_its_defaults_from_them():
    assert set(DetectorTrainingConfig.model_fields) == {
        f.name for f in dataclasses.fields(TrainingSettings)
    }
    assert DetectorTrainingConfig().settings() == TrainingSettings()


def test_the_asset_config_answers_as_the_settings_do():
    config = DetectorTrainingConfig(false_alarms_per_day=48.0, score_step_s=2.5)
    assert config.budget_per_hour == 2.0 == config.settings().budget_per_hour
    assert config.n_steps(5.0) == 2
