"""Every table and view of the warehouse, declared once: columns, types, comments, partitioning.

The declarations here are the single source of the warehouse's shape: the Parquet files are cast
to them on write, the DuckDB views select them (with their comments, ``COMMENT ON``), and
``aco snapshot`` copies them. To add a column, append a :class:`Column` to its table: the files
already written get it (NULL) on the next write of that table (:mod:`aco_assets.storage.warehouse_files`).

Per-day tables (``partition="day"``) keep one Parquet file per UTC day; the others
(``partition="whole"``) are small and kept as one file each. All timestamps are ``TIMESTAMP``
in UTC (naive); days are ``DATE`` (UTC days).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

ARROW_TYPES = {
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.string(),
    "BOOLEAN": pa.bool_(),
}


@dataclass(frozen=True)
class Column:
    """One column: its DuckDB type, what it holds (the ``COMMENT ON COLUMN`` text), whether
    it may be NULL, and the value a NULL reads as (``null_as``, SQL), if any."""

    name: str
    sql_type: str
    comment: str
    not_null: bool = False
    null_as: str | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.sql_type]


@dataclass(frozen=True)
class Table:
    """A warehouse table: one Parquet file per day (``"day"``) or one for all (``"whole"``)."""

    name: str
    comment: str
    columns: tuple[Column, ...]
    partition: Literal["day", "whole"]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(c.name, c.arrow_type, nullable=not c.not_null) for c in self.columns]
        )

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(name: str, sql_type: str, comment: str, **kw) -> Column:
    return Column(name, sql_type, comment, **kw)


DAY = _c("day", "DATE", "UTC day (the partition: one file per day)", not_null=True)
MODEL_VERSION = _c("model_version", "INTEGER", "registered detector version (model_versions)")

# fmt: off
TABLES: tuple[Table, ...] = (
    Table("raw_files", "One row per archive file of the day: times, records, widths, faults.", (
        DAY,
        _c("path", "VARCHAR", "file path relative to the archive root", not_null=True),
        _c("nominal_start", "TIMESTAMP", "start time in the file name (UTC)"),
        _c("header_start", "TIMESTAMP", "time of sample 0 from the first record header (UTC)"),
        _c("duration_s", "DOUBLE", "seconds of audio in the file's records"),
        _c("n_records", "INTEGER", "records in the file"),
        _c("n_samples", "BIGINT", "samples the records hold (decodable or not)"),
        _c("n_missing_samples", "BIGINT", "samples a decode marks missing (bad or cut records)"),
        _c("widths", "VARCHAR", "sample widths, bits:records, e.g. '16:1500 17:258'"),
        _c("n_faults", "INTEGER", "faults found in the file"),
        _c("faults", "VARCHAR", "JSON list of {kind, record, message}"),
        _c("status", "VARCHAR", "'ok' | 'faulty' | 'unreadable' | 'misfiled'", not_null=True),
        _c("reason", "VARCHAR", "why the file is not 'ok', in one line (NULL for 'ok' files)"),
    ), "day"),
    Table("coverage", "One row per UTC day: files expected (288), found, missing, faulty.", (
        DAY,
        _c("expected", "INTEGER", "files a full day has (288 five-minute files)"),
        _c("found", "INTEGER", "files of the day in the archive"),
        _c("missing", "INTEGER", "expected five-minute starts with no file"),
        _c("faulty", "INTEGER", "files of the day that are not 'ok' (any fault)"),
        _c("unreadable", "INTEGER", "of the faulty files, those of which nothing decodes"),
        _c("decodable_share", "DOUBLE", "decoded / expected samples of the day's files (an "
           "unreadable or misfiled file: 5 minutes, none decoded); 0 for a day without files",
           null_as="0.0"),
        _c("missing_starts", "VARCHAR", "JSON list of the nominal starts with no file (UTC)"),
        _c("misfiled", "INTEGER", "files in the day's folder whose name is not a time of that "
           "day (not processed)"),
    ), "day"),
    Table("windows", "One row per 5-second analysis window: file, offset, band levels.", (
        DAY,
        _c("window_index", "INTEGER", "row of the day's feature array", not_null=True),
        _c("window_start", "TIMESTAMP", "window start (UTC)", not_null=True),
        _c("window_end", "TIMESTAMP", "window end (UTC)", not_null=True),
        _c("file", "VARCHAR", "archive file of the window (relative path)", not_null=True),
        _c("offset_s", "DOUBLE", "window start within its file, seconds", not_null=True),
        _c("valid", "BOOLEAN", "false: too many missing samples, not scored", not_null=True),
        _c("missing_share", "DOUBLE", "share of the window's samples missing"),
        _c("level_broadband_db", "DOUBLE", "band level 10-10000 Hz, dB re counts"),
        _c("level_low_db", "DOUBLE", "band level 10-100 Hz, dB re counts"),
        _c("level_mid_db", "DOUBLE", "band level 100-1000 Hz, dB re counts"),
        _c("level_high_db", "DOUBLE", "band level 1000-10000 Hz, dB re counts"),
    ), "day"),
    Table("quality_issues", "One row per data-quality problem (kept out of the anomalies).", (
        DAY,
        _c("file", "VARCHAR", "archive file of the problem (relative path)", not_null=True),
        _c("kind", "VARCHAR", "gap, dropout, clipping, dc_step, timing_jump, unreadable, "
           "misfiled or a file fault kind", not_null=True),
        _c("start_utc", "TIMESTAMP", "start of the problem (UTC; NULL for a whole-file fault)"),
        _c("end_utc", "TIMESTAMP", "end of the problem (UTC; NULL for a whole-file fault)"),
        _c("detail", "VARCHAR", "what was found, in words"),
    ), "day"),
    Table("typical_selections", "One row per typical selection ever made: its id (the hash "
          "of its rows), size, settings and when it was last selected.", (
        _c("selection_id", "VARCHAR", "the selection: the first 16 hex digits of row_hash",
           not_null=True),
        _c("row_hash", "VARCHAR", "SHA-256 of its (day, window_index, window_start, rules)",
           not_null=True),
        _c("n_windows", "BIGINT", "windows it holds"),
        _c("n_valid_windows", "BIGINT", "valid windows it was chosen from"),
        _c("selected_at", "TIMESTAMP", "last run that selected it (UTC); the latest is current",
           not_null=True),
        _c("settings", "VARCHAR", "JSON of the typical_windows settings of that run"),
    ), "whole"),
    Table("typical_selection_windows", "The windows of every typical selection, by "
          "selection_id (the view typical_windows holds the current one's).", (
        _c("day", "DATE", "UTC day of the window", not_null=True),
        _c("window_index", "INTEGER", "row of the day's feature array (windows)", not_null=True),
        _c("window_start", "TIMESTAMP", "window start (UTC)", not_null=True),
        _c("rules", "VARCHAR", "rules that selected it, e.g. 'evening,low_traffic_month'",
           not_null=True),
        _c("selection_id", "VARCHAR", "the selection (typical_selections)", not_null=True),
    ), "whole"),
    Table("model_versions", "One row per registered detector version: budget, threshold, "
          "check, champion, time split.", (
        _c("model_version", "INTEGER", "registered version (MLflow aco-detector)", not_null=True),
        _c("run_id", "VARCHAR", "MLflow run that trained it"),
        _c("trained_at", "TIMESTAMP", "end of training (UTC)"),
        _c("score_name", "VARCHAR", "the production score (anomaly_scores.score), e.g. 'np'"),
        _c("rho", "DOUBLE", "target false-positive rate of training"),
        _c("threshold", "DOUBLE", "score above which a window is anomalous"),
        _c("calibration_fpr", "DOUBLE", "share of calibration typical windows above threshold"),
        _c("heldout_fpr", "DOUBLE", "share of held-out typical windows above threshold"),
        _c("n_general", "BIGINT", "general (any) windows seen in training"),
        _c("n_typical", "BIGINT", "typical windows seen in training"),
        _c("is_champion", "BOOLEAN", "holds the 'champion' alias (the version that scores)"),
        _c("checks_passed", "BOOLEAN", "threshold_is_sane passed"),
        _c("model_dir", "VARCHAR", "MLflow model URI, e.g. 'models:/aco-detector/3'"),
        _c("false_alarms_per_hour", "DOUBLE", "the false-alarm budget, alarms per hour"),
        _c("threshold_rule", "VARCHAR", "how the budget became the threshold ('tail_fit', ...)"),
        _c("calibration_hours", "DOUBLE", "hours of calibration audio"),
        _c("heldout_hours", "DOUBLE", "hours of held-out audio of the check"),
        _c("heldout_alarms", "BIGINT", "alarms (merged episodes) on held-out typical time"),
        _c("heldout_false_alarms_per_hour", "DOUBLE", "held-out alarms per hour"),
        _c("split_unit", "VARCHAR", "unit of the time split: 'day' or 'hour'"),
        _c("train_units", "VARCHAR", "JSON list of the training days / hours"),
        _c("calibration_units", "VARCHAR", "JSON list of the calibration days / hours"),
        _c("test_units", "VARCHAR", "JSON list of the test days / hours"),
        _c("typical_selection_id", "VARCHAR", "typical selection it was trained on "
           "(typical_selections; NULL for versions trained before it was kept)"),
    ), "whole"),
    Table("anomaly_scores", "One row per scored step (1 s by default) of every analysis window, "
          "with the model version that scored it.", (
        DAY,
        _c("window_index", "INTEGER", "row of the day's feature array (windows)", not_null=True),
        _c("step", "INTEGER", "scoring step within the window, 0 = first", not_null=True),
        _c("step_start", "TIMESTAMP", "start of the scored step (UTC)", not_null=True),
        _c("step_end", "TIMESTAMP", "end of the scored step (UTC)", not_null=True),
        _c("window_start", "TIMESTAMP", "start of the step's analysis window (UTC)", not_null=True),
        _c("window_end", "TIMESTAMP", "end of the step's analysis window (UTC)", not_null=True),
        _c("file", "VARCHAR", "archive file of the window (relative path)"),
        _c("score", "DOUBLE", "the production score, higher = more unusual (NULL: not scored)"),
        _c("tail_prob", "DOUBLE", "share of calibration typical steps scoring at least as high"),
        _c("is_anomaly", "BOOLEAN", "score above the threshold and no quality issue"),
        _c("latent_nll", "DOUBLE", "GMM negative log-likelihood of the latent mean"),
        _c("np_error", "DOUBLE", "localised error of the Neyman-Pearson head in the step"),
        _c("recon_error", "DOUBLE", "localised VAE reconstruction error in the step (baseline)"),
        _c("energy_score", "DOUBLE", "band-energy z-score of the window, max over bands (baseline)"),
        _c("quality_flag", "BOOLEAN", "window overlaps a quality issue or is not valid"),
        MODEL_VERSION,
        _c("combined", "DOUBLE", "GMM NLL + NP error, each standardised"),
        _c("offset_s", "DOUBLE", "start of the step's analysis window within its file, seconds "
           "(windows.offset_s; NULL in rows scored before it was kept)"),
    ), "day"),
    Table("detections", "One row per alarm: merged anomalous scoring steps (at most 60 s).", (
        DAY,
        _c("detection_id", "VARCHAR", "'<yyyymmdd>-<rank>', unique", not_null=True),
        _c("start_utc", "TIMESTAMP", "start of the first anomalous step (UTC)", not_null=True),
        _c("end_utc", "TIMESTAMP", "end of the last anomalous step (UTC)", not_null=True),
        _c("peak_utc", "TIMESTAMP", "start of the highest-scoring step (UTC)"),
        _c("peak_score", "DOUBLE", "highest production score of the alarm"),
        _c("peak_tail_prob", "DOUBLE", "tail_prob of the peak step"),
        _c("n_steps", "INTEGER", "anomalous scoring steps merged"),
        _c("band", "VARCHAR", "dominant band, e.g. '100-1000 Hz'"),
        _c("f_low_hz", "DOUBLE", "low edge of the dominant band, Hz"),
        _c("f_high_hz", "DOUBLE", "high edge of the dominant band, Hz"),
        _c("file", "VARCHAR", "archive file of the first step (relative path)"),
        _c("offset_s", "DOUBLE", "start within that file, seconds"),
        _c("rank_in_day", "INTEGER", "1 = the day's highest peak score"),
        MODEL_VERSION,
    ), "day"),
    Table("review_clips", "One row per rendered top detection: WAV, PNG, Raven table.", (
        DAY,
        _c("detection_id", "VARCHAR", "the detection (detections.detection_id)", not_null=True),
        _c("rank_in_day", "INTEGER", "rank of the detection in its day"),
        _c("wav_path", "VARCHAR", "WAV clip with context, relative to the data folder"),
        _c("png_path", "VARCHAR", "spectrogram with the detection boxed, relative to the data folder"),
        _c("raven_path", "VARCHAR", "the day's Raven selection table, relative to the data folder"),
        _c("clip_start_utc", "TIMESTAMP", "start of the clip (UTC)"),
        _c("clip_end_utc", "TIMESTAMP", "end of the clip (UTC)"),
        MODEL_VERSION,
    ), "day"),
    Table("reviews", "One row per reviewed detection: its latest imported verdict "
          "(aco review import).", (
        _c("detection_id", "VARCHAR", "the reviewed detection"),
        _c("begin_utc", "TIMESTAMP", "start of the reviewed detection (UTC)"),
        _c("verdict", "VARCHAR", "true_event | false_alarm | data_fault", not_null=True),
        _c("class_name", "VARCHAR", "class the reviewer named, if any"),
        _c("reviewer", "VARCHAR", "who reviewed"),
        _c("source_file", "VARCHAR", "the imported file the verdict came from"),
        _c("imported_at", "TIMESTAMP", "time of the import (UTC)"),
        MODEL_VERSION,
    ), "whole"),
    Table("evaluation_metrics", "One row per metric of a model version, method and subset.", (
        MODEL_VERSION,
        _c("method", "VARCHAR", "production, np, gmm_nll, combined, recon_error, energy, "
           "energy_1s, energy_5s", not_null=True),
        _c("metric", "VARCHAR", "auc, pauc, event_recall, precision_at_10, ...", not_null=True),
        _c("subset", "VARCHAR", "'all', 'test' / 'train' days, 'test:<class or SNR>', "
           "'reviews', 'detections'", not_null=True),
        _c("value", "DOUBLE", "the metric's value"),
        _c("evaluated_at", "TIMESTAMP", "time of the evaluation (UTC)"),
    ), "whole"),
)
# fmt: on

TABLES_BY_NAME = {t.name: t for t in TABLES}


@dataclass(frozen=True)
class View:
    """A view over the tables, with its comments (column name -> comment)."""

    name: str
    comment: str
    sql: str
    column_comments: dict[str, str]


DAILY_SUMMARY = View(
    "daily_summary",
    "One row per UTC day: coverage, windows, anomalous steps, detections.",
    """SELECT c.day, c.expected, c.found, c.missing, c.faulty, c.decodable_share,
       c.unreadable, c.misfiled,
       s.n_windows, s.n_steps, s.n_anomalous, s.max_score, s.model_version,
       coalesce(d.n_detections, 0) AS n_detections
