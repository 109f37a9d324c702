"""``aco.duckdb``, the warehouse's SQL entry point: opening it for its views, and its notes.

``aco.duckdb`` holds only views over the Parquet files (:mod:`aco_assets.storage.warehouse`). This module
opens it read-write for a moment to replace them (:func:`open_for_views`, which says who holds
it), moves the tables of a warehouse written before the Parquet layout into files
(:func:`import_old_tables`), writes the ``COMMENT ON`` statements, and notes beside it where its
tables are when they are not in ``tables/`` beside it (:func:`note_tables`: a store on S3).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from aco_assets.storage.paths import AnyPath, as_path
from aco_assets.storage.warehouse_files import (
    WarehouseBusyError,
    conform,
    partition_file,
    write_atomic,
)
from aco_assets.storage.warehouse_schema import TABLES, TABLES_BY_NAME, VIEWS, Table

logger = logging.getLogger(__name__)

TABLES_NOTE = "aco.tables.json"  # beside aco.duckdb: where its tables are, when not tables/
_OLD_TABLES_SQL = "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


def quote(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def comment_statements(kind: str) -> list[str]:
    """``COMMENT ON`` every table (as a ``kind``: ``"VIEW"`` or ``"TABLE"``), view and column."""
    out = []
    for name, what, comment, columns in [
        (t.name, kind, t.comment, {c.name: c.comment for c in t.columns}) for t in TABLES
    ] + [(v.name, "VIEW", v.comment, v.column_comments) for v in VIEWS]:
        out.append(f'COMMENT ON {what} "{name}" IS {quote(comment)}')
        out += [f'COMMENT ON COLUMN "{name}"."{c}" IS {quote(text)}' for c, text in columns.items()]
    return out


def noted_tables(path: Path) -> AnyPath:
    """The tables folder of the ``aco.duckdb`` at ``path``: as noted beside it, else
    ``tables/`` beside it."""
    try:
        noted = json.loads((path.parent / TABLES_NOTE).read_text())["tables"]
    except (OSError, ValueError, KeyError):
        return path.parent / "tables"
    return as_path(noted)


def note_tables(path: Path, tables_dir: AnyPath) -> None:
    """Note beside ``aco.duckdb`` where its tables are, when not in ``tables/`` beside it, so
    that ``Warehouse(path)`` (``aco sql``, ``aco snapshot``) finds them. Holds no secret."""
    note = path.parent / TABLES_NOTE
    if tables_dir == path.parent / "tables":
        note.unlink(missing_ok=True)
        return
    text = json.dumps({"tables": str(tables_dir)})
    try:
        if note.read_text() == text:
            return
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = note.with_name(f".{note.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(note)


def has_old_tables(path: Path) -> bool:
    """``aco.duckdb`` holds tables of the layout before Parquet (True also if unreadable)."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException:
        return True
    try:
        names = {n for (n,) in con.execute(_OLD_TABLES_SQL).fetchall()}
    finally:
        con.close()
    return bool(names & set(TABLES_BY_NAME))


def open_for_views(path: Path, *, wait: bool, timeout_s: float) -> duckdb.DuckDBPyConnection | None:
    """``aco.duckdb`` opened read-write; while another client holds it, log who and wait up to
    ``timeout_s`` (``wait``: then raise :class:`WarehouseBusyError`) or 0.5 s (then None)."""
    deadline = time.monotonic() + (timeout_s if wait else 0.5)
    last_log = 0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            con = duckdb.connect(str(path))
        except duckdb.ConnectionException:  # this process holds it read-only
            holder = f"PID {os.getpid()} (this process)"
        except duckdb.IOException as e:
            if "lock" not in str(e).lower():
                raise
            found = _HOLDER.search(str(e))
            holder = f"PID {found[2]} ({found[1]})" if found else "another process"
        else:
            return con
        message = (
            f"{path} is held open by {holder}, so its views cannot be updated "
            "(new columns, a moved data folder): close that client"
        )
        if time.monotonic() >= deadline:
            if wait:
                raise WarehouseBusyError(message)
            logger.warning("%s; the tables are written, the views follow later", message)
            return None
        if wait and time.monotonic() - last_log >= 10:
            logger.warning("waiting: %s", message)
            last_log = time.monotonic()
        time.sleep(0.1)


def import_old_tables(
    con: duckdb.DuckDBPyConnection, tables_dir: AnyPath, ensure_table: Callable[[Table], None]
) -> None:
    """Move the tables of an ``aco.duckdb`` written before the Parquet layout into files."""
    found = {name for (name,) in con.execute(_OLD_TABLES_SQL).fetchall()}
    for table in (t for t in TABLES if t.name in found):
        ensure_table(table)
        have = {r[0] for r in con.execute(f'DESCRIBE "{table.name}"').fetchall()}
        cols = ", ".join(f'"{c}"' for c in table.column_names if c in have)
        rows = con.sql(f'SELECT {cols} FROM "{table.name}"').to_arrow_table()
        if table.partition == "whole":
            rows = conform(table, rows, strict=False)
            write_atomic(partition_file(tables_dir, table, None), rows)
        else:
            for day in sorted(set(rows["day"].to_pylist())):
                part = rows.filter(pc.equal(rows["day"], pa.scalar(day, pa.date32())))
                part = conform(table, part, strict=False)
                write_atomic(partition_file(tables_dir, table, day), part)
        logger.info("%s: %d rows moved to %s", table.name, rows.num_rows, tables_dir)
    for name in found & {v.name for v in VIEWS}:  # a table of old that is a view now
        con.execute(f'DROP TABLE "{name}"')
    for view in VIEWS:
        con.execute(f'DROP VIEW IF EXISTS "{view.name}"')
    for name in found & set(TABLES_BY_NAME):
        con.execute(f'DROP TABLE "{name}"')
