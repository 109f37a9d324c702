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
verified again on every load (a truncated cached file is dropped and downloaded again).

Errors are one line that names the version and the fix: :class:`NoChampionError` (no alias yet:
train one), :class:`DanglingChampionError` (the alias names a version the registry lacks) and
:class:`ModelArtifactError` (the artifact is missing, truncated or corrupt). They carry the
cause's message and are raised ``from None``: ``aco pipeline`` reports the innermost error of a
failed step, and that must be this line, not torch's or MLflow's.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np

logger = logging.getLogger(__name__)

CHAMPION = "champion"
DETECTOR_DIR = "detector"
REFERENCE_FILE = "reference.json"
CHECKSUM_TAG = "detector_files_sha256"  # model version tag: {file name: sha256} of DETECTOR_DIR
MANIFEST_FILE = "manifest.json"  # beside a cached DETECTOR_DIR: the checksums it was verified with
_NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"


class ModelRegistryError(RuntimeError):
    """Base of the registry's errors; every message is one line naming the fix."""


class NoChampionError(ModelRegistryError, LookupError):
    """The registry has no version carrying the champion alias yet (train one)."""


class DanglingChampionError(ModelRegistryError):
    """The champion alias names a version the registry does not hold (never 'no champion')."""


class ModelArtifactError(ModelRegistryError):
    """A version's artifact is missing, truncated or corrupt."""


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
    digest: str | None = None  # of the registered checksums; None for versions logged without


def log_detector(
    fitted: Any, reference: dict[str, Any], *, work_dir: Path, registered_model_name: str
) -> int:
    """Log the fitted detector to the active MLflow run and register it; returns the version.

    The version carries the SHA-256 of every file it holds (tag ``detector_files_sha256``).
    """
    from ml.io import file_digests

    model_dir = work_dir / DETECTOR_DIR
    if model_dir.exists():
        shutil.rmtree(model_dir)
    fitted.save(model_dir)
    (model_dir / REFERENCE_FILE).write_text(json.dumps(reference))
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
        versions = _versions(client, name)
        uri = _registry_uri(client)
        raise DanglingChampionError(
            f"the {CHAMPION!r} alias of {name!r} points at version {version}, which the registry "
            f"{uri} does not hold (versions: {', '.join(map(str, versions)) or 'none'}): point it "
            f"at one with {_alias_command(uri, name, versions[-1] if versions else 'N')}, or "
            f"delete it with {_alias_command(uri, name, None)} and train a new champion with "
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
            f"model version {version} of {name!r} is not in the registry {_registry_uri(client)} "
            "(versions: " + (", ".join(map(str, _versions(client, name))) or "none") + "): "
            "set MLFLOW_TRACKING_URI to the store that trained it, or rescore the days with the "
            "champion (`aco pipeline`)"
        ) from None
    expected = _registered_digests(mv)
    digest = _digest(expected) if expected is not None else None
    target = cache_dir / (f"{mv.run_id}-{digest[:16]}" if digest else mv.run_id)
    reason = _cache_problem(target, expected)
    if reason is not None:
        if target.exists():
            logger.warning("cached model version %s at %s: %s; downloading it again",
                           version, target, reason)  # fmt: skip
            _remove(target)
        _download(client, mv, target, expected)
    directory = target / DETECTOR_DIR
    try:
        detector = FittedDetector.load(directory)
        reference = json.loads((directory / REFERENCE_FILE).read_text())
    except (ModelFileError, ValueError) as e:
        _remove(target)  # never keep a copy that does not load
        raise _artifact_error(client, mv, str(e)) from None
    return LoadedDetector(version, mv.run_id, detector, reference, directory, digest)


def load_champion(client: Any, name: str, *, cache_dir: Path) -> LoadedDetector:
    return load_version(client, name, champion_version(client, name), cache_dir=cache_dir)


def _registered_digests(mv: Any) -> dict[str, str] | None:
    text = (mv.tags or {}).get(CHECKSUM_TAG)
    return json.loads(text) if text else None


