"""The ground-truth catalog of a synthetic archive: ``catalog.parquet`` and ``archive.json``.

One row per placed event and per injected fault (schema :data:`CATALOG_SCHEMA`); all times naive
UTC at microsecond precision; ``file`` is the archive-relative posix path of the file concerned.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

CATALOG_NAME = "catalog.parquet"
MANIFEST_NAME = "archive.json"
FAULT_CLASSES: tuple[str, ...] = ("truncated_file", "missing_file", "corrupt_width")

CATALOG_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.int64(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # "event" | "fault"
        pa.field("label", pa.string(), nullable=False),
        pa.field("start_utc", pa.timestamp("us"), nullable=False),
        pa.field("end_utc", pa.timestamp("us"), nullable=False),
        pa.field("f_low_hz", pa.float64()),
        pa.field("f_high_hz", pa.float64()),
        pa.field("snr_db", pa.float64()),  # NaN for faults
        pa.field("file", pa.string(), nullable=False),
    ]
)


class CatalogError(ValueError):
    """A catalog or manifest is missing or does not follow :data:`CATALOG_SCHEMA`."""


def write_catalog(root: str | os.PathLike, rows: list[dict[str, Any]]) -> Path:
    """Sort rows by (start_utc, kind, label, file), number them and write ``catalog.parquet``.

    Parameters
    ----------
    root : path-like
        Archive root.
    rows : list of dict
        One dict per event or fault with every field of :data:`CATALOG_SCHEMA` but ``event_id``.

    Returns
    -------
    Path
        The catalog written.
    """
    ordered = sorted(rows, key=lambda r: (r["start_utc"], r["kind"], r["label"], r["file"]))
    for i, row in enumerate(ordered):
        row["event_id"] = i
    columns = {f.name: [r[f.name] for r in ordered] for f in CATALOG_SCHEMA}
    table = pa.Table.from_pydict(columns, schema=CATALOG_SCHEMA)
    path = Path(root) / CATALOG_NAME
    pq.write_table(table, path, compression="zstd")
    return path


def read_catalog(
    path_or_root: str | os.PathLike, *, kind: Literal["all", "event", "fault"] = "all"
) -> pa.Table:
    """Read a synthetic archive's catalog.

    Parameters
    ----------
    path_or_root : path-like
        The archive root or the ``catalog.parquet`` file itself.
    kind : {"all", "event", "fault"}
        Keep every row, only events or only faults.

    Returns
    -------
    pyarrow.Table
        Columns of :data:`CATALOG_SCHEMA`, ordered by ``event_id``.

    Raises
    ------
    CatalogError
        If the file is missing or its schema differs.
    """
    path = Path(path_or_root)
    if path.is_dir():
        path = path / CATALOG_NAME
    if not path.is_file():
        raise CatalogError(f"no catalog at {path}; write one with `aco synth --out DIR`")
    table = pq.read_table(path)
    if not table.schema.equals(CATALOG_SCHEMA, check_metadata=False):
        raise CatalogError(f"{path}: schema {table.schema} differs from the synthetic catalog's")
    if kind != "all":
        table = table.filter(pc.equal(table["kind"], kind))
    return table


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
