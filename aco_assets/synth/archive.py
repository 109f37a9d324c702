"""Write a synthetic ACO archive: files in the real format and tree, plus the ground truth.

Every file gets its own random stream, seeded by (seed, nominal start), so a file's bytes depend
only on the seed and its time (and the preset's ``rate_scale``); same seed, same bytes.
Faults are injected after writing: a missing file (not written), a truncated file (bytes cut inside
a record) and a corrupt width (byte 35 of one record header set to 0).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from aco_assets.hydrophone import (
    SAMPLE_RATE_HZ,
    SAMPLES_PER_RECORD,
    archive_path_for,
    write_file,
)
from aco_assets.synth.catalog import FAULT_CLASSES, GLITCH_FAULTS, write_catalog, write_manifest
from aco_assets.synth.errors import SynthError
from aco_assets.synth.events import SOURCES
from aco_assets.synth.faults import fault_plan, fault_row, inject
from aco_assets.synth.hardness import file_rng
from aco_assets.synth.render import FileContent, PlacedEvent, render_file
from aco_assets.synth.schedule import file_starts

logger = logging.getLogger(__name__)

SYNTH_VERSION = "1"
PresetName = Literal["test", "demo", "full", "realistic"]
LAYOUT_B_FROM = dt.datetime(2016, 12, 1)
_COUNTER_EPOCH = dt.datetime(2015, 1, 1)


@dataclass(frozen=True)
class ArchivePreset:
    """A named archive shape.

    Attributes
    ----------
    blocks : tuple of (date, int)
        Runs of consecutive days: (first day, number of days).
    files_per_day : int
        Files written per day (288 = every 5-minute slot).
    faults : bool
        Whether faults are injected by default.
    rate_scale : float
        Multiplier of every event rate (the small ``test`` archive raises it).
    """

    blocks: tuple[tuple[dt.date, int], ...]
    files_per_day: int
    faults: bool
    rate_scale: float = 1.0


PRESETS: dict[str, ArchivePreset] = {
    # Two days across the layout change (A on 30 Nov 2016, B on 1 Dec), blue whale and humpback
    # season, rates raised so that several classes appear in six files.
    "test": ArchivePreset(
        ((dt.date(2016, 11, 30), 2),), files_per_day=3, faults=False, rate_scale=10.0
    ),
    # Five seasons of three days, eight files a day (two in the HST evening): 120 files.
    "demo": ArchivePreset(
        (
            (dt.date(2016, 2, 14), 3),  # humpback, blue whale and minke season (layout A)
            (dt.date(2016, 7, 19), 3),  # low-traffic summer, no whales
            (dt.date(2016, 11, 29), 3),  # blue whale season, crossing into layout B
            (dt.date(2017, 3, 14), 3),  # humpback peak
            (dt.date(2017, 8, 15), 3),  # low-traffic summer
        ),
        files_per_day=8,
        faults=True,
    ),
    "full": ArchivePreset(((dt.date(2017, 3, 1), 1),), files_per_day=288, faults=False),
    # Built from real recordings (:mod:`aco_assets.synth.realistic`): fourteen days, eight files
    # a day (two in the HST evening), whale season and low-traffic summer in both header layouts;
    # enough days for eight training, two calibration and four test days.
    "realistic": ArchivePreset(
        (
            (dt.date(2016, 2, 14), 3),  # humpback and blue whale season (layout A)
            (dt.date(2016, 7, 19), 3),  # low-traffic summer, no whales (layout A)
            (dt.date(2017, 1, 17), 3),  # humpback and blue whale season (layout B)
            (dt.date(2017, 3, 14), 3),  # humpback peak (layout B)
            (dt.date(2017, 8, 15), 2),  # low-traffic summer (layout B)
        ),
        files_per_day=8,
        faults=True,
    ),
}


@dataclass(frozen=True)
class ArchiveSummary:
    """What :func:`write_archive` wrote.

    Attributes
    ----------
    root, catalog_path, faults_path, manifest_path : Path
        Archive root, its ``catalog.parquet``, ``faults.parquet`` and ``archive.json``.
    n_files : int
        Files present on disk (a missing-file fault is not counted).
    n_events, n_faults : int
        Rows of the events and of the faults table.
    days : tuple of date
        Every day the archive covers.
    """

    root: Path
    catalog_path: Path
    faults_path: Path
    manifest_path: Path
    n_files: int
    n_events: int
    n_faults: int
    days: tuple[dt.date, ...]


def _days(preset: ArchivePreset, start: dt.date | None, days: int | None) -> list[dt.date]:
    if days is not None and days < 1:
        raise SynthError(f"days={days} must be at least 1")
    if start is None and days is None:
        blocks = preset.blocks
    else:
        first, n_default = preset.blocks[0]
        blocks = ((start or first, days or n_default),)
    return sorted({d + dt.timedelta(days=i) for d, n in blocks for i in range(n)})


def _rows(rel: str, start_utc: dt.datetime, events: list[PlacedEvent]) -> list[dict]:
    """Event rows (``table="event"``) and glitch fault rows (``table="fault"``) of one file."""

    def at(sample: int) -> dt.datetime:
        return start_utc + dt.timedelta(microseconds=round(sample * 1e6 / SAMPLE_RATE_HZ))

    rows = []
    for e in events:
        span = dict(start_utc=at(e.start_sample), end_utc=at(e.start_sample + e.n_samples))
        source = e.source or f"synthetic:{SOURCES[e.label].__name__}"
        if e.label in GLITCH_FAULTS:
            detail = f"{source}, band {e.f_low_hz:g}-{e.f_high_hz:g} Hz, SNR {e.snr_db:.1f} dB"
            rows.append(
                {
                    "table": "fault",
                    "class": GLITCH_FAULTS[e.label],
                    "file": rel,
                    "detail": detail,
                    **span,
                }
            )
            continue
        rows.append(
            {
                "table": "event",
                "class": e.label,
                "source": source,
                "low_hz": e.f_low_hz,
                "high_hz": e.f_high_hz,
                "snr_db": e.snr_db,
                "file": rel,
                "group_key": None if e.group < 0 else (rel, e.group),
                **span,
            }
        )
    return rows


def synthesize_file(
    nominal: dt.datetime, *, seed: int = 0, rate_scale: float = 1.0
) -> tuple[dt.datetime, np.ndarray, list[PlacedEvent], np.random.Generator]:
    """The content of the archive file with nominal start ``nominal``, exactly as written.

    Parameters
    ----------
    nominal : datetime
        Nominal start (the file name's time), naive UTC.
    seed : int
        Archive seed.
    rate_scale : float
        The preset's event-rate multiplier.

    Returns
    -------
    start_utc : datetime
        Time of sample 0 (the nominal start plus up to 0.1 s, as real headers drift).
    samples : ndarray, shape (n,), int32
        Raw counts; n = 4096 x 1757 or 1758 records (5 minutes = 1757.8 records).
    placed : list of PlacedEvent
        The events in it.
    rng : numpy.random.Generator
        The file's random stream after rendering (the fault injection continues it).
    """
    rng = file_rng(seed, nominal)
    n_records = 1758 if rng.random() < 0.8125 else 1757  # 7 200 000 samples = 1757.8 records
    start_utc = nominal + dt.timedelta(microseconds=int(rng.integers(0, 100_000)))
    samples, placed = render_file(
        start_utc, n_records * SAMPLES_PER_RECORD, rng, rate_scale=rate_scale
    )
    return start_utc, samples, placed, rng


FileSynth = Callable[[dt.datetime], FileContent]


def _write_one(root: Path, nominal: dt.datetime, synth: FileSynth, fault: str | None) -> list[dict]:
    """Render, write and (optionally) damage one file; return its event and fault rows."""
    content = synth(nominal)
    rel = archive_path_for(nominal)
    path = root / rel
    counter = int((nominal - _COUNTER_EPOCH).total_seconds() * SAMPLE_RATE_HZ) // SAMPLES_PER_RECORD
    offset = dt.timedelta(microseconds=round(content.header_offset_s * 1e6))
    write_file(
        path,
        content.samples,
        start_utc=content.start_utc + offset,
        layout="A" if nominal < LAYOUT_B_FROM else "B",
        first_counter=counter % 2**32,
    )
    rows = _rows(rel, content.start_utc, content.placed)
    if offset:
        detail = f"header times {content.header_offset_s:+.3f} s from the true sample times"
        rows.append(
            fault_row("clock_offset", rel, content.start_utc, 0, content.samples.size, detail)
        )
    if fault is not None:
        rows.append(inject(fault, path, content.samples, rows, content.rng, rel, content.start_utc))
    return rows


def _file_synth(
    preset: str, spec: ArchivePreset, seed: int, sounds: str | os.PathLike | None, hardness: object
) -> FileSynth:
    """The per-file content function of a preset (the realistic one loads its recordings once)."""
    if preset == "realistic":
        from aco_assets.synth.realistic import realistic_synth

        return realistic_synth(sounds, seed=seed, hardness=hardness)

    def synth(nominal: dt.datetime) -> FileContent:
        return FileContent(*synthesize_file(nominal, seed=seed, rate_scale=spec.rate_scale))

    return synth


def _nominals(spec: ArchivePreset, start, days, files_per_day) -> tuple[list, list, int]:
    day_list = _days(spec, start, days)
    per_day = files_per_day or spec.files_per_day
    try:
        nominals = [t for d in day_list for t in file_starts(d, per_day)]
    except ValueError as e:
        raise SynthError(str(e)) from e
    return day_list, nominals, per_day


def write_archive(
    out_dir: str | os.PathLike,
    *,
    preset: PresetName = "demo",
    start: dt.date | None = None,
    days: int | None = None,
    files_per_day: int | None = None,
    seed: int = 0,
    faults: bool | None = None,
    sounds: str | os.PathLike | None = None,
    hardness: object = None,
    progress: bool | Callable[[int, int], None] = False,
) -> ArchiveSummary:
    """Write a synthetic ACO archive with its tables of events and faults.

    Parameters
    ----------
    out_dir : path-like
        Archive root; files go to ``YYYY/MM/DD/YYYY-MM-DD--HH.MM.HYD24BBpk`` beneath it, with
        ``catalog.parquet``/``.csv``, ``faults.parquet``/``.csv`` and ``archive.json`` at the
        top. Existing files of the same names are overwritten; nothing else is deleted.
    preset : {"test", "demo", "full", "realistic"}
        Archive shape (:data:`PRESETS`); ``realistic`` builds files from the real recordings in
        ``sounds`` (:mod:`aco_assets.synth.realistic`).
    start, days : date, int, optional
        Replace the preset's days by ``days`` consecutive days from ``start`` (either may be given;
        the other comes from the preset's first block).
    files_per_day : int, optional
        Files per day (1-288); default from the preset.
    seed : int
        Seed of every random draw: same seed and parameters, same bytes.
    faults : bool, optional
        Inject file faults (``max(1, n_files // 60)`` each of missing, truncated, corrupt width);
        default from the preset (off for fewer than three files).
    sounds : path-like, optional
        The recordings folder (laid out like ``shared/data``); required by ``realistic``.
    hardness : aco_assets.synth.hardness.Hardness, optional
        Which hardness factors the realistic preset adds (default: all).
    progress : bool or callable
        True shows a tqdm bar; a callable is called as ``progress(done, total)`` after each file.

    Returns
    -------
    ArchiveSummary

    Raises
    ------
    SynthError
        For an unknown preset, ``days < 1``, faults requested with fewer than three files, or a
        realistic preset without its recordings (the message names the missing file).
    """
    if preset not in PRESETS:
        raise SynthError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    spec = PRESETS[preset]
    day_list, nominals, per_day = _nominals(spec, start, days, files_per_day)
    # the preset's default gives way for archives too small to hold every file fault
    with_faults = spec.faults and len(nominals) >= len(FAULT_CLASSES) if faults is None else faults
    if with_faults and len(nominals) < len(FAULT_CLASSES):
        raise SynthError(f"faults need at least {len(FAULT_CLASSES)} files, got {len(nominals)}")
    synth = _file_synth(preset, spec, seed, sounds, hardness)
    plan = fault_plan(len(nominals), np.random.default_rng([seed, 0xFA17])) if with_faults else {}
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(nominals), desc="synth", unit="file")
    for i, nominal in enumerate(nominals):
        rows.extend(_write_one(root, nominal, synth, plan.get(i)))
        if bar is not None:
            bar.update()
        elif callable(progress):
            progress(i + 1, len(nominals))
    if bar is not None:
        bar.close()
    events = [r for r in rows if r["table"] == "event"]
    fault_rows = [r for r in rows if r["table"] == "fault"]
    catalog_path, faults_path = write_catalog(root, events, fault_rows)
    n_present = len(nominals) - sum(f == "missing_file" for f in plan.values())
    manifest_path = write_manifest(
        root,
        dict(
            generator="aco_assets.synth",
            version=SYNTH_VERSION,
            preset=preset,
            seed=seed,
            days=[d.isoformat() for d in day_list],
            files_per_day=per_day,
            faults=with_faults,
            rate_scale=spec.rate_scale,
            sample_rate_hz=SAMPLE_RATE_HZ,
            n_files=n_present,
            n_events=len(events),
            n_faults=len(fault_rows),
            catalog=catalog_path.name,
            faults_table=faults_path.name,
            **({"hardness": repr(hardness)} if preset == "realistic" else {}),
        ),
    )
    logger.info(
        "wrote %d files, %d events, %d faults under %s",
        n_present,
        len(events),
        len(fault_rows),
        root,
    )
    return ArchiveSummary(
        root,
        catalog_path,
        faults_path,
        manifest_path,
        n_present,
        len(events),
        len(fault_rows),
        tuple(day_list),
    )
