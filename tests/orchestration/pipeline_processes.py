"""Helpers for tests that run `aco` as a user does: in subprocesses, on the persistent instance
that `aco pipeline` keeps under the data folder (``<data>/dagster_home``)."""

from __future__ import annotations

import queue
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "dagster_home" / "dagster.yaml"


def user_environment(**extra: str) -> dict[str, str]:
    """This process's environment without the settings in-process tests leave behind."""
    from orchestration.studies.yardstick import seed_environment

    env = {k: v for k, v in seed_environment().items() if k != "ACO_FIRST_DAY"}
    return {**env, **extra}


def aco(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli.main", *argv],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
        env=env or user_environment(),
    )


class Aco:
    """A running `aco` subprocess whose standard error is read line by line as it comes."""

    def __init__(self, *argv: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli.main", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env or user_environment(),
            start_new_session=True,  # its own process group, to kill it and its workers at once
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.stdout = ""

    def _read(self) -> None:
        for line in self.proc.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, text: str, *, limit_s: float = 600) -> str:
        """The first line of standard error containing ``text`` (fails if the process ends)."""
        deadline = time.monotonic() + limit_s
        for line in self.lines:
            if text in line:
                return line
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"aco ended before printing {text!r}:\n{self.stderr}")
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} within {limit_s} s:\n{self.stderr}")

    def wait(self) -> int:
        self.stdout = self.proc.stdout.read()
        status = self.proc.wait(timeout=900)
        while (line := self._queue.get(timeout=30)) is not None:
            self.lines.append(line)
        return status

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def data_instance(data: Path):
    """The persistent instance of a data folder, as `aco pipeline` configures it."""
    home = data / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(TEMPLATE, home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def count(data: Path, sql: str) -> int:
    from aco_assets.storage.warehouse import Warehouse

    return Warehouse(data / "aco.duckdb").query(sql).column(0)[0].as_py()
