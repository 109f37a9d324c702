"""The local copy of a registered detector version: downloaded once, verified, renamed into place.

An entry ``<data>/models/<run id>-<digest>/`` holds the version's detector directory and
``manifest.json`` (the SHA-256 of each of its files, as verified at download). An entry is used
only while its files still match the manifest and the registered checksums; a bad one is
removed (renamed first, so no reader sees it half-deleted) and downloaded again.
:mod:`aco_assets.storage.model_registry` turns an :class:`ArtifactProblem` into the one-line
error that names the version and the fixes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import mlflow

DETECTOR_DIR = "detector"
REFERENCE_FILE = "reference.json"
MANIFEST_FILE = "manifest.json"  # beside a cached DETECTOR_DIR: the checksums it was verified with

__all__ = ["DETECTOR_DIR", "MANIFEST_FILE", "REFERENCE_FILE", "ArtifactProblem", "cache_problem",
           "download", "remove"]  # fmt: skip


class ArtifactProblem(Exception):
    """Why a version's artifact cannot be used (a reason, not yet the user's error)."""


def cache_problem(target: Path, expected: dict[str, str] | None) -> str | None:
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


def download(source: str, target: Path, expected: dict[str, str] | None) -> None:
    """Download the detector directory of the artifact ``source`` into ``target``: verified,
    then renamed into place.

    Raises
    ------
    ArtifactProblem
        The artifact cannot be read, has no ``reference.json``, or differs from ``expected``.
    """
    from ml.io import file_digests

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        try:
            local = Path(mlflow.artifacts.download_artifacts(source, dst_path=str(tmp / "raw")))
        except (OSError, mlflow.exceptions.MlflowException) as e:
            raise ArtifactProblem(f"its artifact {source} cannot be read ({e})") from None
        found = next(local.rglob(REFERENCE_FILE), None)
        if found is None:
            raise ArtifactProblem(f"its artifact {source} has no {REFERENCE_FILE}")
        entry = tmp / "entry"
        entry.mkdir()
        shutil.move(str(found.parent), str(entry / DETECTOR_DIR))
        actual = file_digests(entry / DETECTOR_DIR)
        if expected is not None and actual != expected:
            bad = sorted(n for n in set(expected) | set(actual) if expected.get(n) != actual.get(n))
            raise ArtifactProblem(
                f"{', '.join(bad)} of its artifact {source} differ from the checksums registered "
                "with it (truncated or corrupt)"
            )
        (entry / MANIFEST_FILE).write_text(json.dumps(actual, sort_keys=True))
        try:
            os.rename(entry, target)
        except OSError:
            if cache_problem(target, expected) is not None:  # not a concurrent identical copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove(target: Path) -> None:
    """Delete a cache entry; renamed first so no reader sees it half-deleted."""
    trash = target.with_name(f".{target.name}.stale")
    shutil.rmtree(trash, ignore_errors=True)
    try:
        os.rename(target, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)
