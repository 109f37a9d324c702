"""A quiet console for the `aco` command: one line per stage, each fault once, our warnings only.

- :func:`configure` sets up logging for a command: warnings and errors only (everything with
  ``-v``), since each command prints what it did; each distinct warning line is shown once (the
  codec reports a file's fault when it is inventoried and again when its features are
  computed); warnings raised by libraries (MLflow's type-hint hint, Dagster's beta notices) go
  to the ``py.warnings`` logger at DEBUG, shown with ``-v``, while warnings of our own code stay
  on the console; MLflow's download bars and its own log lines are off (its errors show).
- :class:`StageProgress` is a logging handler for the records of a Dagster run: one line per
  step (its progress rewritten in place on a terminal, its final count and time otherwise), and
  the step's own warnings once each, and whom a step waits for when a pool is busy.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

OUR_PACKAGES = ("aco_assets", "ml", "orchestration", "benchmarks")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
_PROGRESS = re.compile(r"^(?P<what>.+): (?P<done>\d+)/(?P<total>\d+)$")
_BLOCKED = re.compile(r"^Step blocked by limit for pool (?P<pool>\S+)")
_DIRS = re.compile(r"[^\s,:'\"]*/(?=[^/\s,:'\"]+)")


def _is_ours(filename: str) -> bool:
    try:
        rel = Path(filename).resolve().relative_to(PROJECT_ROOT)
    except ValueError:
        return False
    return rel.parts[0] in OUR_PACKAGES if rel.parts else False


def same_message_key(message: str) -> str:
    """A message with the directories of its paths removed (one fault, relative or absolute)."""
    return _DIRS.sub("", message)


class OncePerMessage(logging.Filter):
    """Let each distinct WARNING-or-worse message through once (INFO and below always pass)."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = same_message_key(record.getMessage())
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if _is_ours(filename):
        text = warnings.formatwarning(message, category, filename, lineno, line)
        (file or sys.stderr).write(text)
    else:
        logging.getLogger("py.warnings").debug(
            "%s: %s (%s:%s)", category.__name__, message, filename, lineno
        )


def configure(*, verbose: bool = False) -> None:
    """Logging and warnings for one `aco` command (call once, before the command runs)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(OncePerMessage())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    for name in OUR_PACKAGES:  # their INFO lines (a model saved, a gap found) are for -v
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)
    if not verbose:
        # MLflow installs its own handlers at import (INFO lines of its database setup, a
        # CloudPickle notice per logged model) unless told not to; its errors still show
        os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
        for name in ("mlflow", "alembic"):
            lib = logging.getLogger(name)
            lib.setLevel(logging.ERROR)
            lib.handlers[:] = []
            lib.propagate = True
    warnings.showwarning = _show_warning


class StageProgress(logging.Handler):
    """One console line per step of a Dagster run, fed the run's log records.

    Parameters
    ----------
    stream
        Where the lines go (default: standard error). On a terminal the current step's progress
        is rewritten in place; otherwise each step prints one line when it ends.
    """

    def __init__(
        self, stream: TextIO | None = None, *, pool_holders: Callable[[str], str] | None = None
    ) -> None:
        super().__init__(level=logging.DEBUG)
        self.pool_holders = pool_holders or (lambda pool: "another run")
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._step: str | None = None
        self._t0 = 0.0
        self._progress = ""
        self._seen: set[str] = set()

    def _write(self, text: str, *, final: bool) -> None:
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        elif final:
            self.stream.write(text + "\n")
        self.stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None)
        if not meta:
            return
        event, step = meta.get("dagster_event"), meta.get("step_key")
        if event is not None:
            blocked = _BLOCKED.match(event.message or "")
            if blocked and step:
                pool = blocked["pool"]
                self._write(f"  {step}: waiting for {self.pool_holders(pool)} holding the {pool} "
                            "pool; Ctrl-C stops", final=True)  # fmt: skip
            self._on_event(event.event_type_value, step)
            return
        message = str(meta.get("orig_message", ""))
        progress = _PROGRESS.match(message)
        if progress and step:
            self._progress = f"{progress['what']} {progress['done']}/{progress['total']}"
            self._write(f"  {step}: {self._progress}", final=False)
        elif record.levelno >= logging.WARNING:
            key = same_message_key(message)
            if key not in self._seen:
                self._seen.add(key)
                self._write(f"  {step or 'run'}: {logging.getLevelName(record.levelno).lower()}: "
                            f"{message}", final=True)  # fmt: skip

    def _on_event(self, kind: str, step: str | None) -> None:
        if kind in ("STEP_START", "STEP_RESTARTED") and step:
            self._step, self._t0, self._progress = step, time.monotonic(), ""
            self._write(f"  {step} ...", final=False)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_UP_FOR_RETRY") and step:
            seconds = time.monotonic() - self._t0 if step == self._step else 0.0
            outcome = {"STEP_SUCCESS": "done", "STEP_FAILURE": "FAILED"}.get(kind, "failed")
            detail = f", {self._progress}" if self._progress else ""
            again = "; will retry" if kind == "STEP_UP_FOR_RETRY" else ""
            self._write(f"  {step}: {outcome} in {seconds:.1f} s{detail}{again}", final=True)
            self._step = None
