"""How archive files are found and named: the ``YYYY/MM/DD/<name>`` rule and what breaks it.

A file belongs to the archive when its name is a valid ``YYYY-MM-DD--HH.MM.HYD24BBpk`` time
(docs/format.md) of the day its folder says. Any other ``*.HYD24BBpk`` entry of a day folder
(a name that is no time, an impossible date such as ``2016-02-30`` or hour ``25``, a time of
another day) is *misfiled*: it is not read, and it is reported, at WARNING level and as a
:class:`MisfiledFile`, under the day of its folder. A folder that is itself no valid day
(``2016/02/30``, ``2016/13/01``) counts as the nearest valid day (``2016-02-29``,
``2016-12-01``), so every such file lands in some day's report.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from ..storage.paths import AnyPath, relative_posix
from .errors import FileNameError
from .timing import FILE_DURATION_S, FILE_EXTENSION, parse_file_name

logger = logging.getLogger(__name__)

FILE_SPAN = timedelta(seconds=FILE_DURATION_S)
FILE_GLOB = f"*.{FILE_EXTENSION}"
DAY_FOLDERS_GLOB = f"[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]/{FILE_GLOB}"

MisfiledKind = Literal["bad_name", "wrong_folder"]


@dataclass(frozen=True)
class ArchiveFile:
    """One archive file: its path (a :class:`Path`, or a :class:`upath.UPath` on object
    storage) and its nominal start (naive UTC, from its name)."""

    path: AnyPath
    nominal_start_utc: datetime

    @property
    def nominal_end_utc(self) -> datetime:
        return self.nominal_start_utc + FILE_SPAN


@dataclass(frozen=True)
class MisfiledFile:
    """A ``*.HYD24BBpk`` entry of a day folder that the archive rule does not place.

    Attributes
    ----------
    path : Path or UPath
    day : date
        The day it is reported under: its folder's, or the nearest valid day to an impossible
        folder name.
    kind : {"bad_name", "wrong_folder"}
        "bad_name": the name is not a valid time; "wrong_folder": a valid time of another day,
        or a folder that is no valid day.
    reason : str
        One line naming the file (relative to the archive root) and the fix.
    nominal_start_utc : datetime or None
        The time its name says, when it is a valid time.
    """

    path: AnyPath
    day: date
    kind: MisfiledKind
    reason: str
    nominal_start_utc: datetime | None = None


def _clamp(value: int, lo: int, hi: int) -> int:
    return min(max(value, lo), hi)


def folder_day(year: str, month: str, day: str) -> tuple[date, bool]:
    """The day a ``YYYY/MM/DD`` folder stands for, and whether its name is that day exactly.

    An impossible name gives the nearest valid day: each field is clamped in turn (year 1-9999,
    month 1-12, day 1 to the month's length), e.g. ``2016/02/30`` -> 2016-02-29.
    """
    y = _clamp(int(year), 1, 9999)
    m = _clamp(int(month), 1, 12)
    d = _clamp(int(day), 1, calendar.monthrange(y, m)[1])
    return date(y, m, d), (y, m, d) == (int(year), int(month), int(day))


def _folder_of(path: AnyPath, root: AnyPath) -> tuple[date, bool, str] | None:
    """(day, exact, 'YYYY/MM/DD') of the day folder holding ``path``; None outside day folders."""
    try:
        parts = tuple(relative_posix(path.parent, root).split("/"))
    except ValueError:  # the root itself
        return None
    if (
        len(parts) != 3
        or not all(p.isdigit() for p in parts)
        or [len(p) for p in parts] != [4, 2, 2]
    ):
        return None
    day, exact = folder_day(*parts)
    return day, exact, "/".join(parts)


def place(root: AnyPath, path: AnyPath) -> ArchiveFile | MisfiledFile | None:
    """What the archive rule makes of one entry: a file, a misfiled entry, or None outside day
    folders (``YYYY/MM/DD`` below ``root``)."""
    where = _folder_of(path, root)
    if where is None:
        return None
    day, exact, folder = where
    rel = f"{folder}/{path.name}"
    try:
        start = parse_file_name(path.name)
    except FileNameError as e:
        what = (
            f"is not a valid date/time ({e.__cause__})"
            if e.__cause__ is not None
            else f"does not follow YYYY-MM-DD--HH.MM.{FILE_EXTENSION}"
        )
        reason = (
            f"{rel}: the name {what}; not read. Rename it to the UTC start of its first "
            "record (`aco info FILE` shows it) or move it out of the archive"
        )
        return MisfiledFile(path, day, "bad_name", reason)
    if exact and start.date() == day:
        return ArchiveFile(path, start)
    if exact:
        why = f"the name says {start:%Y-%m-%d} but the file lies in {folder}/"
    else:
        why = f"the folder {folder}/ is not a valid day"
    reason = f"{rel}: {why}; not read. Move it to {start:%Y/%m/%d}/"
    return MisfiledFile(path, day, "wrong_folder", reason, start)


def classify(
    root: AnyPath, paths: Iterable[AnyPath]
) -> tuple[list[ArchiveFile], list[MisfiledFile]]:
    """Split the entries of day folders into archive files and misfiled ones (:func:`place`).

    Returns both in order (archive files by nominal start, misfiled by day and path); every
    misfiled entry is logged at WARNING level with its reason.
    """
    placed = [place(root, path) for path in paths]
    files = [f for f in placed if isinstance(f, ArchiveFile)]
    misfiled = [m for m in placed if isinstance(m, MisfiledFile)]
    for m in misfiled:
        logger.warning("%s", m.reason)
    files.sort(key=lambda f: (f.nominal_start_utc, str(f.path)))
    misfiled.sort(key=lambda m: (m.day, str(m.path)))
    return files, misfiled


def _two_digit_dirs(parent: AnyPath) -> list[AnyPath]:
    if not parent.is_dir():
        return []
    return [p for p in parent.iterdir() if p.is_dir() and len(p.name) == 2 and p.name.isdigit()]


def day_folders(root: AnyPath, day: date) -> list[AnyPath]:
    """The folders whose entries belong to ``day``: its own, and impossible names near it.

    Lists directory names only at the edges where clamping can land (the first and last day of
    a month, January and December), so a per-day run never walks the archive tree.
    """
    own = root / f"{day:%Y/%m/%d}"
    month_edge = day.day == 1 or (day + timedelta(days=1)).month != day.month
    year = root / f"{day:%Y}"
    month_dirs = [year / f"{day:%m}"]
    if day.month in (1, 12):
        month_dirs += [
            p
            for p in _two_digit_dirs(year)
            if not 1 <= int(p.name) <= 12 and _clamp(int(p.name), 1, 12) == day.month
        ]
    out = []
    for month_dir in month_dirs:
        if month_dir.name == f"{day:%m}" and not month_edge:
            out.append(own)
            continue
        out += [
            d
            for d in _two_digit_dirs(month_dir)
            if folder_day(year.name, month_dir.name, d.name)[0] == day
        ]
    return out
