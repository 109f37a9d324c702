"""The model registry and its local cache: keyed by run, verified, and clear when it cannot load.

Two real MLflow SQLite stores are written once per module (a new store costs seconds of schema
migrations): a data folder with versions 1 and 2 (champion) of tiny detectors, and another
store with its own version 1. Each test works on a ``shutil.copytree`` of them, so every test
also runs on a data folder that moved, and loads through the real download path.
"""

from __future__ import annotations

import copy
import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import mlflow
import numpy as np
import pytest

from aco_assets.defs.resources import MlflowResource, StorageResource
from aco_assets.storage.model_registry import (
    CHAMPION,
    CHECKSUM_TAG,
    DETECTOR_DIR,
    DanglingChampionError,
    ModelArtifactError,
    ModelRegistryError,
    NoChampionError,
    champion_version,
    load_champion,
    load_version,
    log_detector,
    set_champion,
)
from tests.ml.conftest import SMALL_SHAPE, blobs

NAME = "aco-detector"


@pytest.fixture(scope="module")
def fitted():
    """One tiny fitted detector (seconds to train); copies get their own operating points."""
    import torch

    from ml import DetectorConfig, TrainConfig, fit_detector

    torch.manual_seed(0)
    rng = np.random.default_rng(7)
    typical = blobs(rng, 200)
    general = np.concatenate([typical[:150], blobs(rng, 10, shift=2.0)])
    return fit_detector(
        general,
        typical[:120],
        config=DetectorConfig(input_shape=SMALL_SHAPE, z_dim=4, h_dim=16, n_components=2,
                              channels=(8, 16), gmm_n_init=1),
        train=TrainConfig(eras=1, phase1_steps=10, phase1_steps_later=0, phase2_steps=5,
                          batch_size=32, np_batch_size=32, sampler_batch=256, seed=3),
        calibration=typical[150:],
    )  # fmt: skip


@pytest.fixture(autouse=True)
def _no_mlflow_settings(monkeypatch):
    """Tests start without a user MLFLOW_TRACKING_URI (earlier tests may have left one)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)


def _resource(data: Path, tracking_uri: str | None = None) -> MlflowResource:
    storage = StorageResource(data_dir=str(data), archive_root=str(data / "archive"))
    return MlflowResource(storage=storage, tracking_uri=tracking_uri)


def _register(resource: MlflowResource, fitted, threshold: float, work: Path) -> int:
    """Log ``fitted`` at ``threshold`` as a new version and make it champion."""
    model = copy.deepcopy(fitted)
    model.set_operating_point(threshold)
    client = resource.client()
    with mlflow.start_run(experiment_id=resource.experiment_id()):
        version = log_detector(model, {"front_end": {}}, work_dir=work, registered_model_name=NAME)
    set_champion(client, NAME, version)
    return version


@pytest.fixture(scope="module")
def stores(fitted, tmp_path_factory):
    """``data``: versions 1 (threshold 1.0) and 2 (2.0, champion); ``other``: version 1 (0.41)."""
    root = tmp_path_factory.mktemp("stores")
    data = _resource(root / "data")
    assert _register(data, fitted, 1.0, root / "w1") == 1
    assert _register(data, fitted, 2.0, root / "w2") == 2
    other = _resource(root / "other")
    assert _register(other, fitted, 0.41, root / "w3") == 1
    return {"data": root / "data", "other": root / "other"}


@pytest.fixture
def data(stores, tmp_path) -> Path:
    """A fresh copy of the two-version data folder (its own registry, artifacts and cache)."""
    return Path(shutil.copytree(stores["data"], tmp_path / "data", symlinks=True))


def _load(resource: MlflowResource, version: int | None = None):
    client, cache = resource.client(), resource.storage.layout().models_dir
    if version is None:
        return load_champion(client, NAME, cache_dir=cache)
    return load_version(client, NAME, version, cache_dir=cache)


def _artifact_file(resource: MlflowResource, version: int, name: str) -> Path:
    """File ``name`` of the detector directory in version ``version``'s stored artifact."""
    from urllib.parse import urlparse

    uri = resource.client().get_model_version_download_uri(NAME, str(version))
    (path,) = Path(urlparse(uri).path).rglob(f"{DETECTOR_DIR}/{name}")
    return path


