"""The data folder's MLflow store follows the data folder when it is moved or copied.

MLflow records artifact locations as absolute URIs (the experiment's artifact root, each run's
``artifact_uri``, each logged model's and model version's location), and MLflow 3.17 requires
absolute ones. A data folder copied with ``cp -a data elsewhere`` (or moved) therefore still
names the old folder: the copy reads, and writes, artifacts of the original, or fails with "No
such artifact" once the original is gone. :func:`rebase_artifact_root` rewrites those locations
to the folder's own artifact directory the first time the store is opened from its new place.

:func:`tracking_client` is how the ``mlflow_resource`` gets its client: the only place outside
the model registry that imports MLflow, as the storage layer is the only one that may.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import unquote, urlparse

logger = logging.getLogger(__name__)

TRACKING_URI_ENV, REGISTRY_URI_ENV = "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"

# (table, column) of every absolute artifact location in the SQL store of MLflow 3.
LOCATION_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
)


def _local_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" and uri.startswith("/"):
        return Path(uri)
    return None


def rebase_artifact_root(db_path: Path, artifacts_dir: Path, experiment_name: str) -> str | None:
    """Point the store's locations under an old artifact root at ``artifacts_dir``.

    Acts only when the experiment ``experiment_name`` of the SQLite store ``db_path`` records a
    local artifact root other than ``artifacts_dir`` with the same folder name, and
    ``artifacts_dir`` exists (the artifacts came along with the database). Every location under
    the old root is rewritten in one transaction.

    Returns
    -------
    The old root URI when locations were rewritten, else None.
    """
    if not db_path.is_file():
        return None
    new_root = artifacts_dir.as_uri()
    with closing(sqlite3.connect(db_path, timeout=30)) as con, con:
        try:
            row = con.execute(
                "SELECT artifact_location FROM experiments WHERE name = ?", [experiment_name]
            ).fetchone()
        except sqlite3.OperationalError:  # not an MLflow store yet
            return None
        if row is None or row[0] == new_root:
            return None
        old_root = row[0].rstrip("/")
        old_path = _local_path(old_root)
        if old_path is None or old_path.name != artifacts_dir.name or not artifacts_dir.is_dir():
            return None
        for table, column in LOCATION_COLUMNS:
            con.execute(
                f"UPDATE {table} SET {column} = ? || substr({column}, ?) "  # noqa: S608 (fixed names)
                f"WHERE {column} = ? OR substr({column}, 1, ?) = ?",
                [new_root, len(old_root) + 1, old_root, len(old_root) + 1, old_root + "/"],
            )
    logger.info("MLflow store %s: artifact locations moved from %s to %s", db_path, old_root,
                new_root)  # fmt: skip
    return old_root


def tracking_client(uri: str, layout, experiment_name: str):
    """An ``MlflowClient`` bound to ``uri`` (registry on the same store).

    Also points MLflow's process-wide URIs at it (``mlflow.start_run``, ``log_model`` and
    artifact downloads use them) without leaving them in the environment. When ``uri`` is the
    data folder's own store (``layout``, a :class:`aco_assets.storage.layout.DataLayout`), its
    artifact locations follow the folder first (:func:`rebase_artifact_root`).
    """
    import mlflow

    set_process_uris(uri)
    if uri == layout.mlflow_tracking_uri:  # the data folder's own store: one query
        rebase_artifact_root(layout.mlflow_db_path, layout.mlflow_artifacts_dir, experiment_name)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def set_process_uris(uri: str) -> None:
    """``mlflow.set_tracking_uri`` / ``set_registry_uri`` without their environment exports.

    MLflow writes both URIs into ``os.environ`` for subprocesses; left there, they would read as
    the user's ``MLFLOW_TRACKING_URI`` to every later resource of this process (another data
    folder would train into, and score from, this one's store) and to every subprocess, so the
    environment is put back as it was.
    """
    import mlflow

    saved = {name: os.environ.get(name) for name in (TRACKING_URI_ENV, REGISTRY_URI_ENV)}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
