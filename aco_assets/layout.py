"""Where everything derived from an archive lives: one data directory, one layout.

Every path the stages write goes through :class:`DataLayout`, so a deployment can move the data
directory (or later swap it for object storage) without touching the stages.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

ENV_DATA_DIR = "ACO_DATA_DIR"
ENV_ARCHIVE_ROOT = "ACO_ARCHIVE_ROOT"
DEFAULT_DATA_DIR = "data"


@dataclass(frozen=True)
class DataLayout:
    """Absolute paths under one data directory.

    Parameters
    ----------
    data_dir
        The data directory (made absolute). Holds the DuckDB file, feature arrays, models,
        review clips, the MLflow store and ``DAGSTER_HOME``.
    archive_root
        The ``YYYY/MM/DD`` tree of ``.HYD24BBpk`` files (default: ``<data_dir>/archive``, where
        ``aco demo`` writes the synthetic archive).
    """

    data_dir: Path
    archive_root: Path

    @classmethod
    def resolve(
        cls,
        *,
        data_dir: str | os.PathLike | None = None,
        archive_root: str | os.PathLike | None = None,
    ) -> DataLayout:
        """Resolve the layout from arguments, then ``ACO_DATA_DIR`` / ``ACO_ARCHIVE_ROOT``, then defaults."""
        data = Path(data_dir or os.environ.get(ENV_DATA_DIR) or DEFAULT_DATA_DIR).expanduser()
        data = data.resolve()
        archive = archive_root or os.environ.get(ENV_ARCHIVE_ROOT) or data / "archive"
        return cls(data_dir=data, archive_root=Path(archive).expanduser().resolve())

    def relative(self, path: str | os.PathLike) -> str:
        """``path`` relative to the data folder (POSIX), for what is stored or shown (Dagster
        metadata, tables): it stays true when the folder is copied or moved. A path outside
        the folder is returned as it is."""
        p = Path(path)
        try:
            return p.resolve().relative_to(self.data_dir.resolve()).as_posix()
        except ValueError:
            return str(p)

    @property
    def duckdb_path(self) -> Path:
        return self.data_dir / "aco.duckdb"

    @property
    def features_dir(self) -> Path:
        return self.data_dir / "features"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def review_dir(self) -> Path:
        return self.data_dir / "review"

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

    def features_path(self, day: dt.date) -> Path:
        """The day's feature array, shape (N, 1, F, T) float32, row i = window_index i."""
        return self.features_dir / f"{day:%Y}" / f"{day:%Y-%m-%d}.npy"

    def review_day_dir(self, day: dt.date) -> Path:
        return self.review_dir / f"{day:%Y-%m-%d}"
