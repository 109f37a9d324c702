"""Compare the synthetic soundscape with real ACO recordings: the same measurements on both.

Measurements (each clip: mean removed; the real WAVs are peak-normalised, so only shapes and
ratios are compared, never absolute levels):

``lf_share``        share of energy below 20 Hz (pressure wander), %;
``lf_to_hf_std``    standard deviation below 20 Hz over that above 20 Hz;
``slope_db_oct``    least-squares slope of the PSD in dB per octave over 50-4000 Hz;
``rolloff_db``      mean PSD at 9-11 kHz minus that at 1-4 kHz, dB;
``centroid_hz``     spectral centroid above 20 Hz, Hz;
humpback units      durations and peak frequencies of tonal units (real: the detector's list in
                    ``aco-acoio/events_measured.csv``; synthetic: units found by the same kind of
                    band-power envelope in synthesised phrases).

Run: ``python -m aco_assets.synth.calibration --real ../shared/data [--docs docs]``; it prints the
table and, with ``--docs``, rewrites the calibration section of ``docs/synthetic_archive.md`` and
the figure ``docs/figures/synth_psd.png``. The recordings are read, never copied.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal

from aco_assets.synth.events import humpback_song
from aco_assets.synth.render import render_file
from aco_assets.synth.schedule import PlannedEvent

logger = logging.getLogger(__name__)

SR = 24_000
# (label, path under the data root, whether the whole band is usable)
REAL_CLIPS: tuple[tuple[str, str, bool], ...] = (
    ("real 2016-02-18 4 s", "aco-real/src.wav", True),
    ("real 2013-01-01 30 s", "aco-acoio/aco_2013-01-01T000000_first30s.wav", True),
    ("real 8 min mp3", "aco-acoio/out.mp3", False),  # mp3 low-pass near 8.5 kHz
)
MARK_START, MARK_END = "<!-- calibration:start -->", "<!-- calibration:end -->"


@dataclass(frozen=True)
class ClipMeasures:
    """Shape measurements of one clip (see the module docstring)."""

    name: str
    duration_s: float
    lf_share: float
    lf_to_hf_std: float
    slope_db_oct: float
    rolloff_db: float
    centroid_hz: float
    freqs_hz: np.ndarray
    psd_db: np.ndarray  # (F,) dB, normalised to 0 dB mean over 1-4 kHz


def measure(name: str, x: np.ndarray, *, sample_rate_hz: float = SR) -> ClipMeasures:
    """Measure one clip.

    Parameters
    ----------
    name : str
        Label for tables and figures.
    x : ndarray, shape (n,), float
        Audio in any unit (counts or normalised).
    sample_rate_hz : float
        Sample rate, Hz (24 kHz for ACO).
    """
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    sos = scipy.signal.butter(4, 20.0, fs=sample_rate_hz, output="sos")
    low = scipy.signal.sosfiltfilt(sos, x)
    high = x - low
    f, p = scipy.signal.welch(x, sample_rate_hz, nperseg=min(x.size, int(sample_rate_hz)))
    ref = p[(f >= 1000) & (f <= 4000)].mean()
    psd_db = 10.0 * np.log10(np.maximum(p, 1e-30) / ref)
    fit = (f >= 50) & (f <= 4000)
    slope = np.polyfit(np.log2(f[fit]), psd_db[fit], 1)[0]
    above = f > 20
    return ClipMeasures(
        name=name,
        duration_s=x.size / sample_rate_hz,
        lf_share=100.0 * np.sum(low**2) / np.sum(x**2),
        lf_to_hf_std=float(np.std(low) / np.std(high)),
        slope_db_oct=float(slope),
        rolloff_db=float(psd_db[(f >= 9000) & (f <= 11000)].mean()),
        centroid_hz=float(np.sum(f[above] * p[above]) / np.sum(p[above])),
        freqs_hz=f,
        psd_db=psd_db,
    )


def synthetic_clips(
    duration_s: float = 30.0, *, n_clips: int = 4, seed: int = 0
) -> list[np.ndarray]:
    """Background-only clips cut from synthetic files at different seasons and hours, shape (n,)."""
    clips = []
    for i in range(n_clips):
        start = dt.datetime(2016, 1 + 3 * i, 15, 5 + 6 * i)
        x, _ = render_file(start, int(duration_s * SR), np.random.default_rng([seed, i]), plan=[])
        clips.append(x.astype(np.float64))
    return clips


def synthetic_units(n_phrases: int = 40, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Durations (s) and peak frequencies (Hz) of units found in synthetic humpback phrases."""
    rng = np.random.default_rng(seed)
    durations, peaks = [], []
    win = SR // 50  # 20 ms power envelope
    for _ in range(n_phrases):
        x = humpback_song(rng, duration_s=20.0).samples
        env = scipy.signal.oaconvolve(x**2, np.ones(win), mode="same")
        active = np.r_[False, env > 0.05 * env.max(), False]
        edges = np.flatnonzero(np.diff(active.astype(int)))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            if b - a < 0.3 * SR:  # the real detector kept units of at least 0.3 s
                continue
            durations.append((b - a) / SR)
            spectrum = np.abs(np.fft.rfft(x[a:b]))
            peaks.append(np.fft.rfftfreq(b - a, 1 / SR)[np.argmax(spectrum)])
    return np.array(durations), np.array(peaks)


