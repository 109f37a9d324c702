"""``make ui-check``: what a person sees in the Dagster UI after a multi-day run, in a real browser.

Writes the small synthetic ``test`` archive (two days), runs the lineage over three days as one
range (the day before the archive has no files) with a tiny detector, starts
``dagster-webserver`` on that data folder, loads pages in headless Chromium and asserts on the
rendered text:

- the partition page of each day of ``raw_files`` and ``anomaly_scores`` shows that day's own
  counts (read back from DuckDB), and no other day's;
- the day's score line is drawn inline (an ``<img>`` in the metadata table, not a
  "[Show Markdown]" button);
- ``evaluation`` shows its headline and the alarms per day inline;
- each asset check's page shows its description, never "No description provided".

Screenshots go to ``--out`` (default ``<data>/ui-check``). Exit status 0 when every assertion
holds; otherwise one line per failed assertion and status 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# A detector that trains in seconds on the two-day test archive (as tests/conftest.py).
TINY_DETECTOR = {"phase1_steps": 60, "phase2_steps": 20, "eras": 1, "seed": 0}
TINY_TYPICAL = {"min_typical_windows": 50, "evening_hours_hst": [19, 3]}
CHECKS = ("files_are_decodable", "features_are_finite", "anomaly_rate_in_band")


@dataclass
class Failure:
    page: str
    what: str


def find_browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit(
        "ui-check needs Chromium: apt-get install chromium (make ui-check installs it)"
    )


def build_data(data: Path) -> tuple[list[dt.date], dt.date, dt.date]:
    """The test archive under ``data/archive`` and the lineage run over it, each per-day job as
    one run over the whole range (a single-run backfill, as ``aco pipeline`` runs a range)."""
    from aco_assets.hydrophone import Archive
    from aco_assets.synth import write_archive

    archive = data / "archive"
    if not archive.is_dir():
        write_archive(archive, preset="test", seed=0, faults=True)
    days = Archive(archive).days()
    first, last = min(days) - dt.timedelta(days=1), max(days)
    if (data / "aco.duckdb").exists():
        return days, first, last
    os.environ.update(server_env(data))
    home = data / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    template = (PROJECT_ROOT / "dagster_home" / "dagster.yaml").read_text()
    # no "Join the Dagster community" dialog over the pages under test
    (home / "dagster.yaml").write_text(template + "nux:\n  enabled: false\n")
    import dagster as dg

    with warnings.catch_warnings():  # Dagster's beta / preview notes, of this build only
        warnings.filterwarnings("ignore", category=dg.BetaWarning)
        warnings.filterwarnings("ignore", category=dg.PreviewWarning)
        _run_lineage(first, last)
    return days, first, last


def _run_lineage(first: dt.date, last: dt.date) -> None:
    """Each per-day job as one run over ``first``..``last``, then training and evaluation."""
    import dagster as dg

    from orchestration.definitions import defs

    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

    span = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }
    workers = {"config": {"workers": 1}}
    runs = [
        ("ingest_job", {"ops": {"ingest": workers}}, span),
        (
            "retrain_job",
            {
                "ops": {
                    "typical_windows": {"config": TINY_TYPICAL},
                    "detector": {"config": TINY_DETECTOR},
                }
            },
            {},
        ),
        ("detect_job", {}, span),
        ("evaluation_job", {}, {}),
    ]
    with dg.DagsterInstance.get() as instance:
        for job, run_config, tags in runs:
            print(f"ui-check: {job} {' to '.join(tags.values()) or ''}", flush=True)
            defs.resolve_job_def(job).execute_in_process(
                instance=instance, run_config={**run_config, **quiet}, tags=tags
            )


def server_env(data: Path) -> dict[str, str]:
    """The settings that point the code location and the instance at ``data``."""
    from aco_assets.storage.layout import ENV_ARCHIVE_ROOT, ENV_DATA_DIR

    return {
        "DAGSTER_HOME": str(data / "dagster_home"),
        ENV_DATA_DIR: str(data),
        ENV_ARCHIVE_ROOT: str(data / "archive"),
    }


def day_counts(data: Path) -> dict[str, dict[str, int]]:
    """What each day's pages must say, straight from the warehouse."""
    from aco_assets.storage.warehouse import Warehouse

    warehouse = Warehouse(data / "aco.duckdb")
    scores = warehouse.query(
        "SELECT day, count(*), count(*) FILTER (WHERE is_anomaly) FROM anomaly_scores GROUP BY day"
    ).to_pylist()
    files = warehouse.query("SELECT day, found, missing FROM coverage").to_pylist()
    scores = [tuple(r.values()) for r in scores]
    files = [tuple(r.values()) for r in files]
    counts: dict[str, dict[str, int]] = {}
    for day, n, a in scores:
        counts.setdefault(str(day), {}).update(windows=n, anomalous=a)  # n: scoring steps
    for day, found, missing in files:
        counts.setdefault(str(day), {}).update(found=found, missing=missing)
    return counts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_webserver(data: Path, port: int, log) -> subprocess.Popen:
    env = {**os.environ, **server_env(data)}
    command = [sys.executable, "-m", "dagster_webserver", "-w", "workspace.yaml"]
    command += ["-h", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_default_signals,  # SIGTERM stops it even from a non-interactive shell
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"dagster-webserver exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                return process
        except OSError:
            time.sleep(1)
    process.terminate()
    raise SystemExit(f"dagster-webserver did not answer on port {port} within 180 s")


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def render(browser: str, url: str, screenshot: Path | None, *, wait_ms: int = 20000) -> str:
    """The DOM of ``url`` after the page's scripts ran, and a screenshot of it if asked."""
    common = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--virtual-time-budget={wait_ms}",
        "--window-size=1400,1800",
    ]
    with tempfile.TemporaryDirectory() as profile:
        flags = [*common, f"--user-data-dir={profile}"]
        dom = subprocess.run(
            [browser, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=180
        ).stdout
        if screenshot is not None:
            subprocess.run(
                [browser, *flags, f"--screenshot={screenshot}", url],
                capture_output=True,
                timeout=180,
            )
    return dom


def text_of(dom: str) -> str:
    """Visible text of a DOM dump: tags dropped, whitespace collapsed."""
    import html
    import re

    body = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def check_pages(browser: str, base: str, counts, days: list[str], out: Path) -> list[Failure]:
    failures: list[Failure] = []

    def expect(page: str, ok: bool, what: str) -> None:
        if not ok:
            failures.append(Failure(page, what))

    for day in days:
        c = counts.get(day, {})
        page = f"anomaly_scores {day}"
        dom = render(
            browser,
            f"{base}/assets/anomaly_scores?view=partitions&partition={day}",
            out / f"anomaly_scores_{day}.png" if day == days[-1] or not c.get("windows") else None,
        )
        text = text_of(dom)
        if c.get("windows"):
            want = f"{day}: {c['anomalous']} of {c['windows']} "  # its rows: 1 s scoring steps
            expect(page, want in text, f"shows '{want}'")
            expect(page, "data:image/svg+xml" in dom, "draws the day's score line inline")
        else:
            expect(page, f"{day}: no windows to score" in text, "says the day has no windows")
        others = [d for d in days if d != day and counts.get(d, {}).get("windows")]
        for other in others:
            expect(page, f"{other}: " not in text, f"shows nothing of {other}")
        page = f"raw_files {day}"
        text = text_of(
            render(
                browser,
                f"{base}/assets/raw_files?view=partitions&partition={day}",
                out / f"raw_files_{day}.png" if day == days[-1] else None,
            )
        )
        want = f"{day}: {c.get('found', 0)} of 288 "
        expect(page, want in text, f"shows '{want}'")
    dom = render(browser, f"{base}/assets/evaluation?view=events", out / "evaluation.png")
    expect("evaluation", " day(s): " in text_of(dom), "shows its headline")
    expect("evaluation", "data:image/svg+xml" in dom, "draws the alarms per day inline")
    for asset, check in (
        ("raw_files", "files_are_decodable"),
        ("spectrograms", "features_are_finite"),
        ("anomaly_scores", "anomaly_rate_in_band"),
        ("typical_windows", "enough_typical_windows"),
    ):
        page = f"check {check}"
        text = text_of(
            render(
                browser,
                f"{base}/assets/{asset}?view=checks&checkDetail={check}",
                out / f"check_{check}.png" if asset == "anomaly_scores" else None,
            )
        )
        expect(page, check in text, "names the check")
        expect(page, "No description provided" not in text, "has a description")
        if check in CHECKS:  # evaluated per day: the latest result names its day
            expect(page, any(f"{d}: " in text for d in days), "shows a day's own result")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ui_check", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="data folder to build and serve (default: a temporary one)")
    parser.add_argument("--out", help="folder for the screenshots (default <data>/ui-check)")
    parser.add_argument("--port", type=int, default=0, help="webserver port (default: a free one)")
    args = parser.parse_args(argv)
    browser = find_browser()
    data = Path(args.data or tempfile.mkdtemp(prefix="aco-ui-check-")).resolve()
    data.mkdir(parents=True, exist_ok=True)
    out = Path(args.out or data / "ui-check").resolve()
    out.mkdir(parents=True, exist_ok=True)
    print(f"ui-check: building the lineage in {data}", flush=True)
    days, first, last = build_data(data)
    counts = day_counts(data)
    keys = [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    port = args.port or free_port()
    with open(out / "webserver.log", "w") as log:
        server = start_webserver(data, port, log)
        try:
            failures = check_pages(browser, f"http://127.0.0.1:{port}", counts, keys, out)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    for f in failures:
        print(f"ui-check FAILED: {f.page}: {f.what} (screenshots in {out})")
    if not failures:
        print(f"ui-check passed: {len(keys)} days, per-day pages and check descriptions ({out})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
