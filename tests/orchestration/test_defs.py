"""The code location loads, every job resolves, and the webserver serves the asset graph."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg

from orchestration.definitions import defs

ROOT = Path(__file__).resolve().parents[2]
LINEAGE = {
    "raw_files",
    "spectrograms",
    "typical_windows",
    "detector",
    "anomaly_scores",
    "detections",
    "review_clips",
    "evaluation",
}


def test_definitions_load_and_every_job_resolves():
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert LINEAGE <= keys
    for name in ("ingest_job", "retrain_job", "detect_job", "evaluation_job", "daily_job"):
        assert defs.resolve_job_def(name).name == name
    assert {s.name for s in defs.schedules} >= {"nightly", "weekly_retrain"}


def test_per_day_assets_share_one_daily_partitioning_with_single_run_backfills():
    graph = defs.resolve_asset_graph()
    per_day = ["raw_files", "spectrograms", "anomaly_scores", "detections", "review_clips"]
    partitions = {graph.get(dg.AssetKey(k)).partitions_def for k in per_day}
    assert len(partitions) == 1
    for key in per_day:
        policy = graph.get(dg.AssetKey(key)).backfill_policy
        assert policy is not None and policy.max_partitions_per_run is None  # single run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_webserver_serves_the_lineage_over_graphql(tmp_path: Path):
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "ACO_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_webserver",
            "-w",
            str(ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: (
            signal.signal(signal.SIGINT, signal.SIG_DFL),
            signal.signal(signal.SIGTERM, signal.SIG_DFL),
        ),
    )
    try:
        query = json.dumps({"query": "{ assetNodes { assetKey { path } } }"}).encode()
        deadline, nodes = time.monotonic() + 120, None
        while time.monotonic() < deadline and nodes is None:
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql",
                    data=query,
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(req, timeout=5) as resp:
                    body = json.load(resp)
                nodes = body["data"]["assetNodes"]
            except (OSError, KeyError, TypeError):
                time.sleep(1)
        assert nodes is not None, "webserver did not answer GraphQL within 120 s"
        assert LINEAGE <= {"/".join(n["assetKey"]["path"]) for n in nodes}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
