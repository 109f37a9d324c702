"""The ``realistic`` preset: files built from real recordings (``DIR``, laid out like shared/data).

One file = real ACO noise (:mod:`aco_assets.synth.bed`, 3000 counts rms) with its sea state, plus
distant shipping hum and faint song (:mod:`aco_assets.synth.hardness`), plus the swell and slow
offset wander of :func:`aco_assets.synth.soundscape.background` (about +-8e4 counts), plus the
labelled events, then the gain drift. Labelled events are real calls where a recording exists
(humpback units, orca calls, OOI pings: :mod:`aco_assets.synth.calls`) and synthetic otherwise
(blue whale, ship passage, implosion: :mod:`aco_assets.synth.events`); each is scaled to its
drawn band SNR with the definition of :mod:`aco_assets.synth.render` against everything but the
labelled events. Dropouts, spikes and dc steps (own stream) and clock offsets in the headers go
to the faults table.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
from dataclasses import dataclass

import numpy as np

from aco_assets.hydrophone import SAMPLES_PER_RECORD
from aco_assets.synth import hardness as hard
from aco_assets.synth.bed import BedRecording, measure_background, tile_bed
from aco_assets.synth.calls import Call, PingTrain, humpback_units, orca_calls, ping_train
from aco_assets.synth.events import _band_noise, _fade, _tone
from aco_assets.synth.render import FileContent, PlacedEvent, _place, band_power
from aco_assets.synth.schedule import PlannedEvent, is_evening
from aco_assets.synth.sounds import SAMPLE_RATE_HZ, check_sounds
from aco_assets.synth.soundscape import psd_shape

BED_RMS_COUNTS = 3.0e3  # broadband noise about 2e4 counts peak to peak (docs/format.md)
WANDER_STD_COUNTS = 3.0e4  # slow offset wander, about +-8e4 counts
SNR_RANGE_DB = (-5.0, 20.0)
_INT_LIMIT = 2**31 - 1


@dataclass(frozen=True)
class Rule:
    """Bouts per hour at the class's peak, month factors (empty: all year) and evening factor."""

    per_hour: float
    months: dict[int, float]
    evening: float = 0.5


RULES: dict[str, Rule] = {
    "humpback": Rule(12.0, {12: 0.5, 1: 0.8, 2: 1.0, 3: 1.0, 4: 0.8, 5: 0.4}),
    "blue_whale": Rule(4.0, {11: 0.5, 12: 1.0, 1: 1.0, 2: 0.8, 3: 0.4}),
    "orca": Rule(1.5, {}),
    "ping": Rule(3.0, {}, evening=1.0),
    "ship": Rule(2.0, {m: (0.6 if m in hard.LOW_TRAFFIC_MONTHS else 1.0) for m in range(1, 13)}),
    "implosion": Rule(1.0, {}, evening=1.0),
}
GLITCH_RATES: dict[str, float] = {"glitch_dropout": 0.3, "glitch_spike": 0.4, "glitch_dc_step": 0.3}
GLITCH_DURATIONS_S = {"glitch_dropout": (0.05, 2.0), "glitch_spike": (0.002, 0.002)}
CLOCK_OFFSET_SHARE = 0.08


@dataclass(frozen=True)
class SoundLibrary:
    """What the preset measured in ``DIR``: the background and the real calls."""

    bed: list[BedRecording]
    humpback: list[Call]
    orca: list[Call]
    ping: PingTrain


@functools.lru_cache(maxsize=2)
def _load(root: str) -> SoundLibrary:
    from pathlib import Path

    path = Path(root)
    return SoundLibrary(
        measure_background(path), humpback_units(path), orca_calls(path), ping_train(path)
    )


def load_library(sounds_dir: str | os.PathLike | None) -> SoundLibrary:
    """Check ``DIR`` and measure it (cached per folder); raises SynthError naming what is missing."""
    return _load(str(check_sounds(sounds_dir).resolve()))


