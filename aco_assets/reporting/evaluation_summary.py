"""What the ``evaluation`` page shows first: the headline in words and the alarms per day.

The alarms per day are a picture on every archive, with or without a ground-truth catalog (an
archive of real recordings has none, and its evaluation page had no picture at all). The rows
come from :mod:`aco_assets.storage.evaluation_store`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aco_assets.reporting.figures import bar_counts, png_bytes


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


def top_detections_markdown(rows: list[dict[str, Any]], version: int) -> str:
    """The highest-scoring detections of ``version`` (``detection_id, start_utc, end_utc, band,
    peak_score`` rows, highest first) as a table."""
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
