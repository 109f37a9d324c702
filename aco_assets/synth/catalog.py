"""The ground truth of a synthetic archive: events, faults and the manifest.

Every preset writes, in the archive root:

- ``catalog.parquet`` (and ``catalog.csv`` beside it): one row per acoustic event, schema
  :data:`EVENT_SCHEMA`;
- ``faults.parquet`` (and ``faults.csv``): one row per data fault, schema :data:`FAULT_SCHEMA`;
- ``archive.json``: the generator's parameters.

All times are naive UTC at microsecond precision and give the true time of the samples (a clock
offset fault shifts the header times, not these). ``file`` is the archive-relative posix path of
the file concerned. ``source`` names the recording an event was cut from, relative to the sounds
folder (``orcasound-srkw-call-catalog/FO-S01.flac@1.20s``), or ``synthetic:<generator>``.
``group`` is the ``event_id`` of the first event of the bout, series or train an event belongs to
(its own id when alone).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from aco_assets.storage.paths import as_path, is_remote

CATALOG_NAME = "catalog.parquet"
CATALOG_CSV_NAME = "catalog.csv"
FAULTS_NAME = "faults.parquet"
FAULTS_CSV_NAME = "faults.csv"
MANIFEST_NAME = "archive.json"
#: Faults damaging whole files, injected after writing (:mod:`aco_assets.synth.faults`).
FAULT_CLASSES: tuple[str, ...] = ("truncated_file", "missing_file", "corrupt_width")
#: Every fault class a synthetic archive may list.
ALL_FAULT_CLASSES: tuple[str, ...] = (
    "dropout",
    "spike",
    "dc_step",
    *FAULT_CLASSES,
    "clock_offset",
)
#: Event classes of the synthetic glitches -> the fault class the faults table lists them as
#: (older catalogs listed the glitches among the events). The one definition of these labels.
GLITCH_FAULTS: dict[str, str] = {
    "glitch_dropout": "dropout",
    "glitch_spike": "spike",
    "glitch_dc_step": "dc_step",
}
#: Event classes that are data-quality glitches, not acoustic events.
GLITCH_LABELS: frozenset[str] = frozenset(GLITCH_FAULTS)

EVENT_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.int64(), nullable=False),
        pa.field("class", pa.string(), nullable=False),
        pa.field("start_utc", pa.timestamp("us"), nullable=False),
        pa.field("end_utc", pa.timestamp("us"), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("low_hz", pa.float64(), nullable=False),
        pa.field("high_hz", pa.float64(), nullable=False),
        pa.field("snr_db", pa.float64(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("group", pa.int64(), nullable=False),
    ]
)
FAULT_SCHEMA = pa.schema(
    [
        pa.field("fault_id", pa.int64(), nullable=False),
        pa.field("class", pa.string(), nullable=False),
        pa.field("start_utc", pa.timestamp("us"), nullable=False),
        pa.field("end_utc", pa.timestamp("us"), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
    ]
)
#: The events table's schema (the name the project used before the faults table was split off).
CATALOG_SCHEMA = EVENT_SCHEMA


class CatalogError(ValueError):
    """A catalog, faults table or manifest is missing or does not follow its schema."""


def _write(root: Path, table: pa.Table, name: str, csv_name: str) -> Path:
    path = root / name
    pq.write_table(table, path, compression="zstd")
    pacsv.write_csv(table, root / csv_name)
    return path


def write_catalog(
    root: str | os.PathLike, events: list[dict[str, Any]], faults: list[dict[str, Any]]
) -> tuple[Path, Path]:
    """Number the rows, resolve groups and write both tables as Parquet and CSV.

    Parameters
    ----------
    root : path-like
        Archive root.
    events : list of dict
        One dict per event with every field of :data:`EVENT_SCHEMA` but ``event_id`` and
        ``group``, plus ``group_key`` (any hashable, shared by the events of one bout; None
        means alone). Sorted by (start_utc, class, file, source) and numbered from 0.
    faults : list of dict
        One dict per fault with every field of :data:`FAULT_SCHEMA` but ``fault_id``.

    Returns
    -------
    (Path, Path)
        ``catalog.parquet`` and ``faults.parquet``.
    """
    root = Path(root)
    ordered = sorted(
        events, key=lambda r: (r["start_utc"], r["class"], r["file"], r["source"], r["snr_db"])
    )
    first_of: dict[Any, int] = {}
    for i, row in enumerate(ordered):
        key = row.get("group_key")
        row["event_id"] = i
        row["group"] = i if key is None else first_of.setdefault(key, i)
    columns = {f.name: [r[f.name] for r in ordered] for f in EVENT_SCHEMA}
    ev_table = pa.Table.from_pydict(columns, schema=EVENT_SCHEMA)
    ordered_f = sorted(faults, key=lambda r: (r["start_utc"], r["class"], r["file"]))
    for i, row in enumerate(ordered_f):
        row["fault_id"] = i
    f_table = pa.Table.from_pydict(
        {f.name: [r[f.name] for r in ordered_f] for f in FAULT_SCHEMA}, schema=FAULT_SCHEMA
    )
    return (
        _write(root, ev_table, CATALOG_NAME, CATALOG_CSV_NAME),
        _write(root, f_table, FAULTS_NAME, FAULTS_CSV_NAME),
    )


def _read(path_or_root: str | os.PathLike, name: str, schema: pa.Schema) -> pa.Table:
    path = as_path(path_or_root)  # a local path, or an archive on object storage
    if path.is_dir():
        path = path / name
    if not path.is_file():
        raise CatalogError(f"no {name} at {path}; write one with `aco synth --out DIR`")
    try:
        if is_remote(path):
            with path.open("rb") as f:
                table = pq.read_table(f)
        else:
            table = pq.read_table(path)
    except (OSError, pa.ArrowException) as e:
        raise CatalogError(f"{path}: not a readable Parquet file ({e})") from e
    if not table.schema.equals(schema, check_metadata=False):
        missing = sorted(set(schema.names) - set(table.schema.names))
        raise CatalogError(
            f"{path}: schema differs from the synthetic archive's "
            f"(missing columns {missing}; got {table.schema.names}); rewrite it with `aco synth`"
        )
    return table


def read_catalog(path_or_root: str | os.PathLike) -> pa.Table:
    """Read a synthetic archive's events table.

    Parameters
    ----------
    path_or_root : path-like
        The archive root or the ``catalog.parquet`` file itself.

    Returns
    -------
    pyarrow.Table
        Columns of :data:`EVENT_SCHEMA`, ordered by ``event_id``.

    Raises
    ------
    CatalogError
        If the file is missing or its schema differs (the message names the file).
    """
    return _read(path_or_root, CATALOG_NAME, EVENT_SCHEMA)


def read_faults(path_or_root: str | os.PathLike) -> pa.Table:
    """Read a synthetic archive's faults table (columns of :data:`FAULT_SCHEMA`).

    Raises
    ------
    CatalogError
        If the file is missing or its schema differs (the message names the file).
    """
    return _read(path_or_root, FAULTS_NAME, FAULT_SCHEMA)


def write_manifest(root: str | os.PathLike, manifest: dict[str, Any]) -> Path:
    """Write ``archive.json`` (the generator's parameters) into the archive root."""
    path = Path(root) / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    return path


def read_manifest(root: str | os.PathLike) -> dict[str, Any]:
    """Read ``archive.json``; raise :class:`CatalogError` if the root holds no synthetic archive."""
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        raise CatalogError(f"{root} holds no {MANIFEST_NAME}: not a synthetic archive")
    return json.loads(path.read_text())
