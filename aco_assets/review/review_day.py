"""One day of review clips: what to render, rendering it, its rows, its pending verdicts.

The pure half of the ``review_clips`` stage (the warehouse and the folders are
:mod:`aco_assets.storage.review_publish`): for a day's top detections (dicts of ``detections``
rows), the span of audio each clip holds (:func:`clip_span`), the clips and pictures rendered
from an archive (:func:`render_day`), the day's ``review_clips`` rows (:func:`review_clip_rows`),
the front-end columns of its Raven table (:func:`front_end_params`), and which verdicts of an
earlier table are not imported yet (:func:`pending_verdicts`).

Pure: pyarrow, the hydrophone archive and :mod:`aco_assets.review.render`; datetimes naive UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from aco_assets.review.render import (
    ReviewRender,
    ReviewVerdict,
    render_review,
    review_clip_name,
    review_span,
)
from aco_assets.signal.pool import map_files

__all__ = [
    "MATCH_TOLERANCE_S",
    "RAVEN_FRONT_END_KEYS",
    "RenderedClip",
    "clip_span",
    "front_end_params",
    "pending_verdicts",
    "render_day",
    "review_clip_rows",
    "table_name",
]

#: Front-end settings written as columns of the Raven table (prefixed ``fe_``).
RAVEN_FRONT_END_KEYS: tuple[str, ...] = (
    "sample_rate_hz", "window_s", "n_bands", "f_min_hz", "f_max_hz", "nfft", "hop_samples",
)  # fmt: skip
#: Largest Begin UTC difference between a verdict and its imported ``reviews`` row, s.
MATCH_TOLERANCE_S = 0.5


class ClipSource(Protocol):
    """What :func:`render_day` needs of ``aco_assets.hydrophone.Archive``."""

    def load(self, start: dt.datetime, duration_s: float, *, on_fault: str = ...) -> Any: ...


@dataclass(frozen=True)
class RenderedClip:
    """One rendered detection: its ``detections`` row and the files written for it."""

    detection: Mapping[str, Any]
    render: ReviewRender


def table_name(day: dt.date) -> str:
    """The file name of the day's Raven selection table."""
    return f"{day:%Y-%m-%d}.selections.txt"


def clip_span(
    det: Mapping[str, Any], *, context_s: float, max_duration_s: float
) -> tuple[dt.datetime, float]:
    """Start (naive UTC) and length (s) of the audio to load for a detection (:func:`review_span`)."""
    start, end = review_span(
        det["start_utc"],
        det["end_utc"],
        peak_utc=det.get("peak_utc"),
        context_s=context_s,
        max_duration_s=max_duration_s,
    )
    return start, (end - start).total_seconds()


def front_end_params(reference: Mapping[str, Any]) -> dict[str, Any]:
    """The Raven columns of a model's front end, from its ``reference`` dict."""
    front_end = reference["front_end"]
    return {f"fe_{k}": front_end[k] for k in RAVEN_FRONT_END_KEYS if k in front_end}


def render_day(
    archive: ClipSource,
    dets: Sequence[Mapping[str, Any]],
    directory: Path,
    *,
    context_s: float,
    max_duration_s: float,
    workers: int = 1,
) -> tuple[RenderedClip, ...]:
    """Render every detection of ``dets`` (rank order) into ``directory``, on ``workers``
    processes (:func:`aco_assets.signal.pool.map_files`; results in ``dets`` order)."""
    rendered = map_files(
        render_detection, list(dets), archive, directory, context_s, max_duration_s,
        workers=workers,
    )  # fmt: skip
    return tuple(rendered)


def render_detection(
    det: Mapping[str, Any],
    archive: ClipSource,
    directory: Path,
    context_s: float,
    max_duration_s: float,
) -> RenderedClip:
    """Load one detection's audio (with context) from ``archive`` and render its clip."""
    start, length = clip_span(det, context_s=context_s, max_duration_s=max_duration_s)
    clip = archive.load(start, length, on_fault="warn")
    name = review_clip_name(det["rank_in_day"], det["start_utc"])
    render = render_review(
        clip,
        {**det, "rank": det["rank_in_day"]},
        wav_path=directory / name,
        png_path=directory / Path(name).with_suffix(".png"),
        context_s=context_s,
        max_duration_s=max_duration_s,
    )
    return RenderedClip(det, render)


def review_clip_rows(
    day: dt.date, rendered: Sequence[RenderedClip], raven: Path, data_dir: Path
) -> pa.Table:
    """The day's ``review_clips`` rows; paths relative to the data directory."""
    if not rendered:
        return pa.table({"day": pa.array([], pa.date32())})

    def rel(p: Path) -> str:
        return Path(p).relative_to(data_dir).as_posix()

    return pa.Table.from_pylist(
        [
            {
                "day": day,
                "detection_id": c.detection["detection_id"],
                "rank_in_day": c.detection["rank_in_day"],
                "wav_path": rel(c.render.wav_path),
                "png_path": rel(c.render.png_path),
                "raven_path": rel(raven),
                "clip_start_utc": c.render.clip_start_utc,
                "clip_end_utc": c.render.clip_start_utc
                + dt.timedelta(seconds=c.render.clip_duration_s),
                "model_version": c.detection["model_version"],
            }
            for c in rendered
        ]
    )


def pending_verdicts(
    verdicts: Sequence[ReviewVerdict], reviews: Sequence[Mapping[str, Any]]
) -> list[ReviewVerdict]:
    """The ``verdicts`` no ``reviews`` row holds yet.

    A verdict counts as imported when a ``reviews`` row (dicts with ``detection_id``,
    ``begin_utc``, ``verdict``, ``class_name``) has the same detection (by ``detection_id`` and
    start, or by start alone) and the same verdict and class.
    """
    return [v for v in verdicts if not any(_same(v, r) for r in reviews)]


def _same(v: ReviewVerdict, r: Mapping[str, Any]) -> bool:
    if (v.verdict, v.class_name or "") != (r["verdict"], r["class_name"] or ""):
        return False
    if v.detection_id is not None and v.detection_id != r["detection_id"]:
        return False
    if v.begin_utc is None or r["begin_utc"] is None:
        return v.detection_id is not None
    return abs((v.begin_utc - r["begin_utc"]).total_seconds()) <= MATCH_TOLERANCE_S
