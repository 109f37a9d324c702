"""Resources: where the archive and the data directory are, the warehouse, and MLflow.

Settings come from the resource fields, then the environment, then documented defaults
(:class:`aco_assets.layout.DataLayout`):

========================  ===========================================  ===================
setting                   environment variable                          default
========================  ===========================================  ===================
data directory            ``ACO_DATA_DIR``                              ``./data``
archive root              ``ACO_ARCHIVE_ROOT``                          ``<data>/archive``
MLflow tracking URI       ``MLFLOW_TRACKING_URI``                       ``sqlite:///<data>/mlflow.db``
========================  ===========================================  ===================

They are resolved when a step runs, never at import, so one code location serves any archive.
"""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from aco_assets.layout import DataLayout
from aco_assets.warehouse import Warehouse


class ArchiveNotFoundError(dg.Failure):
    """The configured archive root does not exist (a setting to fix: never retried)."""

    def __init__(self, description: str) -> None:
        super().__init__(description=description, allow_retries=False)


class StorageResource(dg.ConfigurableResource):
    """The archive to read and the data directory every stage writes under."""

    data_dir: str | None = Field(
        default=None, description="Data directory (default: $ACO_DATA_DIR, else ./data)."
    )
    archive_root: str | None = Field(
        default=None,
        description="Root of the YYYY/MM/DD archive tree (default: $ACO_ARCHIVE_ROOT, else <data>/archive).",
    )

    def layout(self) -> DataLayout:
        return DataLayout.resolve(data_dir=self.data_dir, archive_root=self.archive_root)

    def warehouse(self) -> Warehouse:
        return Warehouse(self.layout().duckdb_path)

    def archive(self):
        """The :class:`~aco_assets.hydrophone.Archive`; a clear error if its root is missing."""
        from aco_assets.hydrophone import Archive

        root = self.layout().archive_root
        if not root.is_dir():
            raise ArchiveNotFoundError(
                f"archive root {root} does not exist: set ACO_ARCHIVE_ROOT (or the storage "
                "resource's archive_root) to a YYYY/MM/DD tree of .HYD24BBpk files, or write the "
                "synthetic demo archive with `aco synth --out <dir>`"
            )
        return Archive(root)


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking and the model registry (SQLite store under the data directory)."""

    storage: StorageResource
    tracking_uri: str | None = Field(
        default=None, description="Default: $MLFLOW_TRACKING_URI, else sqlite:///<data>/mlflow.db."
    )
    experiment_name: str = "aco-detector"
    registered_model_name: str = "aco-detector"

    def resolved_tracking_uri(self) -> str:
        return (
            self.tracking_uri
            or os.environ.get("MLFLOW_TRACKING_URI")
            or self.storage.layout().mlflow_tracking_uri
        )

    def client(self):
        """An ``MlflowClient`` bound to the tracking URI (registry on the same store)."""
        import mlflow

        uri = self.resolved_tracking_uri()
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)

    def experiment_id(self) -> str:
        """The experiment's id, created with an absolute artifact location on first use."""
        client = self.client()
        experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is not None:
            return experiment.experiment_id
        artifacts = self.storage.layout().mlflow_artifacts_dir
        artifacts.mkdir(parents=True, exist_ok=True)
        return client.create_experiment(self.experiment_name, artifact_location=artifacts.as_uri())
