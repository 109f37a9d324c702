"""The warehouse's Parquet files: one per day of a per-day table, one per whole table.

Layout under ``<data>/tables/``::

    <table>/_schema.parquet            no rows: the declared columns (first file of every glob)
    <table>/day=YYYY-MM-DD.parquet     a day of a per-day table
    <table>/data.parquet               a whole table (model_versions, reviews, ...)

A file is written under a hidden temporary name, flushed to disk, then renamed over its
partition's file (:func:`write_atomic`): readers see the old file or the new one, never a part,
and a crash leaves at most a ``.*.tmp`` file that no glob reads. Nothing here locks a reader out:
readers open files only, and DuckDB reads them through views (:func:`table_sql`).

Locks (``flock``, released by the kernel when the holder dies) order the writers only: a per-day
write holds its table's lock shared, adding a column to a table's files holds it exclusive, and
a change of a whole table holds ``tables/.lock`` exclusive (:class:`FileLock`).

The tables folder may be on object storage (``s3://bucket/prefix/tables``, a
:class:`upath.UPath`): a file is then serialised in memory and uploaded whole, in one PUT, which
S3 publishes all at once, so readers again see the old object or the new one. Object storage
has no locks: the lock files then live in a local folder (``locks``), which orders the writers
of one machine; writers on several machines may write different days at once, and whole-table
changes and column migrations need one writer at a time across machines.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import glob
import io
import logging
import os
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from aco_assets.storage.paths import AnyPath, is_remote, object_version, write_bytes_atomic
from aco_assets.storage.warehouse_schema import Table

logger = logging.getLogger(__name__)

SCHEMA_FILE = "_schema.parquet"
WHOLE_FILE = "data.parquet"
LOCK_FILE = ".lock"
STALE_TEMP_S = 600.0
REMOTE_SCHEMA_TTL_S = 5.0  # how long a remote schema file's columns are trusted without a HEAD

Staged = Path | bytes  # a local temporary file, or the bytes of an object to upload


class WarehouseSchemaError(ValueError):
    """Rows that do not fit their table's declared columns (aco_assets/storage/warehouse_schema.py)."""


class WarehouseBusyError(RuntimeError):
    """A warehouse lock stayed held by another process for the whole wait."""


def partition_file(root: AnyPath, table: Table, day: dt.date | None) -> AnyPath:
    """The file holding ``day`` of a per-day table, or the whole table's file."""
    if table.partition == "day":
        return root / table.name / f"day={day:%Y-%m-%d}.parquet"
    return root / table.name / WHOLE_FILE


def conform(
    table: Table, rows: pa.Table, *, day: dt.date | None = None, strict: bool = True
) -> pa.Table:
    """``rows`` cast to ``table``'s declared columns, in order (missing columns are NULL).

    Raises :class:`WarehouseSchemaError` for a column the table does not declare, a value that
    does not cast, a NULL in a NOT NULL column (unless ``strict=False``: rows written before
    the column was declared), or (with ``day``) a row of another day.
    """
    names = [n for n in rows.column_names if not n.startswith("__index_level_")]
    unknown = [n for n in names if n not in table.column_names]
    if unknown:
        raise WarehouseSchemaError(
            f"{table.name} has no column {', '.join(map(repr, unknown))}: declare it in "
            "aco_assets/storage/warehouse_schema.py or leave it out of the rows"
        )
    n = rows.num_rows
    if day is not None and "day" not in names:
        rows, names = rows.append_column("day", pa.array([day] * n, pa.date32())), names + ["day"]
    arrays = []
    for col in table.columns:
        if col.name not in names:
            arrays.append(pa.nulls(n, col.arrow_type))
            continue
        values = rows[col.name]
        try:
            # timestamps to microseconds may drop nanoseconds; every other cast must be exact
            arrays.append(values.cast(col.arrow_type, safe=not pa.types.is_timestamp(values.type)))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise WarehouseSchemaError(
                f"{table.name}.{col.name}: {rows[col.name].type} does not cast to "
                f"{col.sql_type} ({e})"
            ) from e
    out = pa.Table.from_arrays(arrays, schema=table.arrow_schema if strict else _nullable(table))
    for col in table.columns if strict else ():
        if col.not_null and out[col.name].null_count:
            raise WarehouseSchemaError(f"{table.name}.{col.name} is NOT NULL: a row has NULL")
    if day is not None and n and set(pc.min_max(out["day"]).as_py().values()) != {day}:
        raise WarehouseSchemaError(f"{table.name}: rows of other days than {day} in its write")
    return out


