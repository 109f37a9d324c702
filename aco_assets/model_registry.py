"""Detector versions in the MLflow model registry, and the ``champion`` alias.

A version is logged as an MLflow pyfunc model whose artifact is the directory that
:meth:`ml.FittedDetector.save` writes (state dict + JSON config + GMM + calibration scores),
plus ``reference.json`` (the typical windows' band medians and the front-end config). Anyone can
load it with ``mlflow.pyfunc.load_model("models:/aco-detector@champion")`` and call ``predict``
on feature windows (N, 1, F, T); the pipeline rebuilds the :class:`ml.FittedDetector` itself.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np

CHAMPION = "champion"
DETECTOR_DIR = "detector"
REFERENCE_FILE = "reference.json"


class NoChampionError(LookupError):
    """The registry has no version carrying the champion alias yet."""


class DetectorPyfunc(mlflow.pyfunc.PythonModel):
    """MLflow wrapper: ``predict(features (N, 1, F, T)) -> DataFrame of per-window scores``."""

    def load_context(self, context: Any) -> None:
        from ml import FittedDetector

        self.detector = FittedDetector.load(context.artifacts[DETECTOR_DIR])

    def predict(self, context, model_input, params=None):  # noqa: ANN001 (MLflow infers schemas from hints)
        import pandas as pd

        x = np.asarray(model_input, dtype=np.float32)
        return pd.DataFrame(self.detector.score(x).as_dict())


@dataclass(frozen=True)
class LoadedDetector:
    version: int
    run_id: str
    detector: Any  # ml.FittedDetector
    reference: dict[str, Any]
    directory: Path


def log_detector(
    fitted: Any, reference: dict[str, Any], *, work_dir: Path, registered_model_name: str
) -> int:
    """Log the fitted detector to the active MLflow run and register it; returns the version."""
    model_dir = work_dir / DETECTOR_DIR
    if model_dir.exists():
        shutil.rmtree(model_dir)
    fitted.save(model_dir)
    (model_dir / REFERENCE_FILE).write_text(json.dumps(reference))
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=DetectorPyfunc(),
        artifacts={DETECTOR_DIR: str(model_dir)},
        pip_requirements=["torch==2.13.0", "numpy", "scipy", "pandas", "aco-anomaly"],
        registered_model_name=registered_model_name,
    )
    return int(info.registered_model_version)


def set_champion(client: Any, name: str, version: int) -> None:
    client.set_registered_model_alias(name, CHAMPION, str(version))


def champion_version(client: Any, name: str) -> int:
    try:
        return int(client.get_model_version_by_alias(name, CHAMPION).version)
    except mlflow.exceptions.MlflowException as e:
        raise NoChampionError(
            f"registered model {name!r} has no {CHAMPION!r} version: materialize the detector "
            "asset first (a version becomes champion only when its checks pass)"
        ) from e


def load_version(client: Any, name: str, version: int, *, cache_dir: Path) -> LoadedDetector:
    """Download version ``version`` once into ``cache_dir/v<version>`` and rebuild it."""
    from ml import FittedDetector

    mv = client.get_model_version(name, str(version))
    target = cache_dir / f"v{version}"
    if not (target / DETECTOR_DIR / REFERENCE_FILE).exists():
        tmp = cache_dir / f".v{version}.download"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        local = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}", dst_path=str(tmp)
            )
        )
        found = next(local.rglob(REFERENCE_FILE), None)
        if found is None:
            raise FileNotFoundError(f"model version {name}/{version} has no {REFERENCE_FILE}")
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        shutil.move(str(found.parent), str(target / DETECTOR_DIR))
        shutil.rmtree(tmp, ignore_errors=True)
    directory = target / DETECTOR_DIR
    return LoadedDetector(
        version=version,
        run_id=mv.run_id,
        detector=FittedDetector.load(directory),
        reference=json.loads((directory / REFERENCE_FILE).read_text()),
        directory=directory,
    )


def load_champion(client: Any, name: str, *, cache_dir: Path) -> LoadedDetector:
    return load_version(client, name, champion_version(client, name), cache_dir=cache_dir)