FROM coverage c
LEFT JOIN (SELECT day, count(DISTINCT window_index) AS n_windows, count(*) AS n_steps,
                  count(*) FILTER (WHERE is_anomaly) AS n_anomalous,
                  max(score) AS max_score, max(model_version) AS model_version
           FROM anomaly_scores GROUP BY day) s USING (day)
LEFT JOIN (SELECT day, count(*) AS n_detections FROM detections GROUP BY day) d USING (day)""",
    {
        "day": "UTC day",
        "expected": "files a full day has (288)",
        "found": "files of the day in the archive",
        "missing": "expected five-minute starts with no file",
        "faulty": "files that are not 'ok'",
        "decodable_share": "decoded / expected samples (0 for a day without files)",
        "unreadable": "files of which nothing decodes",
        "misfiled": "files whose name is not a time of that day",
        "n_windows": "scored windows (NULL: the day is not scored)",
        "n_steps": "scored steps (anomaly_scores rows; 1 s each by default)",
        "n_anomalous": "scored steps with is_anomaly",
        "max_score": "highest production score of the day",
        "model_version": "newest model version that scored the day",
        "n_detections": "alarms of the day (detections)",
    },
)

#: The current typical selection: the one most recently selected (typical_selections).
TYPICAL_WINDOWS = View(
    "typical_windows",
    "The windows chosen as typical for training, and by which rule: the current selection.",
    """SELECT t.day, t.window_index, t.window_start, t.rules, t.selection_id
FROM typical_selection_windows t
WHERE t.selection_id = (SELECT selection_id FROM typical_selections
                        ORDER BY selected_at DESC, selection_id LIMIT 1)""",
    {
        "day": "UTC day of the window",
        "window_index": "row of the day's feature array (windows)",
        "window_start": "window start (UTC)",
        "rules": "rules that selected it, e.g. 'evening,low_traffic_month'",
        "selection_id": "the current selection (typical_selections)",
    },
)

VIEWS: tuple[View, ...] = (DAILY_SUMMARY, TYPICAL_WINDOWS)