def real_units(data_root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Durations (s) and peak frequencies (Hz) of the tonal units measured on real ACO audio."""
    with open(data_root / "aco-acoio" / "events_measured.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return (
        np.array([float(r["end_s"]) - float(r["start_s"]) for r in rows]),
        np.array([float(r["peak_hz"]) for r in rows]),
    )


def load_real(data_root: Path) -> list[tuple[str, np.ndarray, bool]]:
    """Load the real clips that are present: (name, samples (n,) float64, full band usable)."""
    import soundfile

    out = []
    for name, rel, full_band in REAL_CLIPS:
        path = data_root / rel
        if not path.is_file():
            logger.warning("%s not found; skipped", path)
            continue
        x, sr = soundfile.read(path, dtype="float64", always_2d=True)
        if sr != SR:
            logger.warning("%s: %d Hz, not %d; skipped", path, sr, SR)
            continue
        out.append((name, x.mean(axis=1), full_band))
    return out


def table_markdown(
    rows: list[ClipMeasures], units: dict[str, tuple[np.ndarray, np.ndarray]]
) -> str:
    """The comparison as Markdown: one row per clip, then the humpback unit statistics."""
    lines = [
        "| clip | s | energy < 20 Hz | std <20 / >20 Hz | slope 50-4000 Hz | 9-11 kHz re 1-4 kHz | centroid > 20 Hz |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in rows:
        rolloff = "n/a" if np.isnan(m.rolloff_db) else f"{m.rolloff_db:+.1f} dB"
        lines.append(
            f"| {m.name} | {m.duration_s:.0f} | {m.lf_share:.1f} % | {m.lf_to_hf_std:.1f} | "
            f"{m.slope_db_oct:+.1f} dB/oct | {rolloff} | {m.centroid_hz:.0f} Hz |"
        )
    lines += [
        "",
        "| humpback units | n | duration median (range) | peak frequency median (range) |",
        "|---|---|---|---|",
    ]
    for name, (dur, peak) in units.items():
        lines.append(
            f"| {name} | {dur.size} | {np.median(dur):.2f} s ({dur.min():.2f}-{dur.max():.2f}) | "
            f"{np.median(peak):.0f} Hz ({peak.min():.0f}-{peak.max():.0f}) |"
        )
    return "\n".join(lines)


def _agg_figure(**kwargs):
    """A matplotlib ``Figure`` on the Agg canvas, without pyplot or ``matplotlib.use``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def plot_psds(rows: list[ClipMeasures], path: Path) -> None:
    """Figure: PSDs (dB re their 1-4 kHz mean) of the real and synthetic clips, log frequency."""
    fig = _agg_figure(figsize=(8, 4.5), dpi=110)
    ax = fig.subplots()
    for m in rows:
        style = "-" if m.name.startswith("real") else "--"
        keep = m.freqs_hz > 0
        ax.semilogx(m.freqs_hz[keep], m.psd_db[keep], style, lw=1.0, label=m.name)
    ax.set_xlim(1, SR / 2)
    ax.set_ylim(-50, 70)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("PSD (dB re mean over 1-4 kHz)")
    ax.set_title("ACO background: real clips (solid) vs synthetic (dashed)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


EXAMPLE_PLAN: tuple[tuple[str, float, float, float], ...] = (
    # (class, offset s, duration s, SNR dB) of the example spectrogram
    ("blue_whale", 2.0, 18.0, 15.0),
    ("humpback", 24.0, 14.0, 12.0),
    ("minke", 41.0, 2.5, 12.0),
    ("implosion", 46.0, 0.3, 20.0),
    ("sperm_whale", 50.0, 12.0, 10.0),
    ("glitch_spike", 44.0, 0.002, 20.0),
)


def plot_example(path: Path, *, seed: int = 0) -> None:
    """Figure: spectrogram of one minute of synthetic audio with its catalogued events boxed."""
    from matplotlib.patches import Rectangle

    plan = [PlannedEvent(*row) for row in EXAMPLE_PLAN]
    start = dt.datetime(2017, 2, 10, 20)
    x, placed = render_file(start, 64 * SR, np.random.default_rng(seed), plan=plan)
    x = scipy.signal.sosfiltfilt(scipy.signal.butter(4, 5.0, "highpass", fs=SR, output="sos"), x)
    f, t, s = scipy.signal.spectrogram(x, SR, nperseg=4096, noverlap=2048)
    fig = _agg_figure(figsize=(9, 4.5), dpi=90)
    ax = fig.subplots()
    ax.pcolormesh(t, f[1:], 10 * np.log10(s[1:] + 1e-12), shading="auto", cmap="magma")
    for e in placed:
        t0, dur = e.start_sample / SR, e.n_samples / SR
        lo = max(e.f_low_hz, 8.0)
        ax.add_patch(
            Rectangle((t0, lo), max(dur, 0.3), e.f_high_hz - lo, fill=False, ec="cyan", lw=0.8)
        )
        ax.text(t0, e.f_high_hz * 1.05, f"{e.label} {e.snr_db:+.0f} dB", color="cyan", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylim(8, SR / 2)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    ax.set_title("Synthetic ACO audio (5 Hz high-pass) with its catalogued events")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def run(data_root: Path, *, docs: Path | None = None, seed: int = 0) -> str:
    """Measure real and synthetic audio; return the Markdown table (and update the docs).

    Parameters
    ----------
    data_root : Path
        Folder holding ``aco-real/`` and ``aco-acoio/`` (the shared real recordings).
    docs : Path, optional
        The project's ``docs`` folder: the table replaces the text between the calibration markers
        of ``synthetic_archive.md`` and the figure goes to ``figures/synth_psd.png``.
    seed : int
        Seed of the synthetic clips.
    """
    rows = []
    for name, x, full_band in load_real(data_root):
        m = measure(name, x)
        rows.append(m if full_band else dataclasses.replace(m, rolloff_db=float("nan")))
    for i, x in enumerate(synthetic_clips(30.0, seed=seed)):
        rows.append(measure(f"synthetic 30 s #{i + 1}", x))
    units = {
        "real (aco-acoio detector)": real_units(data_root),
        "synthetic": synthetic_units(seed=seed),
    }
    table = table_markdown(rows, units)
    if docs is not None:
        plot_psds(rows, docs / "figures" / "synth_psd.png")
        plot_example(docs / "figures" / "synth_example.png", seed=seed)
        doc = docs / "synthetic_archive.md"
        text = doc.read_text()
        if MARK_START in text and MARK_END in text:
            head, rest = text.split(MARK_START, 1)
            text = f"{head}{MARK_START}\n{table}\n{MARK_END}{rest.split(MARK_END, 1)[1]}"
            doc.write_text(text)
        else:
            logger.warning("%s has no calibration markers; table not written", doc)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Compare synthetic and real ACO audio.")
    parser.add_argument(
        "--real", type=Path, required=True, help="folder with aco-real/, aco-acoio/"
    )
    parser.add_argument("--docs", type=Path, help="docs folder to update (table and figure)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(run(args.real, docs=args.docs, seed=args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
