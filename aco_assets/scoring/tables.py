"""The table arguments of the evaluation: any tabular input as numpy columns, its error type.

All times are naive UTC, handled as ``datetime64[us]``. A "table" argument may be a
``pyarrow.Table``, a mapping of column name to 1-D array, or a sequence of row mappings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

Table = pa.Table | Mapping[str, Any] | Sequence[Mapping[str, Any]]


class EvaluationError(ValueError):
    """Raised for inputs the evaluation cannot use (missing columns, mismatched lengths, NaN)."""


def table_columns(table: Table, required: Sequence[str], *, name: str) -> dict[str, np.ndarray]:
    """Return the ``required`` columns of a table as 1-D numpy arrays.

    Parameters
    ----------
    table : pyarrow.Table, mapping of str to array-like, or sequence of row mappings
    required : column names that must be present
    name : what the table is, for error messages (e.g. ``"catalog"``)

    Returns
    -------
    dict of str to ndarray, each (n_rows,); timestamp columns as ``datetime64[us]``.
    """
    if isinstance(table, pa.Table):
        cols = {c: table.column(c).to_numpy(zero_copy_only=False) for c in table.column_names}
    elif isinstance(table, Mapping):
        cols = {c: np.asarray(v) for c, v in table.items()}
    else:
        rows = list(table)
        keys = set(required) | (set(rows[0]) if rows else set())
        cols = {c: np.asarray([r.get(c) for r in rows]) for c in keys}
    missing = [c for c in required if c not in cols]
    if missing:
        raise EvaluationError(f"{name} lacks column(s) {missing}; it has {sorted(cols)}")
    out = {}
    for c in cols:
        v = cols[c]
        if c.endswith("_utc") or c.startswith("window_"):
            v = _as_datetime64(v, column=c, name=name)
        out[c] = v
    lengths = {len(v) for v in out.values()}
    if len(lengths) > 1:
        raise EvaluationError(f"{name} columns have different lengths {sorted(lengths)}")
    return out


def _as_datetime64(v: np.ndarray, *, column: str, name: str) -> np.ndarray:
    try:
        return np.asarray(v).astype("datetime64[us]")
    except (TypeError, ValueError) as e:
        raise EvaluationError(f"{name} column {column!r} is not a time column: {v[:3]!r}") from e


def seconds(td: np.ndarray) -> np.ndarray:
    """A ``timedelta64`` array in float seconds."""
    return td.astype("timedelta64[us]").astype(np.float64) / 1e6