def _bouts(label: str, nominal: dt.datetime, duration_s: float, rng: np.random.Generator) -> int:
    rule = RULES[label]
    rate = rule.per_hour * (rule.months.get(nominal.month, 0.0) if rule.months else 1.0)
    rate *= rule.evening if is_evening(nominal) else 1.0
    return int(rng.poisson(rate * duration_s / 3600.0))


def _add(
    x: np.ndarray, bg: np.ndarray, call: Call, start: int, snr_db: float, label: str, group: int
) -> PlacedEvent:
    """Scale ``call`` to ``snr_db`` band SNR against ``bg`` and add it into ``x`` in place."""
    n = min(call.samples.size, x.size - start)
    seg = slice(start, start + n)
    p_bg = band_power(bg[seg], call.low_hz, call.high_hz)
    p_call = max(band_power(call.samples[:n], call.low_hz, call.high_hz), 1e-30)
    x[seg] += np.sqrt(10.0 ** (snr_db / 10.0) * p_bg / p_call) * call.samples[:n]
    return PlacedEvent(label, start, n, call.low_hz, call.high_hz, snr_db, call.source, group)


def _series(
    calls: list[Call], gaps_s: np.ndarray, n_samples: int, rng: np.random.Generator
) -> list[tuple[Call, int]]:
    """Lay calls one after another with the given gaps, at a random offset that fits the file."""
    lengths = np.array([c.samples.size for c in calls])
    starts = np.concatenate([[0], np.cumsum(lengths[:-1] + (gaps_s * SAMPLE_RATE_HZ).astype(int))])
    fits = starts + lengths <= n_samples
    calls, starts, lengths = (
        [c for c, f in zip(calls, fits, strict=True) if f],
        starts[fits],
        lengths[fits],
    )
    offset = int(rng.integers(0, max(1, n_samples - int(starts[-1] + lengths[-1]) + 1)))
    return [(c, int(s) + offset) for c, s in zip(calls, starts, strict=True)]


def _bout_snrs(rng: np.random.Generator, n: int) -> np.ndarray:
    level = rng.uniform(*SNR_RANGE_DB)
    return np.clip(level + rng.uniform(-2.0, 2.0, n), *SNR_RANGE_DB)


def _real_bout(label: str, lib: SoundLibrary, rng: np.random.Generator) -> tuple[list, np.ndarray]:
    """Calls and gaps of one humpback phrase series, orca bout or ping train."""
    if label == "humpback":
        k = int(rng.integers(3, 11))
        return [lib.humpback[int(i)] for i in rng.integers(len(lib.humpback), size=k)], rng.uniform(
            0.3, 2.0, k - 1
        )
    if label == "orca":
        k = int(rng.integers(2, 7))
        return [lib.orca[int(i)] for i in rng.integers(len(lib.orca), size=k)], rng.uniform(
            0.5, 4.0, k - 1
        )
    k = int(rng.integers(4, 17))
    ping = lib.ping.ping
    period = lib.ping.period_s * (1.0 + rng.normal(0.0, 0.002))
    return [ping] * k, np.full(k - 1, period - ping.samples.size / SAMPLE_RATE_HZ)


def ship_segment(
    rng: np.random.Generator, n: int, *, sample_rate_hz: float = SAMPLE_RATE_HZ
) -> np.ndarray:
    """``n`` samples of a passage of 10-40 minutes seen through one file, shape (n,).

    Broadband 15-1000 Hz noise plus blade-rate harmonics with Doppler, under the passage's
    closest-point-of-approach envelope ``1 / (1 + ((t - t_cpa) / tau)**2)``.
    """
    passage_s = rng.uniform(600.0, 2400.0)
    t0 = rng.uniform(0.0, max(passage_s - n / sample_rate_hz, 0.0))
    t_cpa, tau = passage_s * rng.uniform(0.3, 0.7), passage_s * rng.uniform(0.1, 0.2)
    t = t0 + np.arange(n) / sample_rate_hz
    envelope = 1.0 / (1.0 + ((t - t_cpa) / tau) ** 2)
    blade = rng.uniform(6.0, 12.0)
    doppler = 1.0 + 0.005 * np.tanh(-(t - t_cpa) / tau)
    tonals = sum(
        _tone(k * blade * doppler, sample_rate_hz, rng.uniform(0, 6.3)) / k for k in range(2, 9)
    )
    noise = _band_noise(n, 15.0, 1000.0, rng, sample_rate_hz)
    return np.sqrt(envelope) * (noise + 0.5 * tonals) * _fade(n, int(2.0 * sample_rate_hz))