def _nullable(table: Table) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.arrow_type) for c in table.columns])


def _parquet_bytes(rows: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(rows, sink, compression="zstd")
    return sink.getvalue()


def write_temp(path: AnyPath, rows: pa.Table) -> Staged:
    """Write ``rows`` beside ``path`` under a hidden name no glob reads; flushed to disk.

    For an object (``path`` on object storage) nothing is written yet: the Parquet bytes are
    returned, and :func:`commit_temp` uploads them whole.
    """
    if is_remote(path):
        return _parquet_bytes(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            pq.write_table(rows, f, compression="zstd")
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def commit_temp(tmp: Staged, path: AnyPath) -> None:
    """Rename ``tmp`` over ``path`` (atomic on one file system) and flush the directory; or,
    for an object, upload its bytes whole (one PUT: atomic on S3).

    Temporary files of ``path`` older than ``STALE_TEMP_S`` (left by a writer that died before
    its rename) are removed.
    """
    if is_remote(path):
        write_bytes_atomic(path, tmp)
        _SCHEMA_CACHE.pop(str(path), None)
        return
    os.replace(tmp, path)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if time.time() - stale.stat().st_mtime > STALE_TEMP_S:
                stale.unlink()
        except FileNotFoundError:
            pass
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def discard_temp(tmp: Staged) -> None:
    """Remove a temporary file that was not committed (nothing to do for an object)."""
    if isinstance(tmp, Path):
        tmp.unlink(missing_ok=True)


def write_atomic(path: AnyPath, rows: pa.Table) -> None:
    """Replace ``path`` by a Parquet file of ``rows``, all at once."""
    commit_temp(write_temp(path, rows), path)


def read_parquet(path: AnyPath, *, schema_only: bool = False) -> pa.Table | pa.Schema:
    """A Parquet file's rows (or schema), local or on object storage."""
    if not is_remote(path):
        return pq.read_schema(path) if schema_only else pq.read_table(path)
    with path.open("rb") as f:
        return pq.read_schema(f) if schema_only else pq.read_table(f)


def read_whole(root: AnyPath, table: Table) -> pa.Table:
    """A whole table's rows (empty with the declared columns when never written)."""
    path = partition_file(root, table, None)
    if not path.exists():
        return table.arrow_schema.empty_table()
    return conform(table, read_parquet(path), strict=False)


_SCHEMA_CACHE: dict[str, tuple[str, float, list[str]]] = {}


def disk_columns(root: AnyPath, table: Table) -> list[str] | None:
    """Column names of the table's schema file, or None if the table was never written.

    Cached by the file's version (local: mtime; an object: ETag, asked at most every
    ``REMOTE_SCHEMA_TTL_S`` seconds).
    """
    path = root / table.name / SCHEMA_FILE
    key, remote = str(path), is_remote(path)
    cached = _SCHEMA_CACHE.get(key)
    if remote and cached is not None and time.monotonic() - cached[1] < REMOTE_SCHEMA_TTL_S:
        return cached[2]
    try:
        stamp = object_version(path)
        if cached is None or cached[0] != stamp:
            cached = (stamp, 0.0, read_parquet(path, schema_only=True).names)
        _SCHEMA_CACHE[key] = (cached[0], time.monotonic(), cached[2])
        return cached[2]
    except FileNotFoundError:
        _SCHEMA_CACHE.pop(key, None)
        return None


def ensure_table(
    root: AnyPath, table: Table, *, timeout_s: float, locks: Path | None = None
) -> None:
    """Make the table's schema file the declared one; give older files the columns added since.

    The first write after a column was declared rewrites every file of the table that lacks it
    (NULL), holding the table's lock exclusive; later calls only read the schema file. The lock
    files live under ``locks`` (default: ``root``, which must then be local).
    """
    on_disk = disk_columns(root, table)
    if on_disk == table.column_names:
        return
    directory = root / table.name
    if not is_remote(directory):
        directory.mkdir(parents=True, exist_ok=True)
    lock = Path(locks if locks is not None else root) / table.name / LOCK_FILE
    with FileLock(lock, exclusive=True, timeout_s=timeout_s):
        _SCHEMA_CACHE.pop(str(directory / SCHEMA_FILE), None)
        if disk_columns(root, table) == table.column_names:
            return
        added = 0
        for path in sorted(directory.glob("*.parquet"), key=str):
            if path.name != SCHEMA_FILE and set(table.column_names) - set(
                read_parquet(path, schema_only=True).names
            ):
                write_atomic(path, conform(table, read_parquet(path), strict=False))
                added += 1
        if added:
            logger.info("%s: %d file(s) given the newly declared columns", table.name, added)
        write_atomic(directory / SCHEMA_FILE, table.arrow_schema.empty_table())


def table_sql(root: AnyPath, table: Table) -> str:
    """A SELECT of the table's declared columns over its files (typed and empty if none yet).

    ``root`` must be absolute: DuckDB resolves a relative path in a view against the working
    directory of whoever queries it. On object storage the glob is the ``s3://`` URL: the
    querying connection needs the fsspec file system registered (:class:`Warehouse` does it) or
    DuckDB's ``httpfs`` extension.
    """
    on_disk = disk_columns(root, table)
    items = []
    for c in table.columns:
        value = f'CAST("{c.name}" AS {c.sql_type})' if on_disk and c.name in on_disk else None
        value = value or f"CAST(NULL AS {c.sql_type})"
        if c.null_as is not None:
            value = f"coalesce({value}, {c.null_as})"
        items.append(f'{value} AS "{c.name}"')
    select = "SELECT " + ", ".join(items)
    if on_disk is None:
        return f"{select} WHERE false"
    glob = str(root / table.name / "*.parquet").replace("'", "''")
    return f"{select} FROM read_parquet('{glob}', hive_partitioning = false)"


def lock_holders(path: Path) -> list[str]:
    """``'PID n (command)'`` of the processes holding an ``flock`` on ``path`` (Linux)."""
    try:
        inode, locks = os.stat(path).st_ino, Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    holders = []
    for line in locks:
        parts = line.split()
        if len(parts) > 5 and parts[1] == "FLOCK" and parts[5].split(":")[-1] == str(inode):
            pid = parts[4]
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                cmd = "?"
            holders.append(f"PID {pid} ({cmd.strip()[:80]})")
    return holders


class FileLock:
    """An ``flock`` on ``path``, waited for up to ``timeout_s`` with a log line now and then.

    On timeout: :class:`WarehouseBusyError` naming the holders and what to do.
    """

    def __init__(self, path: Path, *, exclusive: bool, timeout_s: float) -> None:
        self.path, self.exclusive, self.timeout_s = path, exclusive, timeout_s
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        mode = (fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        start = last_log = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, mode)
                break
            except BlockingIOError:
                now = time.monotonic()
                holders = ", ".join(lock_holders(self.path)) or "another process"
                if now - start >= self.timeout_s:
                    os.close(fd)
                    raise WarehouseBusyError(
                        f"{self.path} stayed locked by {holders} for {self.timeout_s:.0f} s "
                        "(another pipeline run writing the warehouse): let it finish, or stop "
                        "it, and run again"
                    ) from None
                if now - last_log >= 10:
                    logger.warning("waiting for %s, held by %s", self.path, holders)
                    last_log = now
                time.sleep(0.05)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
