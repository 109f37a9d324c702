"""`make test-scale`: the lineage through the deployment shape, checked against a local run.

Starts, on 127.0.0.1, a real PostgreSQL (Dagster's run, event-log and schedule storage, and
MLflow's tracking and registry), an S3-compatible server (moto: the archive and MLflow's
artifacts) and a ``dask.distributed`` cluster of 2 workers, then:

1. writes 3 days of the synthetic test archive and uploads it to S3;
2. **scale run**: ``aco pipeline --executor dask`` over the 3 days (ingest, train, detect): the
   archive read from S3, the derived data (features, per-day tables) written to S3, the instance
   on Postgres, MLflow on Postgres with artifacts on S3, every step on a Dask worker, one run
   per day, two days at once;
3. **local run**: ``aco pipeline`` as ``make demo`` runs it (SQLite instance, steps in
   process) on the same archive, ingest and detect, scoring with the champion the scale run
   trained (the same MLflow store): training is not repeated, so the model is the same one and
   every score can be compared;
4. asserts, through each data folder's ``aco.duckdb`` (:meth:`Warehouse.query`), that every
   per-day table holds the same rows in both; that the Dagster runs and the registered model are
   in Postgres and the model's artifacts on S3; that the steps ran in the Dask workers' processes;
   and that two days whose steps overlapped in time on two workers are both complete.

Everything it starts is stopped at the end, also on failure (``--keep DIR`` keeps the files).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from orchestration.checks.scale_services import (
    PROJECT_ROOT,
    Postgres,
    S3Server,
    ServiceError,
    dask_cluster,
    postgres,
    s3_server,
)

DAYS = 3
START = "2016-11-30"
ARCHIVE_BUCKET, STORE_BUCKET, MLFLOW_BUCKET = "aco-archive", "aco-store", "aco-mlflow"
ARCHIVE_URL, STORE_URL = f"s3://{ARCHIVE_BUCKET}/archive", f"s3://{STORE_BUCKET}/scale"
# a model that trains in seconds on 3 days of 3 files (tests/conftest.py: TINY_DETECTOR)
DETECTOR = {"phase1_steps": 60, "phase2_steps": 20, "eras": 1, "seed": 0,
            "false_alarms_per_hour": 12.0}  # fmt: skip
TYPICAL = {"min_typical_windows": 50, "evening_hours_hst": [19, 3]}
# the per-day tables and the columns that identify a row
PER_DAY_TABLES = {
    "raw_files": ("day", "path"),
    "coverage": ("day",),
    "windows": ("day", "window_index"),
    "quality_issues": ("day", "file", "kind", "start_utc", "end_utc", "detail"),
    "anomaly_scores": ("day", "window_index", "step"),
    "detections": ("day", "detection_id"),
    "review_clips": ("day", "detection_id"),
}
# columns naming a file in a folder versioned by the time and pid of its writer
# (review/.versions/<day>/<UTC time>-<pid>/...): compared by file name, and the WAVs by content
VERSIONED_PATHS = {"review_clips": ("wav_path", "png_path", "raven_path")}
STEP_EVENTS = ("STEP_START", "STEP_SUCCESS")


class ScaleCheckError(AssertionError):
    """The scale run and the local run disagree, or the deployment shape was not used."""


def say(text: str) -> None:
    print(f"[test-scale {time.strftime('%H:%M:%S')}] {text}", flush=True)


def aco(*argv: str, env: dict[str, str], log: Path) -> None:
    """Run ``aco ARGV`` as a user does; its output goes to ``log`` (tail shown on failure)."""
    with open(log, "w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "orchestration.cli.main", *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=PROJECT_ROOT,
        )
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise ScaleCheckError(f"aco {argv[0]} failed ({done.returncode}), {log}:\n{tail}")


def base_environment() -> dict[str, str]:
    """This environment without settings that would point the runs elsewhere."""
    drop = ("ACO_", "DAGSTER_", "MLFLOW_", "AWS_", "DASK_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


@dataclass(frozen=True)
class Deployment:
    """The settings of the scale run (what a Helm chart's values would set)."""

    pg: Postgres
    s3: S3Server

    def environment(self) -> dict[str, str]:
        return {
            **base_environment(),
            **self.s3.environment(),
            "ACO_DAGSTER_POSTGRES_URL": self.pg.url("dagster"),
            "ACO_STORE_ROOT": STORE_URL,
            "MLFLOW_TRACKING_URI": self.pg.url("mlflow"),
            "ACO_MLFLOW_ARTIFACT_LOCATION": f"s3://{MLFLOW_BUCKET}/artifacts",
        }

    def mlflow_only(self) -> dict[str, str]:
        """A local run's environment that scores with the scale run's champion."""
        env = self.environment()
        del env["ACO_DAGSTER_POSTGRES_URL"], env["ACO_STORE_ROOT"]
        return env


def run(work: Path) -> None:
    started = time.monotonic()
    archive = work / "archive"
    say(f"writing {DAYS} days of the test archive to {archive}")
    aco("synth", "--preset", "test", "--days", str(DAYS), "--start", START, "--out",
        str(archive), "--seed", "0", "--quiet", env=base_environment(),
        log=work / "synth.log")  # fmt: skip
    with ExitStack() as stack:
        say("starting PostgreSQL, the S3 server (moto) and a Dask cluster of 2 workers")
        pg = stack.enter_context(postgres(work / "postgres", databases=["dagster", "mlflow"]))
        s3 = stack.enter_context(
            s3_server(work, buckets=[ARCHIVE_BUCKET, STORE_BUCKET, MLFLOW_BUCKET])
        )
        deployment = Deployment(pg=pg, s3=s3)
        os.environ.update(s3.environment())  # this process reads the scale run's tables on S3
        n = s3.upload_tree(archive, ARCHIVE_BUCKET, "archive")
        say(f"  postgres on port {pg.port}, S3 at {s3.endpoint_url} ({n} archive files uploaded)")
        cluster = stack.enter_context(dask_cluster(work, n_workers=2, env=deployment.environment()))
        say(f"  dask scheduler {cluster.address}, workers pids {cluster.worker_pids}")

        scale_data, local_data = work / "scale", work / "local"
        t0 = time.monotonic()
        say(
            f"scale run: aco pipeline --executor dask, archive {ARCHIVE_URL}, store {STORE_URL}, "
            "Dagster and MLflow on Postgres, MLflow artifacts on S3"
        )
        aco("pipeline", "--archive", ARCHIVE_URL, "--data", str(scale_data),
            "--executor", "dask", "--dask-scheduler", cluster.address,
            "--stage", "ingest", "--stage", "train", "--stage", "detect", "--retrain",
            "--detector-config", json.dumps(DETECTOR), "--typical-config", json.dumps(TYPICAL),
            env=deployment.environment(), log=work / "scale-run.log")  # fmt: skip
        say(f"  done in {time.monotonic() - t0:.0f} s")
        t0 = time.monotonic()
        say(
            "local run: aco pipeline in process, local archive and store, SQLite instance, "
            "scoring with the same champion"
        )
        aco("pipeline", "--archive", str(archive), "--data", str(local_data),
            "--stage", "ingest", "--stage", "detect", "--workers", "1",
            env=deployment.mlflow_only(), log=work / "local-run.log")  # fmt: skip
        say(f"  done in {time.monotonic() - t0:.0f} s")

        compared = compare_tables(scale_data, local_data)
        say("same rows in both runs: " + ", ".join(f"{t} {n}" for t, n in compared.items()))
        check_deployment_was_used(deployment, cluster.worker_pids)
        overlap = check_concurrent_days(deployment, cluster.worker_pids, scale_data)
        say(overlap)
    say(f"passed in {time.monotonic() - started:.0f} s; every server stopped")


# -- the checks ----------------------------------------------------------------------------------


def _query(data: Path, sql: str):
    from aco_assets.storage.warehouse import Warehouse

    return Warehouse(data / "aco.duckdb").query(sql)


def compare_tables(scale: Path, local: Path) -> dict[str, int]:
    """Every per-day table: the same rows (all columns, exactly) in both data folders."""
    counts = {}
    for table, key in PER_DAY_TABLES.items():
        order = ", ".join(f'"{c}" NULLS FIRST' for c in key)
        paths = VERSIONED_PATHS.get(table, ())
        names = ", ".join(f'regexp_extract("{c}", \'[^/]+$\') AS "{c}"' for c in paths)
        columns = f"* REPLACE ({names})" if paths else "*"
        sql = f'SELECT {columns} FROM "{table}" ORDER BY {order}'
        a, b = _query(scale, sql), _query(local, sql)
        if a.num_rows == 0 and table not in ("quality_issues", "review_clips"):
            raise ScaleCheckError(f"{table}: no rows in the scale run")
        if a.column_names != b.column_names or a.num_rows != b.num_rows:
            raise ScaleCheckError(
                f"{table}: scale run {a.num_rows} rows {a.column_names}, local run "
                f"{b.num_rows} rows {b.column_names}"
            )
        for name in a.column_names:
            if not a[name].equals(b[name]):
                x, y = a[name].to_pylist(), b[name].to_pylist()
                i = next(i for i, (u, v) in enumerate(zip(x, y, strict=True)) if u != v)
                row = {c: a[c][i].as_py() for c in key}
                raise ScaleCheckError(
                    f"{table}.{name} differs at {row}: scale run {x[i]!r}, local run {y[i]!r}"
                )
        counts[table] = a.num_rows
    _compare_clips(scale, local)
    return counts


def _compare_clips(scale: Path, local: Path) -> None:
    """The review clips (WAV) of both runs hold the same bytes."""
    sql = "SELECT detection_id, wav_path FROM review_clips ORDER BY detection_id"
    a, b = _query(scale, sql).to_pylist(), _query(local, sql).to_pylist()
    for x, y in zip(a, b, strict=True):
        if (scale / x["wav_path"]).read_bytes() != (local / y["wav_path"]).read_bytes():
            raise ScaleCheckError(
                f"review clip of {x['detection_id']}: {scale / x['wav_path']} and "
                f"{local / y['wav_path']} differ"
            )


def _pg_rows(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    import psycopg2

    with psycopg2.connect(url.replace("+psycopg2", "")) as con, con.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def check_deployment_was_used(deployment: Deployment, worker_pids: tuple[int, ...]) -> None:
    """The runs are in Postgres, the model in MLflow's Postgres store with artifacts on S3."""
    runs = _pg_rows(
        deployment.pg.url("dagster"), "SELECT pipeline_name, status FROM runs ORDER BY id"
    )
    jobs = sorted({job for job, _ in runs})
    if not runs or any(status != "SUCCESS" for _, status in runs):
        raise ScaleCheckError(f"Dagster runs in Postgres: {runs}")
    if jobs != ["detect_job", "ingest_job", "retrain_job"]:
        raise ScaleCheckError(f"jobs in Postgres: {jobs}")
    versions = _pg_rows(
        deployment.pg.url("mlflow"), "SELECT version, source FROM model_versions ORDER BY version"
    )
    if len(versions) != 1:
        raise ScaleCheckError(f"registered model versions in MLflow's Postgres: {versions}")
    locations = _pg_rows(deployment.pg.url("mlflow"), "SELECT artifact_uri FROM runs")
    if not locations or not all(uri.startswith(f"s3://{MLFLOW_BUCKET}/") for (uri,) in locations):
        raise ScaleCheckError(f"MLflow run artifact locations: {locations}")
    artifacts = deployment.s3.keys(MLFLOW_BUCKET)
    if not artifacts:
        raise ScaleCheckError(f"no MLflow artifacts in s3://{MLFLOW_BUCKET}")
    stored = deployment.s3.keys(STORE_BUCKET, "scale/")
    for table in PER_DAY_TABLES:
        days = [k for k in stored if k.startswith(f"scale/tables/{table}/day=")]
        if len(days) != DAYS:
            raise ScaleCheckError(f"{STORE_URL}/tables/{table}: {len(days)} day files: {days}")
    features = [k for k in stored if k.startswith("scale/features/") and k.endswith(".npy")]
    if len(features) != DAYS:
        raise ScaleCheckError(f"{STORE_URL}/features: {features}")
    say(
        f"{len(runs)} Dagster runs in Postgres ({', '.join(jobs)}), model version "
        f"{versions[0][0]} in MLflow's Postgres, {len(artifacts)} artifact files on S3, "
        f"the per-day tables and features in {STORE_URL} ({len(stored)} objects)"
    )


def _step_intervals(url: str) -> list[dict]:
    """(run, day, step, pid, start, end) of every step of the per-day runs, from Postgres."""
    rows = _pg_rows(
        url,
        "SELECT e.run_id, e.step_key, e.dagster_event_type, e.event, t.value "
        "FROM event_logs e JOIN runs r ON r.run_id = e.run_id "
        "JOIN run_tags t ON t.run_id = e.run_id AND t.key = %s "
        "WHERE e.dagster_event_type IN %s AND r.pipeline_name IN ('ingest_job', 'detect_job')",
        ("dagster/asset_partition_range_start", STEP_EVENTS),
    )
    steps: dict[tuple[str, str], dict] = {}
    for run_id, step_key, kind, event, day in rows:
        record = json.loads(event)
        entry = steps.setdefault((run_id, step_key), {"run": run_id, "step": step_key, "day": day})
        entry["pid"] = record["dagster_event"]["pid"]
        entry["start" if kind == "STEP_START" else "end"] = record["timestamp"]
    return [s for s in steps.values() if "start" in s and "end" in s]


def check_concurrent_days(deployment: Deployment, worker_pids: tuple[int, ...], scale: Path) -> str:
    """Steps ran in the workers' processes, and two days were written at the same time by two
    workers; both of those days are complete (every file, window and step of the day)."""
    steps = _step_intervals(deployment.pg.url("dagster"))
    outside = sorted({s["pid"] for s in steps} - set(worker_pids))
    if not steps or outside:
        raise ScaleCheckError(f"steps ran outside the Dask workers {worker_pids}: pids {outside}")
    pairs = [
        (a, b)
        for a in steps
        for b in steps
        if a["step"] == b["step"] and a["day"] < b["day"] and a["pid"] != b["pid"]
        and a["start"] < b["end"] and b["start"] < a["end"]
    ]  # fmt: skip
    if not pairs:
        raise ScaleCheckError(
            "no two days ran at the same time on two workers: " + json.dumps(steps, indent=1)
        )
    a, b = max(
        pairs, key=lambda p: min(p[0]["end"], p[1]["end"]) - max(p[0]["start"], p[1]["start"])
    )
    for day in (a["day"], b["day"]):
        _check_day_complete(scale, dt.date.fromisoformat(day))
    seconds = min(a["end"], b["end"]) - max(a["start"], b["start"])
    return (
        f"{a['step']} of {a['day']} (worker pid {a['pid']}) and of {b['day']} (worker pid "
        f"{b['pid']}) ran {seconds:.1f} s at the same time; both days are complete"
    )


def _check_day_complete(data: Path, day: dt.date) -> None:
    from aco_assets.hydrophone import Archive

    where = f"day = DATE '{day}'"
    (found,) = _query(data, f"SELECT found FROM coverage WHERE {where}")["found"].to_pylist()
    files = _query(data, f"SELECT count(*) AS n FROM raw_files WHERE {where}")["n"][0].as_py()
    windows = _query(data, f"SELECT count(*) AS n FROM windows WHERE {where}")["n"][0].as_py()
    scores = _query(data, f"SELECT count(DISTINCT window_index) AS n FROM anomaly_scores "
                          f"WHERE {where}")["n"][0].as_py()  # fmt: skip
    expected = len(Archive(data.parent / "archive").day_files(day))
    if not (found == files == expected and windows > 0 and scores == windows):
        raise ScaleCheckError(
            f"{day} is incomplete: {files} of {expected} files, {found} found in coverage, "
            f"{scores} of {windows} windows scored"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.checks.scale_check", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="work in this folder and keep it (default: a temporary folder, removed)",
    )
    args = parser.parse_args(argv)
    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so every server is stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            run(args.keep.resolve())
        else:
            with tempfile.TemporaryDirectory(prefix="aco-test-scale-") as tmp:
                run(Path(tmp))
    except (ScaleCheckError, ServiceError) as e:
        print(f"test-scale FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
