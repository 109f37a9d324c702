"""What the ``evaluation`` page shows first: the headline in words and the alarms per day.

The alarms per day are a picture on every archive, with or without a ground-truth catalog (an
archive of real recordings has none, and its evaluation page had no picture at all).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aco_assets.reporting.figures import bar_counts, png_bytes
from aco_assets.storage.warehouse import Warehouse


def alarms_per_day(warehouse: Warehouse, version: int) -> list[tuple[str, int]]:
    """(day, detections) of every day scored by ``version``, in time order (0 for none)."""
    rows = warehouse.query(
        """SELECT s.day, count(d.detection_id) AS n
           FROM (SELECT DISTINCT day FROM anomaly_scores WHERE model_version = ?) s
           LEFT JOIN detections d ON d.day = s.day AND d.model_version = ?
           GROUP BY s.day ORDER BY s.day""",
        [version, version],
    ).to_pylist()
    return [(str(r["day"]), int(r["n"])) for r in rows]


def headline(version: int, days: int, n_detections: int, rows: list[dict[str, Any]]) -> str:
    """The figures a person reads first, in words with units."""
    value = {(r["method"], r["metric"], r["subset"]): r["value"] for r in rows}
    text = (
        f"model v{version} over {days} day(s): {n_detections} detections, "
        f"{n_detections / max(days, 1):.1f} alarms a day"
    )
    if ("production", "event_recall", "all") in value:
        text += (
            f"; {100 * value['production', 'event_recall', 'all']:.0f} % of "
            f"{value['production', 'n_events', 'all']:.0f} catalogued events detected, "
            f"{100 * value['production', 'detection_precision', 'all']:.0f} % of detections "
            f"true, window AUC {value['production', 'auc', 'all']:.2f}"
        )
    else:
        text += "; no ground-truth catalog beside the archive, so no recall or AUC"
    return text


def alarms_figure(per_day: list[tuple[str, int]], version: int, directory: Path) -> bytes:
    """A bar per day (saved full size as ``alarms_per_day.png``); returns a small PNG."""
    directory.mkdir(parents=True, exist_ok=True)
    labels = [d for d, _ in per_day]
    fig = bar_counts(labels, [n for _, n in per_day], title=f"model v{version}: detections per day")
    fig.savefig(directory / "alarms_per_day.png", dpi=100)
    return png_bytes(fig, dpi=50)


def top_detections_markdown(warehouse: Warehouse, version: int, *, limit: int = 10) -> str:
    """The ``limit`` highest-scoring detections of ``version`` over every day, as a table."""
    rows = warehouse.query(
        "SELECT detection_id, start_utc, end_utc, band, peak_score FROM detections "
        "WHERE model_version = ? ORDER BY peak_score DESC LIMIT ?",
        [version, limit],
    ).to_pylist()
    if not rows:
        return f"model v{version}: no detections"
    lines = [
        "| detection | start (UTC) | length (s) | band | peak score |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['detection_id']} | {r['start_utc']:%Y-%m-%d %H:%M:%S} | "
        f"{(r['end_utc'] - r['start_utc']).total_seconds():.0f} | {r['band']} | "
        f"{r['peak_score']:.3g} |"
        for r in rows
    ]
    return "\n".join(lines)
