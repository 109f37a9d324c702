"""Review folders on object storage: a copy of each published day, for a remote store.

Clips are rendered, published and reviewed in the local ``<data>/review`` folder as ever
(:mod:`aco_assets.review.folders`: symbolic links and renames, which object storage lacks).
When the store is remote (``ACO_STORE_ROOT=s3://...``) each published day is then copied to
``<store>/review/YYYY-MM-DD/`` (a folder kept for its unimported verdicts likewise, under its own
name): every file is uploaded whole, one PUT each, and objects of an earlier render that the new
one lacks are removed only after the new ones are all there.

Pure: the standard library and :mod:`aco_assets.storage.paths`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from aco_assets.storage.paths import AnyPath, relative_posix, write_bytes_atomic

logger = logging.getLogger(__name__)

__all__ = ["upload_folder"]


def upload_folder(local: Path, remote: AnyPath) -> int:
    """Make the objects under ``remote`` the files of ``local``; returns how many were uploaded.

    Parameters
    ----------
    local
        A local folder (followed if it is a symbolic link).
    remote
        Its place on object storage, e.g. ``s3://bucket/aco/review/2016-02-18``.
    """
    root = Path(local).resolve()
    files = {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}
    for name, path in files.items():
        write_bytes_atomic(remote / name, path.read_bytes())
    old = [p for p in remote.rglob("*") if p.is_file()] if remote.exists() else []
    stale = [p for p in old if relative_posix(p, remote) not in files]
    for p in stale:
        p.unlink()
    logger.info(
        "%s: %d files uploaded to %s, %d stale removed", local, len(files), remote, len(stale)
    )
    return len(files)
