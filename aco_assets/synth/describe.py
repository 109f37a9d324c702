"""``aco synth --describe``: what the realistic preset measures in the recordings folder.

The text is Markdown, printed from the measurement itself (the docs quote it; nothing is
copied by hand).
"""

from __future__ import annotations

import collections
import os
from pathlib import Path

import numpy as np

from aco_assets.synth.bed import (
    ENERGY_THRESHOLD_DB,
    LOW_BAND_THRESHOLD_DB,
    MAX_EQ_DB,
    TONALITY_THRESHOLD_DB,
)
from aco_assets.synth.calls import CALL_THRESHOLD_DB, Call
from aco_assets.synth.errors import SynthError
from aco_assets.synth.realistic import load_library
from aco_assets.synth.sounds import ORCA_CATALOG_DIR


def _seconds(runs: list[tuple[int, int]]) -> str:
    return ", ".join(f"{a}-{b}" for a, b in runs) or "none"


def _calls_table(calls: list[Call]) -> list[str]:
    by_file: dict[str, list[Call]] = collections.defaultdict(list)
    for c in calls:
        rel = c.source.split("@")[0]
        folder = rel.split("/")[0]
        by_file[f"{folder}/*" if folder == ORCA_CATALOG_DIR else rel].append(c)
    lines = ["| recording | calls | duration s | band Hz (median low-high) |", "|---|---|---|---|"]
    for rel, cs in sorted(by_file.items()):
        d = np.array([c.samples.size / 24000 for c in cs])
        low, high = np.median([c.low_hz for c in cs]), np.median([c.high_hz for c in cs])
        lines.append(f"| {rel} | {len(cs)} | {d.min():.2f}-{d.max():.2f} | {low:.0f}-{high:.0f} |")
    return lines


def describe(sounds_dir: str | os.PathLike) -> str:
    """Markdown summary of the background seconds kept and the calls cut from ``DIR``.

    Raises
    ------
    SynthError
        If ``DIR`` lacks a recording the realistic preset needs.
    """
    lib = load_library(sounds_dir)
    out = [
        "Background rule: exclude a second whose 100-2000 Hz or 2-8 kHz power is more than "
        f"{ENERGY_THRESHOLD_DB:g} dB above the recording's median second, or whose 20-100 Hz "
        f"power is more than {LOW_BAND_THRESHOLD_DB:g} dB above it, or either of whose halves "
        f"has a 120-450 Hz tonality more than {TONALITY_THRESHOLD_DB:g} dB above the median; "
        "exclude the known song section and the neighbours of every excluded second. EQ "
        f"clamped to +-{MAX_EQ_DB:g} dB.",
        "",
        "| recording | s | kept s | excluded: energy / tonality / song / guard | EQ dB | kept runs (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in lib.bed:
        why = " / ".join(str(r.reasons[k]) for k in ("energy", "tonality", "song_section", "guard"))
        eq = f"{r.eq_range_db[0]:+.1f} to {r.eq_range_db[1]:+.1f}"
        out.append(
            f"| {r.rel} | {r.duration_s:.0f} | {int(r.kept.sum())} | {why} | {eq} | "
            f"{_seconds(r.runs_s())} |"
        )
    total = sum(int(r.kept.sum()) for r in lib.bed)
    out += ["", f"Seconds kept in all: {total}.", ""]
    out += [f"Humpback units (cut at +{CALL_THRESHOLD_DB:g} dB, 0.5-4 s):", ""]
    out += _calls_table(lib.humpback) + ["", "Orca calls:", ""] + _calls_table(lib.orca)
    p = lib.ping
    out += [
        "",
        f"OOI ping ({p.ping.source}): {p.n_pings_seen} pings seen, period {p.period_s:.3f} s, "
        f"ping {1000 * p.ping.samples.size / 24000:.0f} ms; share of its energy above 5 kHz "
        f"that lies below 12 kHz (the ACO Nyquist): {100 * p.share_below_nyquist:.1f} %.",
    ]
    return "\n".join(out)


MARK_START, MARK_END = "<!-- realistic-describe:start -->", "<!-- realistic-describe:end -->"


def update_docs(sounds_dir: str | os.PathLike, doc: str | os.PathLike) -> Path:
    """Replace the text between the describe markers of ``doc`` by :func:`describe`'s output.

    Raises
    ------
    SynthError
        If ``doc`` lacks the markers, or ``DIR`` lacks a recording.
    """
    path = Path(doc)
    text = path.read_text()
    if MARK_START not in text or MARK_END not in text:
        raise SynthError(f"{path} lacks the markers {MARK_START} ... {MARK_END}")
    head, rest = text.split(MARK_START, 1)
    tail = rest.split(MARK_END, 1)[1]
    path.write_text(f"{head}{MARK_START}\n{describe(sounds_dir)}\n{MARK_END}{tail}")
    return path
