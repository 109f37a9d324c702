"""Errors the `aco` command reports as one line (no traceback), with its exit status."""

from __future__ import annotations


class AcoInputError(ValueError):
    """Bad input from the user (a path, a day, a setting): one line naming it and the fix, exit 2."""

    exit_status = 2


class AcoRunError(RuntimeError):
    """A run that started but failed: one line naming the run and where to read more, exit 1."""

    exit_status = 1
