"""The errors of the model registry: one line each, naming the version and the fix.

:class:`NoChampionError` (no alias yet: train one), :class:`DanglingChampionError` (the alias
names a version the registry lacks) and :class:`ModelArtifactError` (the artifact is missing,
truncated or corrupt), and the helpers that word them (the registry's URI, its versions, the
shell command that moves the champion alias).
"""

from __future__ import annotations

from typing import Any

import mlflow

CHAMPION = "champion"

__all__ = ["CHAMPION", "DanglingChampionError", "ModelArtifactError", "ModelRegistryError",
           "NoChampionError", "alias_command", "artifact_error", "registered_versions",
           "registry_uri"]  # fmt: skip


class ModelRegistryError(RuntimeError):
    """Base of the registry's errors; every message is one line naming the fix."""


class NoChampionError(ModelRegistryError, LookupError):
    """The registry has no version carrying the champion alias yet (train one)."""


class DanglingChampionError(ModelRegistryError):
    """The champion alias names a version the registry does not hold (never 'no champion')."""


class ModelArtifactError(ModelRegistryError):
    """A version's artifact is missing, truncated or corrupt."""


def artifact_error(client: Any, mv: Any, reason: str) -> ModelArtifactError:
    """The one-line error of a version that cannot be loaded, with both ways out."""
    name, version = mv.name, int(mv.version)
    others = [v for v in registered_versions(client, name) if v != version]
    way_back = ""
    if others:
        earlier = [v for v in others if v < version]
        back = earlier[-1] if earlier else others[-1]
        command = alias_command(registry_uri(client), name, back)
        way_back = f", or move the {CHAMPION!r} alias to version {back}: {command}"
    reason = " ".join(reason.split())  # one line
    retrain = (
        "" if "aco pipeline --retrain" in reason else "; retrain with `aco pipeline --retrain`"
    )
    return ModelArtifactError(
        f"model version {version} of {name!r} (run {mv.run_id}) cannot be loaded: {reason}"
        f"{retrain}{way_back}"
    )


def registered_versions(client: Any, name: str) -> list[int]:
    try:
        found = client.search_model_versions(f"name = '{name}'")
    except mlflow.exceptions.MlflowException:
        return []
    return sorted(int(v.version) for v in found)


def registry_uri(client: Any) -> str:
    return getattr(client, "_registry_uri", None) or mlflow.get_registry_uri()


def alias_command(uri: str, name: str, version: int | str | None) -> str:
    """The shell command that points the champion alias at ``version`` (None: deletes it)."""
    call = (
        f"delete_registered_model_alias('{name}', '{CHAMPION}')"
        if version is None
        else f"set_registered_model_alias('{name}', '{CHAMPION}', '{version}')"
    )
    return f"`python -c \"import mlflow; mlflow.MlflowClient('{uri}', '{uri}').{call}\"`"
