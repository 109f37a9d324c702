"""Coverage of a UTC day: its 288 five-minute slots, the missing ones, and the coverage row.

One definition for :meth:`.archive.Archive.coverage` (from the archive's names and headers) and
the ``raw_files`` asset's ``coverage`` table row (from its ``raw_files`` rows). All datetimes are
naive UTC.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from typing import Any

from .listing import FILE_SPAN
from .timing import FILE_DURATION_S, FILES_PER_DAY, SAMPLE_RATE_HZ

SAMPLES_PER_FILE = round(FILE_DURATION_S * SAMPLE_RATE_HZ)  # what an unread file should hold
NOT_READ = ("unreadable", "misfiled")  # statuses of files of which nothing is decoded


def day_slots(day: date) -> list[datetime]:
    """The nominal starts of the day's 288 five-minute files, in time order."""
    t0 = datetime.combine(day, time())
    return [t0 + i * FILE_SPAN for i in range(FILES_PER_DAY)]


def missing_starts(day: date, nominal_starts: Iterable[datetime]) -> list[datetime]:
    """The day's slots that no file of ``nominal_starts`` fills, in time order."""
    present = set(nominal_starts)
    return [t for t in day_slots(day) if t not in present]


def day_coverage(
    day: date, nominal_starts: Sequence[datetime], rows: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The coverage row of a day: expected 288 files, found, missing, faulty, unreadable, misfiled.

    ``nominal_starts`` are those of the day's files (misfiled entries excluded); ``rows`` are
    all its ``raw_files`` rows. ``faulty`` counts every file that is not 'ok', ``unreadable``
    those of which nothing decodes, ``misfiled`` those the archive rule does not place (not in
    ``found``). The decodable share counts an unreadable or misfiled file as a file's worth of
    samples of which none is decoded, so that a day of unreadable files is not "100 %".
    """
    missing = missing_starts(day, nominal_starts)
    samples = decoded = 0
    for r in rows:
        if r["status"] in NOT_READ:
            samples += r["n_samples"] or SAMPLES_PER_FILE
        else:
            samples += r["n_samples"]
            decoded += r["n_samples"] - r["n_missing_samples"]
    return {
        "day": day,
        "expected": FILES_PER_DAY,
        "found": sum(r["status"] != "misfiled" for r in rows),
        "missing": len(missing),
        "faulty": sum(r["status"] != "ok" for r in rows),
        "unreadable": sum(r["status"] == "unreadable" for r in rows),
        "misfiled": sum(r["status"] == "misfiled" for r in rows),
        "decodable_share": (decoded / samples) if samples else (0.0 if rows else None),
        "missing_starts": json.dumps([t.isoformat() for t in missing]),
    }
