"""Detector versions in the MLflow model registry, the ``champion`` alias, and the local cache.

A version is logged as an MLflow pyfunc model whose artifact is the directory that
:meth:`ml.FittedDetector.save` writes (state dict + JSON config + GMM + calibration scores),
plus ``reference.json`` (the typical windows' band medians and the front-end config). Anyone can
load it with ``mlflow.pyfunc.load_model("models:/aco-detector@champion")`` and call ``predict``
on feature windows (N, 1, F, T); the pipeline rebuilds the :class:`ml.FittedDetector` itself.

The SHA-256 of every file of that directory is registered with the version (model version tag
``detector_files_sha256``). The pipeline's copy lives in ``<data>/models/<run id>-<digest>/``:
keyed by the MLflow run, never by the version number alone (two stores both have a version 1),
downloaded into a temporary folder and renamed into place only once its checksums match, and
verified again on every load (a truncated cached file is dropped and downloaded again;
:mod:`aco_assets.storage.model_cache`).

Errors (:mod:`aco_assets.storage.registry_errors`) are one line that names the version and the
fix: :class:`NoChampionError` (no alias yet: train one), :class:`DanglingChampionError` (the
alias names a version the registry lacks) and :class:`ModelArtifactError` (the artifact is
missing, truncated or corrupt). They carry the
cause's message and are raised ``from None``: ``aco pipeline`` reports the innermost error of a
failed step, and that must be this line, not torch's or MLflow's.

:func:`register` turns a :class:`aco_assets.scoring.training.TrainingOutcome` into an MLflow run
(params, metrics, figures), a registered version, the champion alias when it passes its check
(or when there is no champion yet), and its ``model_versions`` row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import logging
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
import pyarrow as pa

from aco_assets.scoring.reference import DetectorReference
from aco_assets.storage.model_cache import (
    DETECTOR_DIR,
    REFERENCE_FILE,
    ArtifactProblem,
    cache_problem,
    download,
    remove,
)
from aco_assets.storage.registry_errors import (
    CHAMPION,
    DanglingChampionError,
    ModelArtifactError,
    ModelRegistryError,
    NoChampionError,
    alias_command,
    artifact_error,
    registered_versions,
    registry_uri,
)

if TYPE_CHECKING:
    from aco_assets.scoring.training import TrainingOutcome
    from aco_assets.storage.warehouse import Warehouse
    from ml import FittedDetector

__all__ = ["CHAMPION", "CHECKSUM_TAG", "DETECTOR_DIR", "REFERENCE_FILE", "DanglingChampionError",
           "DetectorPyfunc", "LoadedDetector", "ModelArtifactError", "ModelRegistryError",
           "NoChampionError", "Registration", "champion_version", "has_champion", "load_champion",
           "load_version", "log_detector", "record_version", "register", "set_champion"]  # fmt: skip

logger = logging.getLogger(__name__)

CHECKSUM_TAG = "detector_files_sha256"  # model version tag: {file name: sha256} of DETECTOR_DIR
_NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"


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
    """A registered version, loaded: the model, its reference (naming the version and the
    model's operating point), where it is cached, and the digest of its registered checksums
    (None for versions logged without)."""

    version: int
    run_id: str
    detector: FittedDetector
    reference: DetectorReference
    directory: Path
    digest: str | None = None


@dataclass(frozen=True)
class Registration:
    """What :func:`register` did: the new version, its run, whether the champion alias moved
    to it, and the version the alias names afterwards (the scores' version)."""

    version: int
    run_id: str
    champion: bool
    checks_passed: bool
    champion_version: int


def log_detector(
    fitted: FittedDetector,
    reference: DetectorReference | Mapping[str, Any],
    *,
    work_dir: Path,
    registered_model_name: str,
) -> int:
    """Log the fitted detector to the active MLflow run and register it; returns the version.

    The version carries the SHA-256 of every file it holds (tag ``detector_files_sha256``).
    """
    from ml.io import file_digests

    model_dir = work_dir / DETECTOR_DIR
    if model_dir.exists():
        shutil.rmtree(model_dir)
    fitted.save(model_dir)
    if isinstance(reference, DetectorReference):
        reference = reference.to_dict()
    (model_dir / REFERENCE_FILE).write_text(json.dumps(dict(reference)))
    digests = file_digests(model_dir)
    chatter = io.StringIO()  # MLflow prints "Registered model ... / Created version ..." itself
    with contextlib.redirect_stderr(chatter):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=DetectorPyfunc(),
            artifacts={DETECTOR_DIR: str(model_dir)},
            pip_requirements=["torch==2.13.0", "numpy", "scipy", "pandas", "aco-anomaly"],
            registered_model_name=registered_model_name,
        )
    for line in chatter.getvalue().splitlines():
        logger.debug("mlflow: %s", line)
    version = int(info.registered_model_version)
    mlflow.MlflowClient().set_model_version_tag(
        registered_model_name, str(version), CHECKSUM_TAG, json.dumps(digests, sort_keys=True)
    )
    return version


def set_champion(client: Any, name: str, version: int) -> None:
    client.set_registered_model_alias(name, CHAMPION, str(version))


def has_champion(client: Any, name: str) -> bool:
    """Whether ``name`` has a champion (a dangling alias raises, as in :func:`champion_version`)."""
    try:
        champion_version(client, name)
    except NoChampionError:
        return False
    return True


def champion_version(client: Any, name: str) -> int:
    """The version the champion alias names.

    Raises
    ------
    NoChampionError
        When the registered model or its alias does not exist (the only "no champion").
    DanglingChampionError
        When the alias names a version the registry does not hold.
    """
    try:
        aliases = client.get_registered_model(name).aliases
    except mlflow.exceptions.MlflowException as e:
        if e.error_code != _NOT_FOUND:
            raise
        aliases = {}
    if CHAMPION not in aliases:
        raise NoChampionError(
            f"registered model {name!r} has no {CHAMPION!r} version: materialize the detector "
            "asset first (`aco pipeline --retrain`)"
        )
    version = int(aliases[CHAMPION])
    try:
        client.get_model_version(name, str(version))
    except mlflow.exceptions.MlflowException as e:
        if e.error_code != _NOT_FOUND:
            raise
        versions = registered_versions(client, name)
        uri = registry_uri(client)
        raise DanglingChampionError(
            f"the {CHAMPION!r} alias of {name!r} points at version {version}, which the registry "
            f"{uri} does not hold (versions: {', '.join(map(str, versions)) or 'none'}): point it "
            f"at one with {alias_command(uri, name, versions[-1] if versions else 'N')}, or "
            f"delete it with {alias_command(uri, name, None)} and train a new champion with "
            "`aco pipeline --retrain`"
        ) from None
    return version


def load_version(client: Any, name: str, version: int, *, cache_dir: Path) -> LoadedDetector:
    """Version ``version`` of ``name``, from ``cache_dir`` (downloaded and verified once).

    Raises
    ------
    ModelArtifactError
        One line naming the version, what is wrong with its artifact and how to retrain or
        move the champion back.
    """
    from ml import FittedDetector
    from ml.errors import ModelFileError

    try:
        mv = client.get_model_version(name, str(version))
    except mlflow.exceptions.MlflowException as e:
        if e.error_code != _NOT_FOUND:
            raise
        raise ModelRegistryError(
            f"model version {version} of {name!r} is not in the registry {registry_uri(client)} "
            "(versions: "
            + (", ".join(map(str, registered_versions(client, name))) or "none")
            + "): "
            "set MLFLOW_TRACKING_URI to the store that trained it, or rescore the days with the "
            "champion (`aco pipeline`)"
        ) from None
    expected = _registered_digests(mv)
    digest = _digest(expected) if expected is not None else None
    target = cache_dir / (f"{mv.run_id}-{digest[:16]}" if digest else mv.run_id)
    reason = cache_problem(target, expected)
    if reason is not None:
        if target.exists():
            logger.warning("cached model version %s at %s: %s; downloading it again",
                           version, target, reason)  # fmt: skip
            remove(target)
        source = client.get_model_version_download_uri(mv.name, mv.version)
        try:
            download(source, target, expected)
        except ArtifactProblem as e:
            raise artifact_error(client, mv, str(e)) from None
    directory = target / DETECTOR_DIR
    try:
        detector = FittedDetector.load(directory)
        stored = DetectorReference.from_dict(json.loads((directory / REFERENCE_FILE).read_text()))
    except (ModelFileError, ValueError) as e:
        remove(target)  # never keep a copy that does not load
        raise artifact_error(client, mv, str(e)) from None
    reference = stored.bound(
        model_version=version,
        score_name=detector.score_name,
        threshold=detector.threshold,
        budget_per_hour=(detector.operating_point or {}).get("budget_per_hour"),
    )
    return LoadedDetector(version, mv.run_id, detector, reference, directory, digest)


def load_champion(client: Any, name: str, *, cache_dir: Path) -> LoadedDetector:
    return load_version(client, name, champion_version(client, name), cache_dir=cache_dir)


def _registered_digests(mv: Any) -> dict[str, str] | None:
    text = (mv.tags or {}).get(CHECKSUM_TAG)
    return json.loads(text) if text else None


def _digest(digests: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()


def register(
    outcome: TrainingOutcome,
    *,
    client: Any,
    experiment_id: str,
    registered_model_name: str,
    warehouse: Warehouse,
    run_name: str,
    tags: Mapping[str, str] | None = None,
) -> Registration:
    """Log ``outcome`` as an MLflow run, register it as a new version, move the champion alias
    to it when its check passed (or when the registry has no champion yet: a provisional one,
    so that a new archive can be scored), and write its ``model_versions`` row."""
    name = registered_model_name
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=run_name, tags=dict(tags or {})
    ) as run:
        mlflow.log_params(outcome.params)
        _log_history(run.info.run_id, outcome)
        mlflow.log_metrics(outcome.metrics)
        with tempfile.TemporaryDirectory() as tmp:
            figures = Path(tmp) / "figures"
            figures.mkdir()
            for figure, png in outcome.figures.items():
                (figures / f"{figure}.png").write_bytes(png.full)
            mlflow.log_artifacts(str(figures), artifact_path="figures")
            if outcome.tags:
                mlflow.set_tags(outcome.tags)
            version = log_detector(
                outcome.fitted, outcome.reference, work_dir=Path(tmp), registered_model_name=name
            )
        passed = outcome.passed
        promote = passed or not has_champion(client, name)
        if promote:
            set_champion(client, name, version)
        mlflow.set_tags({"model_version": version, "champion": promote, "checks_passed": passed})
    record_version(warehouse, version, run.info.run_id, outcome, champion=promote)
    current = version if promote else champion_version(client, name)
    return Registration(version, run.info.run_id, promote, passed, current)


def _log_history(run_id: str, outcome: TrainingOutcome, per_batch: int = 50) -> None:
    """The per-step training metrics, in batches (each with the time it was seen)."""
    from mlflow.entities import Metric

    points = outcome.history
    for i in range(0, len(points), per_batch):
        metrics = [
            Metric(k, v, p.timestamp_ms, p.step)
            for p in points[i : i + per_batch]
            for k, v in p.values.items()
        ]
        if metrics:
            mlflow.MlflowClient().log_batch(run_id, metrics=metrics)


def record_version(
    warehouse: Warehouse, version: int, run_id: str, outcome: TrainingOutcome, *, champion: bool
) -> None:
    """The version's ``model_versions`` row (the champion's row alone has ``is_champion``)."""
    fitted, split, check = outcome.fitted, outcome.split, outcome.check
    op = fitted.operating_point or {}
    row = {
        "model_version": version,
        "run_id": run_id,
        "trained_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "score_name": fitted.score_name,
        "rho": fitted.rho,
        "threshold": float(fitted.threshold),
        "calibration_fpr": fitted.realised_calibration_fpr,
        "heldout_fpr": outcome.heldout_fpr,
        "n_general": outcome.n_general,
        "n_typical": outcome.n_typical,
        "is_champion": champion,
        "checks_passed": outcome.passed,
        "model_dir": f"models:/aco-detector/{version}",
        "false_alarms_per_hour": check.budget_per_hour,
        "threshold_rule": op.get("method"),
        "calibration_hours": op.get("hours"),
        "heldout_hours": check.hours,
        "heldout_alarms": check.n_alarms,
        "heldout_false_alarms_per_hour": check.rate_per_hour,
        "split_unit": split.unit,
        "train_units": json.dumps(list(split.train)),
        "calibration_units": json.dumps(list(split.calibration)),
        "test_units": json.dumps(list(split.test)),
        "typical_selection_id": outcome.reference.typical_selection_id,
    }
    with warehouse.transaction() as con:
        if champion:
            con.execute("UPDATE model_versions SET is_champion = false")
        con.execute("DELETE FROM model_versions WHERE model_version = ?", [version])
        con.register("_row", pa.Table.from_pylist([row]))
        con.execute("INSERT INTO model_versions BY NAME SELECT * FROM _row")
        con.unregister("_row")
