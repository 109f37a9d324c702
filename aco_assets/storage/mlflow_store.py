"""The data folder's MLflow store follows the data folder when it is moved or copied.

MLflow records artifact locations as absolute URIs (the experiment's artifact root, each run's
``artifact_uri``, each logged model's and model version's location), and STACK.md requires
absolute ones. A data folder copied with ``cp -a data elsewhere`` (or moved) therefore still
names the old folder: the copy reads, and writes, artifacts of the original, or fails with "No
such artifact" once the original is gone. :func:`rebase_artifact_root` rewrites those locations
to the folder's own artifact directory the first time the store is opened from its new place.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import unquote, urlparse

logger = logging.getLogger(__name__)

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
