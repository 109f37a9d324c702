"""The MLflow resource's data folder: its own ``data_dir`` (what run config can set), else the
storage resource's."""

from __future__ import annotations

from aco_assets.defs.resources import TRACKING_URI_ENV, MlflowResource, StorageResource


def test_the_data_dir_field_names_the_store_when_set(monkeypatch, tmp_path):
    monkeypatch.delenv(TRACKING_URI_ENV, raising=False)
    storage = StorageResource(data_dir=str(tmp_path / "storage"))
    assert MlflowResource(storage=storage).resolved_tracking_uri() == (
        f"sqlite:///{tmp_path / 'storage' / 'mlflow.db'}"
    )
    named = MlflowResource(storage=storage, data_dir=str(tmp_path / "named"))
    assert named.resolved_tracking_uri() == f"sqlite:///{tmp_path / 'named' / 'mlflow.db'}"
    assert named.layout().mlflow_artifacts_dir == tmp_path / "named" / "mlartifacts"
