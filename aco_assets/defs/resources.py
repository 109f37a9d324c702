"""Resources: where the archive and the data directory are, the warehouse, and MLflow.

Settings come from the resource fields, then the environment, then documented defaults
(:class:`aco_assets.storage.layout.DataLayout`):

========================  ===========================================  ===================
setting                   environment variable                          default
========================  ===========================================  ===================
data directory            ``ACO_DATA_DIR``                              ``./data``
archive root              ``ACO_ARCHIVE_ROOT``                          ``<data>/archive``
store of derived data     ``ACO_STORE_ROOT``                            ``<data>``
object-storage access     ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``  (none)
object-storage endpoint   ``AWS_ENDPOINT_URL`` (e.g. MinIO, moto)       AWS
MLflow tracking URI       ``MLFLOW_TRACKING_URI``                       ``sqlite:///<data>/mlflow.db``
========================  ===========================================  ===================

They are resolved when a step runs, never at import, so one code location serves any archive.

The archive root and the store root may be URLs (``s3://bucket/prefix``): the archive is then
read, and ``features/``, ``tables/`` and ``review/`` written, through fsspec (s3fs), with the
credentials, endpoint and region of the standard ``AWS_*`` variables; other fsspec options go in
the storage resource's ``storage_options``. The data directory stays local (``aco.duckdb``,
``DAGSTER_HOME``, models, MLflow). See docs/deploy.md, "Object storage".
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg
from pydantic import Field

from aco_assets.storage.layout import DataLayout
from aco_assets.storage.warehouse import Warehouse


class ArchiveNotFoundError(dg.Failure):
    """The configured archive root does not exist (a setting to fix: never retried)."""

    def __init__(self, description: str) -> None:
        super().__init__(description=description, allow_retries=False)


class StorageResource(dg.ConfigurableResource):
    """The archive to read, the store derived data goes to, and the local data directory."""

    data_dir: str | None = Field(
        default=None, description="Data directory (default: $ACO_DATA_DIR, else ./data)."
    )
    archive_root: str | None = Field(
        default=None,
        description="Root of the YYYY/MM/DD archive tree, a path or a URL such as "
        "s3://bucket/prefix (default: $ACO_ARCHIVE_ROOT, else <data>/archive).",
    )
    store_root: str | None = Field(
        default=None,
        description="Where features/, tables/ and review/ go, a path or a URL such as "
        "s3://bucket/prefix (default: $ACO_STORE_ROOT, else the data directory).",
    )
    storage_options: dict[str, Any] | None = Field(
        default=None,
        description="fsspec options for URL roots (credentials and endpoint otherwise come "
        "from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_ENDPOINT_URL).",
    )

    def layout(self) -> DataLayout:
        return DataLayout.resolve(
            data_dir=self.data_dir,
            archive_root=self.archive_root,
            store_root=self.store_root,
            storage_options=self.storage_options,
        )

    def warehouse(self) -> Warehouse:
        return Warehouse.of(self.layout())

    def archive(self):
        """The :class:`~aco_assets.hydrophone.Archive`; a clear error if its root is missing."""
        from aco_assets.hydrophone import Archive

        root = self.layout().archive_root
        try:
            found = root.is_dir()
        except OSError as e:  # object storage refused: credentials, endpoint, permissions
            raise ArchiveNotFoundError(
                f"archive root {root} cannot be listed ({type(e).__name__}: {e}): check "
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and AWS_ENDPOINT_URL"
            ) from e
        if not found:
            raise ArchiveNotFoundError(
                f"archive root {root} does not exist: set ACO_ARCHIVE_ROOT (or the storage "
                "resource's archive_root) to a YYYY/MM/DD tree of .HYD24BBpk files, or write the "
                "synthetic demo archive with `aco synth --out <dir>`"
            )
        return Archive(root)


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking and the model registry (SQLite store under the data directory).

    The tracking URI is resolved each time a client is made: the field, else
    ``MLFLOW_TRACKING_URI`` as the user set it, else the data directory's
    ``sqlite:///<data>/mlflow.db``. It is never stored, so a moved or copied data folder uses its
    own store, whose artifact locations follow it (:mod:`aco_assets.storage.mlflow_store`).

    The data folder is ``data_dir`` when set, else the nested ``storage``'s: run config reaches
    the top-level resources only, not the ``storage`` nested here, so a run that names its data
    folder in run config (a Dask worker's) names it here too.
    """

    storage: StorageResource
    data_dir: str | None = Field(
        default=None,
        description="Data directory of the MLflow store and artifacts (default: the storage "
        "resource's).",
    )
    tracking_uri: str | None = Field(
        default=None, description="Default: $MLFLOW_TRACKING_URI, else sqlite:///<data>/mlflow.db."
    )
    artifact_location: str | None = Field(
        default=None,
        description="Where a new experiment keeps its artifacts, e.g. s3://bucket/mlflow "
        "(endpoint: $MLFLOW_S3_ENDPOINT_URL or $AWS_ENDPOINT_URL). Default: "
        "$ACO_MLFLOW_ARTIFACT_LOCATION, else <data>/mlartifacts.",
    )
    experiment_name: str = "aco-detector"
    registered_model_name: str = "aco-detector"

    def resolved_tracking_uri(self) -> str:
        return (
            self.tracking_uri
            or os.environ.get(TRACKING_URI_ENV)
            or self.layout().mlflow_tracking_uri
        )

    def layout(self) -> DataLayout:
        """The data folder's layout: ``data_dir`` when set, else the storage resource's."""
        if self.data_dir:
            return DataLayout.resolve(data_dir=self.data_dir)
        return self.storage.layout()

    def client(self):
        """An ``MlflowClient`` bound to the tracking URI, registry on the same store
        (:func:`aco_assets.storage.mlflow_store.tracking_client`)."""
        from aco_assets.storage.mlflow_store import tracking_client

        return tracking_client(self.resolved_tracking_uri(), self.layout(), self.experiment_name)

    def experiment_id(self) -> str:
        """The experiment's id, created with an absolute artifact location on first use."""
        client = self.client()
        experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is not None:
            return experiment.experiment_id
        location = self.resolved_artifact_location()
        if location is None:
            artifacts = self.layout().mlflow_artifacts_dir
            artifacts.mkdir(parents=True, exist_ok=True)
            location = artifacts.as_uri()
        return client.create_experiment(self.experiment_name, artifact_location=location)

    def resolved_artifact_location(self) -> str | None:
        """The field, else ``$ACO_MLFLOW_ARTIFACT_LOCATION``; None: the data folder's own."""
        return self.artifact_location or os.environ.get(ARTIFACT_LOCATION_ENV) or None


TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
ARTIFACT_LOCATION_ENV = "ACO_MLFLOW_ARTIFACT_LOCATION"
