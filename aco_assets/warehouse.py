"""The DuckDB warehouse: the tables users query, and the one way stages write them.

Every per-day write replaces the day's rows in one transaction (delete, then insert, then
commit), so re-running a partition never duplicates rows and a failure leaves the previous rows
in place. Connections are opened only around a read or a write and retried while another process
holds the file: DuckDB lets one process at a time open a file read-write.

All timestamps are ``TIMESTAMP`` in UTC (naive); days are ``DATE`` (UTC days).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

logger = logging.getLogger(__name__)

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS raw_files (
    day DATE NOT NULL,
    path VARCHAR NOT NULL,              -- path relative to the archive root
    nominal_start TIMESTAMP,            -- from the file name
    header_start TIMESTAMP,             -- from the first record header (time of sample 0)
    duration_s DOUBLE,
    n_records INTEGER,
    n_samples BIGINT,
    n_missing_samples BIGINT,
    widths VARCHAR,                     -- e.g. '16:1500 17:258' (bits:records)
    n_faults INTEGER,
    faults VARCHAR,                     -- JSON list of {kind, record, message}
    status VARCHAR NOT NULL             -- 'ok' | 'faulty' | 'unreadable' | 'misfiled'
);
-- why a file is not 'ok', in one line (NULL for 'ok' files)
ALTER TABLE raw_files ADD COLUMN IF NOT EXISTS reason VARCHAR;
CREATE TABLE IF NOT EXISTS coverage (
    day DATE NOT NULL PRIMARY KEY,
    expected INTEGER, found INTEGER, missing INTEGER,
    faulty INTEGER,                     -- files of the day that are not 'ok' (any fault)
    unreadable INTEGER,                 -- of which nothing decodes
    decodable_share DOUBLE,             -- decoded / expected samples of the day's files (an
                                        -- unreadable or misfiled file: 5 minutes, none decoded)
    missing_starts VARCHAR              -- JSON list of nominal starts with no file
);
-- files of the day's folder whose name is not a valid time of that day (not processed)
ALTER TABLE coverage ADD COLUMN IF NOT EXISTS misfiled INTEGER;
CREATE TABLE IF NOT EXISTS windows (
    day DATE NOT NULL,
    window_index INTEGER NOT NULL,      -- row of the day's feature array
    window_start TIMESTAMP NOT NULL,
    window_end TIMESTAMP NOT NULL,
    file VARCHAR NOT NULL,
    offset_s DOUBLE NOT NULL,           -- window start within its file
    valid BOOLEAN NOT NULL,             -- false: too many missing samples, not scored
    missing_share DOUBLE,
    level_broadband_db DOUBLE,
    level_low_db DOUBLE,
    level_mid_db DOUBLE,
    level_high_db DOUBLE
);
CREATE TABLE IF NOT EXISTS quality_issues (
    day DATE NOT NULL,
    file VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,              -- gap, dropout, clipping, dc_step, timing_jump, fault kinds
    start_utc TIMESTAMP,
    end_utc TIMESTAMP,
    detail VARCHAR
);
CREATE TABLE IF NOT EXISTS typical_windows (
    day DATE NOT NULL,
    window_index INTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    rules VARCHAR NOT NULL,             -- which rules selected it, e.g. 'evening,low_traffic_month'
    selection_id VARCHAR NOT NULL       -- hash of the selection settings
);
CREATE TABLE IF NOT EXISTS model_versions (
    model_version INTEGER NOT NULL PRIMARY KEY,
    run_id VARCHAR, trained_at TIMESTAMP, score_name VARCHAR,
    rho DOUBLE, threshold DOUBLE, calibration_fpr DOUBLE, heldout_fpr DOUBLE,
    n_general BIGINT, n_typical BIGINT, is_champion BOOLEAN, checks_passed BOOLEAN,
    model_dir VARCHAR
);
-- the false-alarm budget, how it became the threshold, and the time split of training
ALTER TABLE model_versions ADD COLUMN IF NOT EXISTS false_alarms_per_hour DOUBLE;
ALTER TABLE model_versions ADD COLUMN IF NOT EXISTS threshold_rule VARCHAR;
ALTER TABLE model_versions ADD COLUMN IF NOT EXISTS calibration_hours DOUBLE;
ALTER TABLE model_versions ADD COLUMN IF NOT EXISTS heldout_hours DOUBLE;
ALTER TABLE model_versions ADD COLUMN IF NOT EXISTS heldout_alarms BIGINT;
ALTER TABLE model_versions ADD COLUMN IF NOT EXISTS heldout_false_alarms_per_hour DOUBLE;
ALTER TABLE model_versions ADD COLUMN IF NOT EXISTS split_unit VARCHAR;
ALTER TABLE model_versions ADD COLUMN IF NOT EXISTS train_units VARCHAR;       -- JSON list
ALTER TABLE model_versions ADD COLUMN IF NOT EXISTS calibration_units VARCHAR; -- JSON list
ALTER TABLE model_versions ADD COLUMN IF NOT EXISTS test_units VARCHAR;        -- JSON list
CREATE TABLE IF NOT EXISTS anomaly_scores (
    day DATE NOT NULL,
    window_index INTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    window_end TIMESTAMP NOT NULL,
    file VARCHAR,
    score DOUBLE,                       -- the production score (higher = more unusual)
    tail_prob DOUBLE,                   -- share of held-out typical windows scoring higher
    is_anomaly BOOLEAN,
    latent_nll DOUBLE,                  -- GMM negative log-likelihood of the latent mean
    np_error DOUBLE,                    -- discriminator error (Neyman-Pearson head)
    recon_error DOUBLE,                 -- VAE reconstruction error (baseline)
    energy_score DOUBLE,                -- band-limited energy detector (baseline)
    quality_flag BOOLEAN,               -- window overlaps a data-quality issue
    model_version INTEGER
);
ALTER TABLE anomaly_scores ADD COLUMN IF NOT EXISTS combined DOUBLE; -- GMM NLL + NP error, standardised
CREATE TABLE IF NOT EXISTS detections (
    day DATE NOT NULL,
    detection_id VARCHAR NOT NULL,      -- '<day>-<nnn>'
    start_utc TIMESTAMP NOT NULL,
    end_utc TIMESTAMP NOT NULL,
    peak_utc TIMESTAMP,
    peak_score DOUBLE,
    peak_tail_prob DOUBLE,
    n_windows INTEGER,
    band VARCHAR,                       -- dominant band, e.g. '100-1000 Hz'
    f_low_hz DOUBLE,
    f_high_hz DOUBLE,
    file VARCHAR,
    offset_s DOUBLE,
    rank_in_day INTEGER,
    model_version INTEGER
);
CREATE TABLE IF NOT EXISTS review_clips (
    day DATE NOT NULL,
    detection_id VARCHAR NOT NULL,
    rank_in_day INTEGER,
    wav_path VARCHAR, png_path VARCHAR, raven_path VARCHAR,
    clip_start_utc TIMESTAMP, clip_end_utc TIMESTAMP,
    model_version INTEGER
);
CREATE TABLE IF NOT EXISTS reviews (
    detection_id VARCHAR,
    begin_utc TIMESTAMP,
    verdict VARCHAR NOT NULL,           -- true_event | false_alarm | data_fault
    class_name VARCHAR,
    reviewer VARCHAR,
    source_file VARCHAR,
    imported_at TIMESTAMP,
    model_version INTEGER
);
CREATE TABLE IF NOT EXISTS evaluation_metrics (
    model_version INTEGER,
    method VARCHAR NOT NULL,            -- np, gmm_nll, recon_error, energy, combined ...
    metric VARCHAR NOT NULL,
    subset VARCHAR NOT NULL,            -- 'all', a class name, an SNR bucket, 'reviews'
    value DOUBLE,
    evaluated_at TIMESTAMP
);
CREATE OR REPLACE VIEW daily_summary AS
SELECT c.day, c.expected, c.found, c.missing, c.faulty, c.decodable_share,
       c.unreadable, c.misfiled,
       s.n_windows, s.n_anomalous, s.max_score, s.model_version,
       coalesce(d.n_detections, 0) AS n_detections
FROM coverage c
LEFT JOIN (SELECT day, count(*) AS n_windows, count(*) FILTER (WHERE is_anomaly) AS n_anomalous,
                  max(score) AS max_score, max(model_version) AS model_version
           FROM anomaly_scores GROUP BY day) s USING (day)
LEFT JOIN (SELECT day, count(*) AS n_detections FROM detections GROUP BY day) d USING (day);
"""