def _synthetic_bout(
    label: str, x: np.ndarray, bg: np.ndarray, rng: np.random.Generator, group: int
) -> list[PlacedEvent]:
    """A ship passage, a blue whale series (1-3 calls 20-40 s apart) or an implosion."""
    dur = x.size / SAMPLE_RATE_HZ
    if label == "ship":
        n = min(int(rng.uniform(120.0, 300.0) * SAMPLE_RATE_HZ), x.size)
        ship = Call(ship_segment(rng, n), 15.0, 1000.0, "synthetic:ship_segment")
        start = int(rng.integers(0, x.size - n + 1))
        return [_add(x, bg, ship, start, float(rng.uniform(-5.0, 15.0)), label, group)]
    if label == "implosion":
        length = float(rng.uniform(0.2, 0.4))
        offset, snr = float(rng.uniform(0, dur - length)), float(rng.uniform(0.0, 20.0))
        return [_place(x, bg, PlannedEvent(label, offset, length, snr), rng, SAMPLE_RATE_HZ)]
    placed = []
    t = float(rng.uniform(0.0, dur - 60.0))
    for _ in range(int(rng.integers(1, 4))):
        length = float(rng.uniform(12.0, 20.0))
        if t + length > dur:
            break
        plan = PlannedEvent(label, t, length, float(rng.uniform(*SNR_RANGE_DB)))
        event = _place(x, bg, plan, rng, SAMPLE_RATE_HZ)
        placed.append(dataclasses.replace(event, group=group))
        t += length + float(rng.uniform(20.0, 40.0))
    return placed


def _events(
    x: np.ndarray, bg: np.ndarray, nominal: dt.datetime, lib: SoundLibrary, rng
) -> list[PlacedEvent]:
    """Draw and place the labelled events of one file (bouts numbered from 1 as groups)."""
    placed: list[PlacedEvent] = []
    group = 0
    for label in RULES:
        for _ in range(_bouts(label, nominal, x.size / SAMPLE_RATE_HZ, rng)):
            group += 1
            if label not in ("humpback", "orca", "ping"):
                placed += _synthetic_bout(label, x, bg, rng, group)
                continue
            calls, gaps = _real_bout(label, lib, rng)
            laid = _series(calls, gaps, x.size, rng)
            snrs = _bout_snrs(rng, len(laid))
            for (call, start), snr in zip(laid, snrs, strict=True):
                placed.append(_add(x, bg, call, start, float(snr), label, group))
    return placed


def _glitches(x: np.ndarray, bg: np.ndarray, nominal: dt.datetime, rng) -> list[PlacedEvent]:
    """Dropouts, spikes and dc steps (faults table), drawn and placed from their own stream."""
    placed = []
    dur = x.size / SAMPLE_RATE_HZ
    for label, per_hour in GLITCH_RATES.items():
        for _ in range(int(rng.poisson(per_hour * dur / 3600.0))):
            length = float(rng.uniform(*GLITCH_DURATIONS_S.get(label, (1.0, 20.0))))
            snr = float(rng.uniform(5.0, 25.0) if label == "glitch_spike" else rng.uniform(-3, 10))
            plan = PlannedEvent(label, float(rng.uniform(0.0, dur - length)), length, snr)
            placed.append(_place(x, bg, plan, rng, SAMPLE_RATE_HZ))
    return placed