def _cached(data: Path) -> list[str]:
    models = data / "models"
    return sorted(p.name for p in models.iterdir()) if models.exists() else []


def _truncate(path: Path) -> bytes:
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 3])
    return good


def test_the_cache_is_keyed_by_run_so_two_stores_with_version_1_load_their_own(
    stores, data, tmp_path, monkeypatch
):
    ours = _resource(data)
    assert _load(ours, 1).detector.threshold == pytest.approx(1.0)
    # MLFLOW_TRACKING_URI (a documented setting) pointed at another store: its own version 1
    other = Path(shutil.copytree(stores["other"], tmp_path / "other"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{other / 'mlflow.db'}")
    theirs = _load(_resource(data), 1)
    assert theirs.version == 1 and theirs.detector.threshold == pytest.approx(0.41)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    again = _load(ours, 1)
    assert again.detector.threshold == pytest.approx(1.0)
    assert again.run_id != theirs.run_id and again.directory != theirs.directory
    assert _cached(data) == sorted(p.parent.name for p in (again.directory, theirs.directory))
    assert all(name.startswith((again.run_id, theirs.run_id)) for name in _cached(data))


def test_a_loaded_version_has_a_typed_reference_naming_it_and_its_operating_point(data):
    from aco_assets.scoring.reference import DetectorReference
    from aco_assets.signal.features import FrontEndConfig

    loaded = _load(_resource(data))  # logged with the minimal reference {"front_end": {}}
    assert isinstance(loaded.reference, DetectorReference)
    assert loaded.reference.front_end == FrontEndConfig()
    assert loaded.reference.model_version == loaded.version == 2
    assert loaded.reference.threshold == pytest.approx(2.0) == loaded.detector.threshold
    assert loaded.reference.score_name == loaded.detector.score_name


def test_a_reference_that_does_not_read_is_the_one_line_artifact_error(data, fitted, tmp_path):
    resource = _resource(data)
    with mlflow.start_run(experiment_id=resource.experiment_id()):
        version = log_detector(
            copy.deepcopy(fitted), {"typical_median_db": []}, work_dir=tmp_path,
            registered_model_name=NAME,
        )  # fmt: skip
    with pytest.raises(ModelArtifactError, match=f"version {version} .*'front_end'") as e:
        _load(resource, version)
    assert "\n" not in str(e.value)


def test_a_truncated_cached_file_is_detected_and_downloaded_again(data):
    resource = _resource(data)
    cached = _load(resource).directory / "model.pt"
    good = _truncate(cached)
    loaded = _load(resource)
    assert loaded.directory / "model.pt" == cached and cached.read_bytes() == good
    assert loaded.version == 2 and loaded.detector.threshold == pytest.approx(2.0)


def test_a_truncated_artifact_is_one_line_naming_version_and_fixes_and_is_never_cached(data):
    resource = _resource(data)
    model_pt = _artifact_file(resource, 2, "model.pt")
    good = _truncate(model_pt)
    with pytest.raises(ModelArtifactError) as raised:
        _load(resource)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("model version 2 of 'aco-detector'") and "model.pt" in message
    assert "aco pipeline --retrain" in message and "alias to version 1" in message
    assert _cached(data) == []  # the truncated copy never entered the cache
    model_pt.write_bytes(good)  # the artifact restored: loads at once
    assert _load(resource).detector.threshold == pytest.approx(2.0)
    # the rollback command the message gives moves the alias back
    command = message.split("`")[-2]
    assert command.startswith("python -c ")
    exec(command[len("python -c ") :].strip('"'), {})  # noqa: S102 (the command users run)
    assert champion_version(resource.client(), NAME) == 1


def test_a_corrupt_artifact_logged_without_checksums_is_the_same_one_line_error(data):
    resource = _resource(data)
    resource.client().delete_model_version_tag(NAME, "2", CHECKSUM_TAG)  # as logged before
    _artifact_file(resource, 2, "checksums.json").unlink()
    _truncate(_artifact_file(resource, 2, "model.pt"))  # torch: "failed finding central directory"
    with pytest.raises(ModelArtifactError, match=r"^model version 2 .*model\.pt.*--retrain") as e:
        _load(resource)
    assert "\n" not in str(e.value)
    assert _cached(data) == []


def test_a_missing_artifact_is_one_line_naming_the_version(data):
    resource = _resource(data)
    shutil.rmtree(data / "mlartifacts" / "models")
    with pytest.raises(ModelArtifactError, match=r"^model version 2 of 'aco-detector'.*--retrain"):
        _load(resource)


def test_a_dangling_champion_alias_is_an_error_naming_alias_and_version(data):
    resource = _resource(data)
    with closing(sqlite3.connect(data / "mlflow.db")) as con, con:  # e.g. a restored backup
        con.execute("UPDATE registered_model_aliases SET version = 7 WHERE alias = ?", [CHAMPION])
    with pytest.raises(
        DanglingChampionError, match=r"'champion' alias .* version 7.*versions: 1, 2"
    ):
        champion_version(resource.client(), NAME)
    with pytest.raises(DanglingChampionError):
        _load(resource)
    assert not issubclass(DanglingChampionError, NoChampionError)  # never "train a new one"


def test_only_a_missing_alias_or_model_means_no_champion(data, tmp_path):
    resource = _resource(data)
    resource.client().delete_registered_model_alias(NAME, CHAMPION)
    with pytest.raises(NoChampionError, match="has no 'champion' version"):
        champion_version(resource.client(), NAME)
    with pytest.raises(NoChampionError):
        champion_version(resource.client(), "no-such-model")


def test_a_version_missing_from_the_store_names_the_store(data):
    with pytest.raises(ModelRegistryError, match=r"model version 4 of 'aco-detector' is not in"):
        _load(_resource(data), 4)


def test_the_uri_mlflow_exports_is_not_read_back_as_the_users_setting(data, tmp_path, monkeypatch):
    ours, another = _resource(data), _resource(tmp_path / "another")
    ours.client()  # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI: not left behind
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert another.resolved_tracking_uri() == f"sqlite:///{tmp_path / 'another' / 'mlflow.db'}"
    user = f"sqlite:///{data / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", user)  # the user's setting is honoured, and kept
    assert another.client().get_registered_model(NAME).name == NAME
    assert os.environ["MLFLOW_TRACKING_URI"] == user


def test_a_copied_data_folder_loads_its_champion_after_the_original_is_gone(data, tmp_path):
    _load(_resource(data))  # a filled cache travels too
    moved = Path(shutil.copytree(data, tmp_path / "elsewhere" / "data", symlinks=True))
    data.rename(tmp_path / "gone")
    loaded = _load(_resource(moved))
    assert loaded.detector.threshold == pytest.approx(2.0)
    assert loaded.directory.is_relative_to(moved)
    scores = loaded.detector.score(blobs(np.random.default_rng(1), 4)).score
    assert scores.shape == (4,) and np.isfinite(scores).all()
    with closing(sqlite3.connect(moved / "mlflow.db")) as con:
        locations = [r[0] for r in con.execute("SELECT artifact_uri FROM runs")]
        locations += [r[0] for r in con.execute("SELECT storage_location FROM model_versions")]
    assert len(locations) == 4
    assert all(loc.startswith((moved / "mlartifacts").as_uri() + "/") for loc in locations)
    # MLflow's own loader, as README users call it, finds the artifact in the copy
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@{CHAMPION}")
    assert len(model.predict(blobs(np.random.default_rng(2), 3))) == 3
    # a new version trained in the copy writes its artifacts into the copy
    assert _resource(moved).client().get_experiment_by_name(NAME).artifact_location == (
        (moved / "mlartifacts").as_uri()
    )