class WarehouseBusyError(RuntimeError):
    """The DuckDB file stayed locked by another process through every retry."""


class Warehouse:
    """The project's DuckDB file.

    Parameters
    ----------
    path
        The ``.duckdb`` file (created with the schema on first write).
    retries, retry_wait_s
        How long to keep trying while another process holds the file.
    """

    def __init__(self, path: str | Path, *, retries: int = 60, retry_wait_s: float = 0.5) -> None:
        self.path = Path(path)
        self.retries = retries
        self.retry_wait_s = retry_wait_s

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the file (retrying while locked); the schema exists on every write connection."""
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise FileNotFoundError(f"no warehouse at {self.path}: materialize raw_files first")
        con = self._open(read_only)
        try:
            if not read_only:
                con.execute(SCHEMA_SQL)
            yield con
        finally:
            con.close()

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        for attempt in range(self.retries):
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.IOException as e:
                if "lock" not in str(e).lower() or attempt == self.retries - 1:
                    if "lock" in str(e).lower():
                        raise WarehouseBusyError(
                            f"{self.path} is locked by another process (a DuckDB client holding "
                            "it open?); close it or query a snapshot (`aco snapshot`)"
                        ) from e
                    raise
                logger.info("%s is locked, retrying (%d/%d)", self.path, attempt + 1, self.retries)
                time.sleep(self.retry_wait_s)
        raise AssertionError("unreachable")

    def replace_rows(
        self, table: str, rows: pa.Table, *, where: str, params: Sequence[object] = ()
    ) -> int:
        """Delete the rows matching ``where`` and insert ``rows``, in one transaction.

        ``rows`` must carry the table's columns (any order; missing columns become NULL).
        Returns the number of rows inserted.
        """
        return self.replace_many([(table, rows, where, params)])

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write connection inside BEGIN ... COMMIT (ROLLBACK on any error)."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def replace_many(self, writes: Sequence[tuple[str, pa.Table, str, Sequence[object]]]) -> int:
        """Several :meth:`replace_rows` in one transaction: all of them land, or none."""
        inserted = 0
        with self.transaction() as con:
            for table, rows, where, params in writes:
                con.execute(f"DELETE FROM {table} WHERE {where}", list(params))
                if rows.num_rows:
                    con.register("_incoming", rows)
                    cols = ", ".join(f'"{c}"' for c in rows.column_names)
                    con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming")
                    con.unregister("_incoming")
                inserted += rows.num_rows
        return inserted

    def query(self, sql: str, params: Sequence[object] = ()) -> pa.Table:
        """Run a read query and return an Arrow table (opens read-only)."""
        with self.connect(read_only=True) as con:
            return con.sql(sql, params=list(params) or None).to_arrow_table()

    def query_rw(self, sql: str, params: Sequence[object] = ()) -> pa.Table:
        """Run a query on a write connection (creates the schema first if the file is new)."""
        with self.connect() as con:
            return con.sql(sql, params=list(params) or None).to_arrow_table()

    def snapshot(self, target: str | Path) -> Path:
        """Copy the whole database to ``target`` (a file users can keep open while runs go on)."""
        target = Path(target)
        tmp = target.with_suffix(".tmp.duckdb")
        tmp.unlink(missing_ok=True)
        if not self.path.exists():
            raise FileNotFoundError(f"no warehouse at {self.path}: materialize raw_files first")
        for attempt in range(self.retries):
            con = duckdb.connect()
            try:
                con.execute(f"ATTACH '{self.path}' AS src (READ_ONLY)")
                break
            except duckdb.IOException:
                con.close()
                if attempt == self.retries - 1:
                    raise
                time.sleep(self.retry_wait_s)
        try:
            con.execute(f"ATTACH '{tmp}' AS snap")
            con.execute("COPY FROM DATABASE src TO snap")
        finally:
            con.close()
        tmp.replace(target)
        return target
