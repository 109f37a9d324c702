"""The day folders of ``<data>/review``: each run renders a new folder, published atomically.

A reviewer opens ``review/YYYY-MM-DD/YYYY-MM-DD.selections.txt``. That path is a relative
symbolic link to the folder of the run that rendered it, ``review/.versions/YYYY-MM-DD/<run>/``,
so that a run of ``review_clips`` can

1. render every clip and the table into a new folder of its own (:func:`new_version_dir`),
2. point the ``review_clips`` rows at that folder (the asset does this, in one transaction),
3. swing the link to it in one atomic rename (:func:`publish`),
4. and only then remove the folder it replaced, unless it holds reviewer verdicts that were
   never imported: such a folder is kept, whole, as ``review/YYYY-MM-DD.reviewed-<when>/``
   (:func:`retire`).

A run killed at any step leaves the rows, the link and the files they point at intact; the
half-rendered folder of a killed run is removed by the next run (:func:`remove_leftovers`).
Every path is relative, so a data folder copied with ``cp -a`` keeps working.

Standard library only; datetimes are naive UTC.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)

VERSIONS_DIR = ".versions"


def _stamp() -> str:
    now = dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%S}.{now.microsecond:06d}Z"


def new_version_dir(review_dir: Path, day: dt.date) -> Path:
    """A new, empty folder for one run's render of ``day``."""
    folder = review_dir / VERSIONS_DIR / f"{day:%Y-%m-%d}" / f"{_stamp()}-{os.getpid()}"
    folder.mkdir(parents=True)
    return folder


def current_dir(review_dir: Path, day: dt.date) -> Path | None:
    """The folder a reviewer sees for ``day`` now (the link's target, an older real folder), or None."""
    link = review_dir / f"{day:%Y-%m-%d}"
    if link.is_symlink():
        target = link.parent / os.readlink(link)
        return target if target.is_dir() else None
    return link if link.is_dir() else None


def publish(review_dir: Path, day: dt.date, folder: Path) -> Path | None:
    """Point ``review/<day>`` at ``folder`` in one atomic rename (a relative symbolic link).

    A real ``review/<day>`` folder (written before day folders were versioned) is moved into
    ``.versions`` first, so :func:`retire` can keep or remove it like any other; returns where
    it went (None when there was none).
    """
    link = review_dir / f"{day:%Y-%m-%d}"
    legacy = None
    if link.is_dir() and not link.is_symlink():
        legacy = review_dir / VERSIONS_DIR / f"{day:%Y-%m-%d}" / f"{_stamp()}-legacy"
        link.rename(legacy)
    tmp = review_dir / f".{day:%Y-%m-%d}.link-{os.getpid()}"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(os.path.relpath(folder, review_dir), target_is_directory=True)
    os.replace(tmp, link)
    return legacy


def retire(review_dir: Path, day: dt.date, folder: Path, *, keep: bool) -> Path | None:
    """Remove a replaced day folder, or (``keep``) move it whole to ``review/<day>.reviewed-<when>``.

    Returns the kept folder, or None when it was removed.
    """
    if not folder.is_dir():
        return None
    if not keep:
        shutil.rmtree(folder)
        return None
    kept = review_dir / f"{day:%Y-%m-%d}.reviewed-{_stamp()}"
    folder.rename(kept)
    return kept


def remove_leftovers(review_dir: Path, day: dt.date, *, keep: set[Path]) -> int:
    """Remove the day's version folders other than ``keep`` (runs killed mid-render); how many."""
    versions = review_dir / VERSIONS_DIR / f"{day:%Y-%m-%d}"
    if not versions.is_dir():
        return 0
    kept = {p.resolve() for p in keep}
    stale = [p for p in versions.iterdir() if p.is_dir() and p.resolve() not in kept]
    for p in stale:
        shutil.rmtree(p)
    return len(stale)
