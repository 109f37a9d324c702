"""The warehouse: the tables users query, and the one way stages write them.

Every table lives in Parquet files under ``<data>/tables/`` (:mod:`aco_assets.storage.warehouse_files`):
a per-day table as one file per UTC day, written atomically (write, then rename), so re-running
a partition replaces its rows exactly once, a failure leaves the previous rows, and any number of
processes write different days at once. ``aco.duckdb`` is the SQL entry point: it holds only views
over those files, with ``COMMENT ON`` every table and column (:mod:`aco_assets.storage.warehouse_schema`).
Writers never open it except to create or refresh its views (a new warehouse, a newly declared
column, a moved data folder), and never wait for it: a reader may keep it open as long as it likes.

The small whole tables (``model_versions``, ``reviews``, ``evaluation_metrics``,
``typical_selections``, ``typical_selection_windows``) change in :meth:`Warehouse.transaction`:
one writer at a time (a lock file that names its holder while another writer waits), on a
private in-memory DuckDB.

The Parquet files may live on object storage (``tables_dir="s3://bucket/aco/tables"``): each
file is then one object, uploaded whole, and the views read ``s3://`` URLs. Every connection
the warehouse opens has the fsspec file system registered (``register_filesystem``), so
:meth:`Warehouse.query` works with no DuckDB extension; a plain ``duckdb`` client opening
``aco.duckdb`` needs the ``httpfs`` extension and an S3 secret for such views. ``aco.duckdb``, the
lock files (``<data>/locks/tables/``) and the views marker stay local.

Why this module is long: :class:`Warehouse` is the one way stages write and read the tables;
its per-day writes, whole-table transactions and queries share the lock, the views and the
object-storage registration, so they stay one class (the files and the schema are apart:
``warehouse_files``, ``warehouse_schema``, ``warehouse_db``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from aco_assets.storage.paths import AnyPath, as_path, is_remote
from aco_assets.storage.warehouse_db import (
    comment_statements,
    has_old_tables,
    import_old_tables,
    note_tables,
    noted_tables,
    open_for_views,
    quote,
)
from aco_assets.storage.warehouse_files import (
    LOCK_FILE,
    FileLock,
    Staged,
    WarehouseBusyError,
    WarehouseSchemaError,
    commit_temp,
    conform,
    discard_temp,
    ensure_table,
    partition_file,
    read_whole,
    table_sql,
    write_atomic,
    write_temp,
)
from aco_assets.storage.warehouse_schema import TABLES, TABLES_BY_NAME, VIEWS, Table

__all__ = ["Warehouse", "WarehouseBusyError", "WarehouseSchemaError", "comment_statements"]

logger = logging.getLogger(__name__)

VIEWS_MARKER = "_views.json"
_DAY_WHERE = re.compile(r"^\s*day\s*=\s*\?\s*$", re.IGNORECASE)

Write = tuple[str, pa.Table, str, Sequence[object]]

_READERS: dict[tuple[int, str, tuple], tuple[duckdb.DuckDBPyConnection, list[str]]] = {}
_READERS_LOCK = threading.Lock()
_MAX_READERS = 4  # data folders whose reader stays open in one process


def _as_day(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


class Warehouse:
    """The warehouse of one data directory.

    Parameters
    ----------
    path
        ``aco.duckdb``, the SQL entry point (always a local file).
    tables_dir
        The folder of the Parquet tables: a local path or a URL (``s3://bucket/aco/tables``).
        Default: the one this data folder was last written with (noted in ``aco.tables.json``
        beside ``aco.duckdb``), else ``tables/`` beside ``aco.duckdb``.
    lock_timeout_s
        How long a writer waits for another writer before it gives up with a clear error.
    also_reads
        Other roots that queries may name, e.g. an archive on S3 whose ``catalog.parquet`` a
        stage joins: their fsspec file systems are registered too (one per protocol, the
        tables' first).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        tables_dir: str | os.PathLike | AnyPath | None = None,
        lock_timeout_s: float = 600.0,
        also_reads: Sequence[AnyPath] = (),
    ) -> None:
        self.path = Path(path).absolute()
        tables = as_path(tables_dir) if tables_dir else noted_tables(self.path)
        self.remote = is_remote(tables)
        self.tables_dir = tables if self.remote else Path(tables).absolute()
        # object storage has no locks: they order this machine's writers from a local folder
        self.locks_dir = self.path.parent / "locks" / "tables" if self.remote else self.tables_dir
        self.lock_timeout_s = lock_timeout_s
        self._filesystems: dict[str, object] = {}
        for root in [self.tables_dir, *also_reads]:
            if is_remote(root):
                protocol = root.protocol
                self._filesystems.setdefault(protocol, root.fs)

    @classmethod
    def of(cls, layout) -> Warehouse:
        """The warehouse of a :class:`~aco_assets.storage.layout.DataLayout`: ``aco.duckdb`` in its data
        directory, the tables in its store (``<store>/tables``); queries may also read the
        archive's files (its catalog) when it is on object storage."""
        return cls(
            layout.duckdb_path, tables_dir=layout.tables_dir, also_reads=[layout.archive_root]
        )

    @property
    def _marker(self) -> Path:
        """The local file saying ``aco.duckdb``'s views are up to date."""
        return self.path.parent / VIEWS_MARKER if self.remote else self.tables_dir / VIEWS_MARKER

    def _register(self, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
        """Give ``con`` the fsspec file systems of remote roots (none for local ones)."""
        for fs in self._filesystems.values():
            con.register_filesystem(fs)
        return con

    # -- reads -------------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[object] = ()) -> pa.Table:
        """Run a read query and return an Arrow table. Opens no lock: it reads the files."""
        with self.connect(read_only=True) as con:
            return con.sql(sql, params=list(params) or None).to_arrow_table()

    @contextmanager
    def connect(self, *, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB connection with every table and view; read-write means :meth:`transaction`."""
        if not read_only:
            with self.transaction() as con:
                yield con
            return
        if not self.tables_dir.exists() and not self.path.exists():
            raise FileNotFoundError(f"no warehouse at {self.path}: materialize raw_files first")
        self._ensure_views(wait=False)
        for fs in self._filesystems.values():  # other processes write: list afresh every query
            fs.invalidate_cache()
        con = self._reader().cursor()
        try:
            yield con
        finally:
            con.close()

    def query_rw(self, sql: str, params: Sequence[object] = ()) -> pa.Table:
        """Run a statement that may change the whole tables (in :meth:`transaction`)."""
        with self.transaction() as con:
            return con.sql(sql, params=list(params) or None).to_arrow_table()

    # -- writes ------------------------------------------------------------------------------

    def replace_rows(
        self, table: str, rows: pa.Table, *, where: str, params: Sequence[object] = ()
    ) -> int:
        """Replace the rows matching ``where`` by ``rows``; returns the number of rows written.

        ``rows`` carry the table's columns (any order; missing columns are NULL). A per-day table
        is replaced a day at a time: ``where="day = ?"``, ``params=[day]``.
        """
        return self.replace_many([(table, rows, where, params)])

    def replace_many(self, writes: Sequence[Write]) -> int:
        """Several :meth:`replace_rows`: every file is written before any replaces its old one,
        so a bad table in the list leaves all of them as they were."""
        self._ensure_ready()
        day_writes, whole_writes = [], []
        for name, rows, where, params in writes:
            table = self._table(name)
            if table.partition == "whole":
                whole_writes.append((table, rows, where, params))
                continue
            if not _DAY_WHERE.match(where) or len(params) != 1:
                raise WarehouseSchemaError(
                    f"{name} is replaced a day at a time: where='day = ?', params=[day] "
                    f"(got where={where!r})"
                )
            day = _as_day(params[0])
            day_writes.append((table, day, conform(table, rows, day=day)))
        for table in {t.name: t for t, _, _ in day_writes}.values():
            self._ensure_table(table)
        staged: list[tuple[Table, Staged, AnyPath]] = []
        try:
            for table, day, rows in day_writes:
                path = partition_file(self.tables_dir, table, day)
                staged.append((table, write_temp(path, rows), path))
            if whole_writes:
                self._replace_whole(whole_writes)
            self._commit(staged)
        finally:
            for _, tmp, _ in staged:
                discard_temp(tmp)
        self._ensure_views(wait=False)
        return sum(rows.num_rows for _, rows, _, _ in writes)

    def _ensure_table(self, table: Table) -> None:
        ensure_table(self.tables_dir, table, timeout_s=self.lock_timeout_s, locks=self.locks_dir)

    def _commit(self, staged: list[tuple[Table, Staged, AnyPath]]) -> None:
        names = sorted({t.name for t, _, _ in staged})
        with ExitStack() as locks:
            for name in names:  # shared: writers of other days go on; a column migration waits
                locks.enter_context(
                    FileLock(
                        self.locks_dir / name / LOCK_FILE,
                        exclusive=False,
                        timeout_s=self.lock_timeout_s,
                    )
                )
            for _, tmp, path in staged:  # an empty day stays a file: no query loses one
                commit_temp(tmp, path)

    def _replace_whole(self, writes: list[tuple[Table, pa.Table, str, Sequence[object]]]) -> None:
        with self._whole_tables([t.name for t, *_ in writes]) as con:
            for table, rows, where, params in writes:
                con.execute(f'DELETE FROM "{table.name}" WHERE {where}', list(params))
                if rows.num_rows:
                    con.register("_incoming", conform(table, rows))
                    con.execute(f'INSERT INTO "{table.name}" SELECT * FROM _incoming')
                    con.unregister("_incoming")

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection where the whole tables can change (per-day tables are read-only views):
        what changed is written back when the block ends, nothing if it raises."""
        self._ensure_ready()
        with self._whole_tables([t.name for t in TABLES if t.partition == "whole"]) as con:
            yield con
        self._ensure_views(wait=False)

    @contextmanager
    def _whole_tables(self, names: list[str]) -> Iterator[duckdb.DuckDBPyConnection]:
        lock = FileLock(self.locks_dir / LOCK_FILE, exclusive=True, timeout_s=self.lock_timeout_s)
        with lock:
            for name in names:
                self._ensure_table(TABLES_BY_NAME[name])
            con = self._memory_connection(whole_tables=names)
            own = con.cursor()  # a cursor of its own: the caller may leave a result pending
            try:
                before = {n: self._fingerprint(own, n) for n in names}
                yield con
                for name in names:
                    if self._fingerprint(own, name) != before[name]:
                        table = TABLES_BY_NAME[name]
                        rows = own.sql(f'SELECT * FROM "{name}"').to_arrow_table()
                        rows = conform(table, rows, strict=False)
                        write_atomic(partition_file(self.tables_dir, table, None), rows)
            finally:
                own.close()
                con.close()

    @staticmethod
    def _fingerprint(con: duckdb.DuckDBPyConnection, name: str) -> tuple:
        sql = f'SELECT count(*), coalesce(sum(hash(t)), 0) FROM "{name}" t'
        return tuple(con.execute(sql).fetchall()[0])

    # -- connections and views ---------------------------------------------------------------

    def _table(self, name: str) -> Table:
        try:
            return TABLES_BY_NAME[name]
        except KeyError:
            raise WarehouseSchemaError(
                f"no warehouse table {name!r} (tables: {', '.join(TABLES_BY_NAME)})"
            ) from None

    def _memory_connection(self, *, whole_tables: Sequence[str]) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB with a view per table (``whole_tables`` loaded as real tables)."""
        con = self._register(duckdb.connect())
        for table in TABLES:
            if table.name in whole_tables:
                # no NOT NULL here: rows written before a column was declared hold NULL in it
                columns = ", ".join(f'"{c.name}" {c.sql_type}' for c in table.columns)
                con.execute(f'CREATE TABLE "{table.name}" ({columns})')
                con.register("_rows", read_whole(self.tables_dir, table))
                con.execute(f'INSERT INTO "{table.name}" SELECT * FROM _rows')
                con.unregister("_rows")
            else:
                con.execute(f'CREATE VIEW "{table.name}" AS {table_sql(self.tables_dir, table)}')
        for view in VIEWS:
            con.execute(f'CREATE VIEW "{view.name}" AS {view.sql}')
        return con

    def _reader(self) -> duckdb.DuckDBPyConnection:
        """This process's in-memory DuckDB of views over the files (a new connection costs
        about 0.1 s; its cursors nothing). Its views follow the files' schemas."""
        statements = [s for s in self.view_statements() if s.startswith("CREATE")]
        # keyed by the file system too: a connection stays with the instance it registered
        fs = tuple(id(f) for f in self._filesystems.values())
        key = (os.getpid(), str(self.tables_dir), fs)
        with _READERS_LOCK:
            con, made = _READERS.pop(key, (None, None))
            if con is None:
                con = self._register(duckdb.connect())
            if made != statements:
                for sql in statements + comment_statements("VIEW"):
                    con.execute(sql)
            _READERS[key] = (con, statements)  # the newest last
            while len(_READERS) > _MAX_READERS:
                _READERS.pop(next(iter(_READERS)))[0].close()
            return con

    def view_statements(self) -> list[str]:
        """The SQL that makes ``aco.duckdb``'s views and comments for the current data folder."""
        return (
            [
                f'CREATE OR REPLACE VIEW "{t.name}" AS {table_sql(self.tables_dir, t)}'
                for t in TABLES
            ]
            + [f'CREATE OR REPLACE VIEW "{v.name}" AS {v.sql}' for v in VIEWS]
            + comment_statements("VIEW")
        )

    def _ensure_ready(self) -> None:
        """Before a write: the tables folder exists, and an old single-file warehouse is in it."""
        if self.path.exists() and not self._marker.exists():
            if has_old_tables(self.path):
                self._ensure_views(wait=True)  # moves them into files before anything is written
        if not self.remote:
            self.tables_dir.mkdir(parents=True, exist_ok=True)
        note_tables(self.path, self.tables_dir)
        for table in TABLES:  # every view reads its files from the start, however few there are
            self._ensure_table(table)

    def _ensure_views(self, *, wait: bool) -> bool:
        """Bring ``aco.duckdb``'s views up to date; True when they are.

        Reads a marker file only when they already are. Otherwise opens ``aco.duckdb``
        read-write; if a reader holds it, ``wait=False`` logs who and gives up (the data is in
        the files already; the next write tries again), ``wait=True`` waits up to the timeout.
        """
        statements = self.view_statements()
        fingerprint = hashlib.sha256("\n".join(statements).encode()).hexdigest()
        marker = self._marker
        try:
            if self.path.exists() and json.loads(marker.read_text())["fingerprint"] == fingerprint:
                return True
        except (OSError, ValueError, KeyError):
            pass
        con = open_for_views(self.path, wait=wait, timeout_s=self.lock_timeout_s)
        if con is None:
            return False
        try:
            self._register(con)
            con.execute("BEGIN TRANSACTION")
            import_old_tables(con, self.tables_dir, self._ensure_table)
            for sql in statements:
                con.execute(sql)
            con.execute("COMMIT")
        finally:
            con.close()
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(json.dumps({"fingerprint": fingerprint, "tables": str(self.tables_dir)}))
        tmp.replace(marker)
        return True

    # -- snapshot ----------------------------------------------------------------------------

    def snapshot(self, target: str | Path) -> Path:
        """Copy every table into one standalone DuckDB file ``target``, with its comments."""
        target = Path(target).absolute()
        if not self.tables_dir.exists():
            raise FileNotFoundError(f"no warehouse at {self.path}: materialize raw_files first")
        tmp = target.with_suffix(".tmp.duckdb")
        tmp.unlink(missing_ok=True)
        self._ensure_views(wait=False)
        con = self._memory_connection(whole_tables=())
        try:
            con.execute(f"ATTACH {quote(str(tmp))} AS snap")
            for table in TABLES:
                con.execute(f'CREATE TABLE snap."{table.name}" AS SELECT * FROM "{table.name}"')
            con.execute("USE snap")
            for view in VIEWS:
                con.execute(f'CREATE VIEW "{view.name}" AS {view.sql}')
            for sql in comment_statements("TABLE"):
                con.execute(sql)
            con.execute("USE memory")
            con.execute("DETACH snap")
        finally:
            con.close()
        tmp.replace(target)
        return target