def _digest(digests: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()


def _cache_problem(target: Path, expected: dict[str, str] | None) -> str | None:
    """Why the cached copy at ``target`` cannot be used (None: it can)."""
    from ml.io import file_digests

    manifest = target / MANIFEST_FILE
    if not manifest.is_file():
        return "not cached" if not target.exists() else "incomplete"
    try:
        recorded = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return f"{MANIFEST_FILE} is unreadable"
    if expected is not None and recorded != expected:
        return "its checksums differ from the registered ones"
    try:
        actual = file_digests(target / DETECTOR_DIR)
    except OSError as e:
        return str(e)
    bad = sorted(n for n in set(recorded) | set(actual) if recorded.get(n) != actual.get(n))
    return f"{', '.join(bad)} changed since download (truncated?)" if bad else None


def _download(client: Any, mv: Any, target: Path, expected: dict[str, str] | None) -> None:
    """Download ``mv``'s detector directory into ``target``: verified, then renamed into place."""
    from ml.io import file_digests

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        source = client.get_model_version_download_uri(mv.name, mv.version)
        try:
            local = Path(mlflow.artifacts.download_artifacts(source, dst_path=str(tmp / "raw")))
        except (OSError, mlflow.exceptions.MlflowException) as e:
            raise _artifact_error(
                client, mv, f"its artifact {source} cannot be read ({e})"
            ) from None
        found = next(local.rglob(REFERENCE_FILE), None)
        if found is None:
            raise _artifact_error(client, mv, f"its artifact {source} has no {REFERENCE_FILE}")
        entry = tmp / "entry"
        entry.mkdir()
        shutil.move(str(found.parent), str(entry / DETECTOR_DIR))
        actual = file_digests(entry / DETECTOR_DIR)
        if expected is not None and actual != expected:
            bad = sorted(n for n in set(expected) | set(actual) if expected.get(n) != actual.get(n))
            raise _artifact_error(
                client, mv, f"{', '.join(bad)} of its artifact {source} differ from the "
                "checksums registered with it (truncated or corrupt)",
            )  # fmt: skip
        (entry / MANIFEST_FILE).write_text(json.dumps(actual, sort_keys=True))
        try:
            os.rename(entry, target)
        except OSError:
            if _cache_problem(target, expected) is not None:  # not a concurrent identical copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _remove(target: Path) -> None:
    """Delete a cache entry; renamed first so no reader sees it half-deleted."""
    trash = target.with_name(f".{target.name}.stale")
    shutil.rmtree(trash, ignore_errors=True)
    try:
        os.rename(target, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _artifact_error(client: Any, mv: Any, reason: str) -> ModelArtifactError:
    """The one-line error of a version that cannot be loaded, with both ways out."""
    name, version = mv.name, int(mv.version)
    others = [v for v in _versions(client, name) if v != version]
    way_back = ""
    if others:
        earlier = [v for v in others if v < version]
        back = earlier[-1] if earlier else others[-1]
        command = _alias_command(_registry_uri(client), name, back)
        way_back = f", or move the {CHAMPION!r} alias to version {back}: {command}"
    reason = " ".join(reason.split())  # one line
    retrain = (
        "" if "aco pipeline --retrain" in reason else "; retrain with `aco pipeline --retrain`"
    )
    return ModelArtifactError(
        f"model version {version} of {name!r} (run {mv.run_id}) cannot be loaded: {reason}"
        f"{retrain}{way_back}"
    )


def _versions(client: Any, name: str) -> list[int]:
    try:
        found = client.search_model_versions(f"name = '{name}'")
    except mlflow.exceptions.MlflowException:
        return []
    return sorted(int(v.version) for v in found)


def _registry_uri(client: Any) -> str:
    return getattr(client, "_registry_uri", None) or mlflow.get_registry_uri()


def _alias_command(uri: str, name: str, version: int | str | None) -> str:
    """The shell command that points the champion alias at ``version`` (None: deletes it)."""
    call = (
        f"delete_registered_model_alias('{name}', '{CHAMPION}')"
        if version is None
        else f"set_registered_model_alias('{name}', '{CHAMPION}', '{version}')"
    )
    return f"`python -c \"import mlflow; mlflow.MlflowClient('{uri}', '{uri}').{call}\"`"