def _background(
    nominal: dt.datetime, n: int, lib: SoundLibrary, seed: int, factors: hard.Hardness
) -> np.ndarray:
    """Everything but the labelled events, counts, shape (n,)."""
    bed = BED_RMS_COUNTS * tile_bed(lib.bed, n, hard.stream(seed, nominal, "bed"))
    bg = bed.copy()
    if factors.sea_state:
        bg *= 10.0 ** (hard.sea_state_db(nominal, n, hard.stream(seed, nominal, "sea_state")) / 20)
    # the hum and the song are levelled against the bed before its sea state: each factor's
    # output depends on its own stream and the bed only
    if factors.shipping_hum:
        hum = hard.shipping_hum(nominal, bed, hard.stream(seed, nominal, "shipping_hum"))
        bg += 0.0 if hum is None else hum
    if factors.faint_song:
        song = hard.faint_song(nominal, bed, lib.humpback, hard.stream(seed, nominal, "faint_song"))
        bg += 0.0 if song is None else song
    return bg + wander(n, hard.stream(seed, nominal, "wander"))


def wander(n: int, rng: np.random.Generator, *, decimation: int = 100) -> np.ndarray:
    """Swell and slow offset wander (the ``"wander"`` PSD of :mod:`~aco_assets.synth.soundscape`).

    Gaussian noise shaped to that PSD at 1/``decimation`` of the rate (it lies below 20 Hz),
    linearly interpolated to 24 kHz; standard deviation :data:`WANDER_STD_COUNTS` times a
    per-file log-normal factor (sigma 0.25). Returns shape (n,), counts.
    """
    std = WANDER_STD_COUNTS * float(np.exp(rng.normal(0.0, 0.25)))
    n_slow = n // decimation + 2
    freqs = np.fft.rfftfreq(n_slow, decimation / SAMPLE_RATE_HZ)  # (F,)
    amplitude = np.sqrt(psd_shape(freqs, "wander"))
    amplitude[0] = 0.0
    spectrum = amplitude * (rng.standard_normal(freqs.size) + 1j * rng.standard_normal(freqs.size))
    slow = np.fft.irfft(spectrum, n_slow)
    slow *= std / max(float(np.std(slow)), 1e-12)
    return np.interp(np.arange(n) / decimation, np.arange(n_slow), slow)


def synthesize_realistic_file(
    nominal: dt.datetime, lib: SoundLibrary, *, seed: int = 0, factors: hard.Hardness | None = None
) -> FileContent:
    """The content of one realistic file with nominal start ``nominal`` (exactly as written).

    The main stream (seeded like the other presets' files) draws the length, the start and the
    labelled events; the bed, each hardness factor, the wander, the glitches and the clock
    offset have streams of their own (:func:`aco_assets.synth.hardness.stream`).
    """
    factors = factors or hard.Hardness()
    rng = hard.file_rng(seed, nominal)
    n = (1758 if rng.random() < 0.8125 else 1757) * SAMPLES_PER_RECORD
    start_utc = nominal + dt.timedelta(microseconds=int(rng.integers(0, 100_000)))
    bg = _background(nominal, n, lib, seed, factors)
    x = bg.copy()
    placed = _events(x, bg, nominal, lib, rng)
    placed += _glitches(x, bg, nominal, hard.stream(seed, nominal, "glitches"))
    if factors.gain_drift:
        x *= hard.gain(nominal, n, hard.stream(seed, nominal, "gain_drift"))
    clock = hard.stream(seed, nominal, "clock_offset")
    offset = float(clock.choice((-1.0, 1.0)) * clock.uniform(1.0, 7.0))
    offset = offset if clock.random() < CLOCK_OFFSET_SHARE else 0.0
    samples = np.clip(np.rint(x), -_INT_LIMIT, _INT_LIMIT).astype(np.int32)
    return FileContent(start_utc, samples, placed, rng, header_offset_s=round(offset, 3))


def realistic_synth(sounds_dir, *, seed: int = 0, hardness: hard.Hardness | None = None):
    """The per-file content function of the realistic preset (measures ``DIR`` once)."""
    lib = load_library(sounds_dir)

    def synth(nominal: dt.datetime) -> FileContent:
        return synthesize_realistic_file(nominal, lib, seed=seed, factors=hardness)

    return synth
