"""Where everything derived from an archive lives: one data directory, one layout.

Every path the stages write goes through :class:`DataLayout`, so a deployment can move the data
directory, or put the archive and the derived data on object storage (``s3://bucket/prefix``,
:mod:`aco_assets.storage.paths`), without touching the stages.

The *store root* (default: the data directory) holds what the stages derive: ``features/``,
``tables/`` (the warehouse's Parquet files) and ``review/``. The data directory itself always
stays local: ``DAGSTER_HOME``, ``aco.duckdb`` (views only), the model cache, MLflow's SQLite and
the ``cache/`` of feature arrays fetched from a remote store.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aco_assets.storage.paths import AnyPath, as_path, is_remote

ENV_DATA_DIR = "ACO_DATA_DIR"
ENV_ARCHIVE_ROOT = "ACO_ARCHIVE_ROOT"
ENV_STORE_ROOT = "ACO_STORE_ROOT"
DEFAULT_DATA_DIR = "data"


@dataclass(frozen=True)
class DataLayout:
    """Absolute paths under one data directory, and the store of derived data.

    Parameters
    ----------
    data_dir
        The local data directory (made absolute). Holds the DuckDB file (views), models, the
        MLflow store, ``DAGSTER_HOME`` and, by default, the store of derived data.
    archive_root
        The ``YYYY/MM/DD`` tree of ``.HYD24BBpk`` files (default: ``<data_dir>/archive``, where
        ``aco demo`` writes the synthetic archive): a local path or a :class:`upath.UPath`.
    store_root
        Where ``features/``, ``tables/`` and ``review/`` go (default: ``data_dir``): a local
        path or a :class:`upath.UPath` such as ``s3://bucket/aco``.
    """

    data_dir: Path
    archive_root: AnyPath
    store_root: AnyPath | None = None

    def __post_init__(self) -> None:
        if self.store_root is None:
            object.__setattr__(self, "store_root", self.data_dir)

    @classmethod
    def resolve(
        cls,
        *,
        data_dir: str | os.PathLike | None = None,
        archive_root: str | os.PathLike | None = None,
        store_root: str | os.PathLike | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> DataLayout:
        """Resolve the layout from arguments, then ``ACO_DATA_DIR`` / ``ACO_ARCHIVE_ROOT`` /
        ``ACO_STORE_ROOT``, then defaults. ``storage_options`` go to the fsspec file system of
        a URL root (credentials and endpoint otherwise come from ``AWS_*`` variables)."""
        data = Path(data_dir or os.environ.get(ENV_DATA_DIR) or DEFAULT_DATA_DIR).expanduser()
        data = data.resolve()
        archive = archive_root or os.environ.get(ENV_ARCHIVE_ROOT) or data / "archive"
        store = store_root or os.environ.get(ENV_STORE_ROOT) or data
        return cls(
            data_dir=data,
            archive_root=as_path(archive, storage_options=storage_options, resolve=True),
            store_root=as_path(store, storage_options=storage_options, resolve=True),
        )

    @property
    def store_is_remote(self) -> bool:
        """True when derived data goes to object storage (``ACO_STORE_ROOT=s3://...``)."""
        return is_remote(self.store_root)

    def relative(self, path: str | os.PathLike) -> str:
        """``path`` relative to the data folder (POSIX), for what is stored or shown (Dagster
        metadata, tables): it stays true when the folder is copied or moved. A path outside
        the folder, or on object storage, is returned as it is (a URL)."""
        if is_remote(path):
            return str(path)
        p = Path(path)
        try:
            return p.resolve().relative_to(self.data_dir.resolve()).as_posix()
        except ValueError:
            return str(p)

    @property
    def duckdb_path(self) -> Path:
        return self.data_dir / "aco.duckdb"

    @property
    def features_dir(self) -> AnyPath:
        return self.store_root / "features"

    @property
    def tables_dir(self) -> AnyPath:
        """The warehouse's Parquet files (:mod:`aco_assets.storage.warehouse_files`)."""
        return self.store_root / "tables"

    @property
    def cache_dir(self) -> Path:
        """Local copies of objects of a remote store (feature arrays to memory-map)."""
        return self.data_dir / "cache"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def review_dir(self) -> Path:
        """Where review clips are rendered and reviewed: ``<store>/review`` when the store is
        local; a local ``<data>/review`` when it is remote (each published day is then copied
        to :attr:`review_store_dir`)."""
        return self.data_dir / "review" if self.store_is_remote else self.store_root / "review"

    @property
    def review_store_dir(self) -> AnyPath:
        return self.store_root / "review"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster_home"

    @property
    def mlflow_db_path(self) -> Path:
        """The MLflow tracking and registry database (SQLite)."""
        return self.data_dir / "mlflow.db"

    @property
    def mlflow_tracking_uri(self) -> str:
        """``sqlite:///<absolute path>``, derived from the data directory each time it is asked."""
        return f"sqlite:///{self.mlflow_db_path}"

    @property
    def mlflow_artifacts_dir(self) -> Path:
        return self.data_dir / "mlartifacts"

    def features_path(self, day: dt.date) -> AnyPath:
        """The day's feature array, shape (N, 1, F, T) float32, row i = window_index i."""
        return self.features_dir / f"{day:%Y}" / f"{day:%Y-%m-%d}.npy"

    def review_day_dir(self, day: dt.date) -> Path:
        return self.review_dir / f"{day:%Y-%m-%d}"
