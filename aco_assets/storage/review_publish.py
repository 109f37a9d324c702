"""Publishing one day of review clips: render, point the rows, swing the link, keep reviewer work.

Reviewer work is never wiped, and a killed run never leaves rows pointing at removed files: each
run renders into a folder of its own, points the ``review_clips`` rows at it, then swings
``review/YYYY-MM-DD`` to it (:mod:`aco_assets.review.folders`). The folder it replaces is
removed, unless its table holds verdicts that are not in ``reviews`` yet: then it is kept whole
as ``review/YYYY-MM-DD.reviewed-<when>/``. Paths in the rows are relative to the data directory,
and ``Begin Path`` in the table to the table's folder. With the store on object storage, each
published day is also copied to ``<store>/review/YYYY-MM-DD/``
(:mod:`aco_assets.storage.review_store`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aco_assets.review.folders import (
    current_dir,
    new_version_dir,
    publish,
    remove_leftovers,
    retire,
)
from aco_assets.review.raven import VerdictError, raven_selection_table, read_verdicts
from aco_assets.review.render import selection_row
from aco_assets.review.review_day import (
    ClipSource,
    RenderedClip,
    pending_verdicts,
    render_day,
    review_clip_rows,
    table_name,
)
from aco_assets.storage.layout import DataLayout
from aco_assets.storage.review_store import upload_folder
from aco_assets.storage.warehouse import Warehouse

__all__ = ["PublishedDay", "publish_review_day", "selections_path", "unimported_verdicts"]


@dataclass(frozen=True)
class PublishedDay:
    """What :func:`publish_review_day` did for one day.

    Attributes
    ----------
    day : the UTC day
    rendered : the detections rendered, rank order
    table : the day's Raven table, through the day's link
    kept : the earlier folder kept for its unimported verdicts (None: none kept)
    pending : why that folder was kept (None: nothing kept)
    leftovers : folders of interrupted runs removed
    """

    day: dt.date
    rendered: tuple[RenderedClip, ...]
    table: Path
    kept: Path | None = None
    pending: str | None = None
    leftovers: int = 0

    @property
    def kept_table(self) -> Path | None:
        return self.kept / table_name(self.day) if self.kept is not None else None

    @property
    def model_versions(self) -> list[int]:
        return sorted({int(c.detection["model_version"]) for c in self.rendered})


def selections_path(layout: DataLayout, day: dt.date) -> Path:
    """The day's Raven selection table, beside its clips (through the day's link)."""
    return layout.review_day_dir(day) / table_name(day)


def unimported_verdicts(warehouse: Warehouse, table: Path) -> str | None:
    """Why ``table`` holds reviewer work not in ``reviews`` yet, or None when it holds none.

    A verdict counts as imported when a ``reviews`` row has the same detection and the same
    verdict and class (:func:`aco_assets.review.review_day.pending_verdicts`).
    """
    if not table.is_file():
        return None
    try:
        verdicts = read_verdicts(table)
    except VerdictError as e:  # a reviewer is part-way through: keep it, do not judge it
        return f"its verdicts do not read ({e})"
    if not verdicts:
        return None
    reviews = warehouse.query(
        "SELECT detection_id, begin_utc, verdict, coalesce(class_name, '') AS class_name "
        "FROM reviews"
    ).to_pylist()
    pending = pending_verdicts(verdicts, reviews)
    if not pending:
        return None
    return f"{len(pending)} of its {len(verdicts)} verdict(s) are not imported"


def publish_review_day(
    layout: DataLayout,
    warehouse: Warehouse,
    archive: ClipSource,
    day: dt.date,
    *,
    top_k: int,
    context_s: float,
    max_duration_s: float,
    front_end: Callable[[int], Mapping[str, Any]],
    workers: int = 1,
) -> PublishedDay:
    """Render the ``top_k`` detections of ``day`` and publish them (see the module docstring).

    The clips are rendered on ``workers`` processes. ``front_end(model_version)`` gives the
    Raven columns of a model's front end
    (:func:`aco_assets.review.review_day.front_end_params`); the newest version of the day's
    detections names them.
    """
    dets = warehouse.query(
        "SELECT * FROM detections WHERE day = ? AND rank_in_day <= ? ORDER BY rank_in_day",
        [day, top_k],
    ).to_pylist()
    review_dir = layout.review_dir
    old = current_dir(review_dir, day)
    leftovers = remove_leftovers(review_dir, day, keep={old} if old else set())
    directory = new_version_dir(review_dir, day)
    rendered = render_day(
        archive, dets, directory, context_s=context_s, max_duration_s=max_duration_s,
        workers=workers,
    )  # fmt: skip
    versions = sorted({int(d["model_version"]) for d in dets})
    raven = directory / table_name(day)
    raven_selection_table(
        [selection_row({**c.detection, "rank": c.detection["rank_in_day"]}, c.render)
         for c in rendered],
        raven,
        front_end_params=dict(front_end(versions[-1])) if versions else {},
    )  # fmt: skip
    pending = unimported_verdicts(warehouse, old / table_name(day)) if old else None
    warehouse.replace_rows(
        "review_clips",
        review_clip_rows(day, rendered, raven, layout.data_dir),
        where="day = ?",
        params=[day],
    )
    old = publish(review_dir, day, directory) or old  # an unversioned folder moves
    kept = retire(review_dir, day, old, keep=pending is not None) if old else None
    if layout.store_is_remote:  # a copy of what was published, for a store on S3
        upload_folder(directory, layout.review_store_dir / f"{day:%Y-%m-%d}")
        if kept is not None:
            upload_folder(kept, layout.review_store_dir / kept.name)
    return PublishedDay(
        day=day,
        rendered=rendered,
        table=selections_path(layout, day),
        kept=kept,
        pending=pending if kept is not None else None,
        leftovers=leftovers,
    )
