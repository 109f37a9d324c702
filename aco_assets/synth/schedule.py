"""When things happen: file start times, seasonal and diel rules, and event placement.

Rules (docs/format.md, "The site and its sounds"; local time HST = UTC-10):

- humpback song December to May, peak in March, absent June to November; louder at night;
- blue whale November to March; minke boings October to May; sperm whales all year;
- ships all year, fewer in the low-traffic months (June to September) and in HST evenings;
- rain more often in the wet season (October to April); earthquakes, implosions and glitches any time;
- all biological and ship activity halved in HST evenings (18:00-24:00), so evenings and low-traffic
  months are quiet but not empty.

Events are placed as a Poisson process per file with these rates; with the default rates about
5-15 % of 5 s windows overlap an event in whale season and fewer in the quiet months.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from aco_assets.synth.soundscape import BackgroundParams

HST_OFFSET = dt.timedelta(hours=-10)
FILE_SPACING = dt.timedelta(minutes=5)
FILES_PER_FULL_DAY = 288


@dataclass(frozen=True)
class EventRule:
    """How often, how long and how loud one event class occurs.

    Attributes
    ----------
    rate_per_hour : float
        Mean events per hour at the class's peak month, outside evenings.
    months : dict[int, float]
        Month (1-12) -> rate multiplier; months absent have rate 0. Empty means all year at 1.
    duration_s : tuple of float
        (low, high) of the uniform duration draw, seconds.
    snr_db : tuple of float
        (low, high) of the uniform band-SNR draw, dB.
    evening_factor : float
        Rate multiplier in HST evenings (18:00-24:00).
    night_snr_db : float
        Added to the SNR at night (HST 18:00-06:00).
    """

    rate_per_hour: float
    months: dict[int, float]
    duration_s: tuple[float, float]
    snr_db: tuple[float, float]
    evening_factor: float = 0.5
    night_snr_db: float = 0.0


_ALL_YEAR: dict[int, float] = {}
_TRAFFIC = {m: (0.6 if m in (6, 7, 8, 9) else 1.0) for m in range(1, 13)}

RULES: dict[str, EventRule] = {
    "humpback": EventRule(
        8.0,
        {12: 0.3, 1: 0.6, 2: 0.9, 3: 1.0, 4: 0.7, 5: 0.3},
        (8.0, 25.0),
        (-5.0, 17.0),
        night_snr_db=3.0,
    ),
    "blue_whale": EventRule(
        3.0, {11: 0.5, 12: 1.0, 1: 1.0, 2: 0.8, 3: 0.4}, (12.0, 22.0), (-5.0, 20.0)
    ),
    "minke": EventRule(
        3.0,
        {10: 0.3, 11: 0.6, 12: 0.8, 1: 1.0, 2: 1.0, 3: 1.0, 4: 0.6, 5: 0.3},
        (2.0, 3.5),
        (-5.0, 20.0),
    ),
    "sperm_whale": EventRule(1.5, _ALL_YEAR, (10.0, 40.0), (-5.0, 20.0)),
    "ship": EventRule(1.0, _TRAFFIC, (90.0, 240.0), (-5.0, 15.0)),
    "rain": EventRule(
        0.3,
        {
            10: 1.0,
            11: 1.0,
            12: 1.0,
            1: 1.0,
            2: 1.0,
            3: 1.0,
            4: 1.0,
            5: 0.4,
            6: 0.3,
            7: 0.3,
            8: 0.3,
            9: 0.4,
        },
        (60.0, 200.0),
        (-5.0, 15.0),
        evening_factor=1.0,
    ),
    "earthquake": EventRule(0.15, _ALL_YEAR, (40.0, 150.0), (-5.0, 20.0), evening_factor=1.0),
    "implosion": EventRule(0.1, _ALL_YEAR, (0.2, 0.4), (0.0, 25.0), evening_factor=1.0),
    "glitch_dropout": EventRule(0.1, _ALL_YEAR, (0.05, 2.0), (0.0, 0.0), evening_factor=1.0),
    "glitch_spike": EventRule(0.15, _ALL_YEAR, (0.002, 0.002), (5.0, 25.0), evening_factor=1.0),
    "glitch_dc_step": EventRule(0.1, _ALL_YEAR, (1.0, 20.0), (-3.0, 10.0), evening_factor=1.0),
}
EVENT_CLASSES: tuple[str, ...] = tuple(RULES)


@dataclass(frozen=True)
class PlannedEvent:
    """An event to place in one file: class, offset from the file's first sample, length, SNR."""

    label: str
    offset_s: float
    duration_s: float
    snr_db: float


def hst_hour(time_utc: dt.datetime) -> float:
    """Hour of day (0-24, fractional) in Hawaii Standard Time for a naive UTC datetime."""
    local = time_utc + HST_OFFSET
    return local.hour + local.minute / 60.0 + local.second / 3600.0


def is_evening(time_utc: dt.datetime) -> bool:
    """True in the HST evening, 18:00-24:00 HST (04:00-10:00 UTC)."""
    return hst_hour(time_utc) >= 18.0


def is_night(time_utc: dt.datetime) -> bool:
    """True at night, 18:00-06:00 HST."""
    hour = hst_hour(time_utc)
    return hour >= 18.0 or hour < 6.0


def rate_per_hour(label: str, time_utc: dt.datetime, *, rate_scale: float = 1.0) -> float:
    """Expected events per hour of class ``label`` at ``time_utc`` (naive UTC)."""
    rule = RULES[label]
    month_factor = rule.months.get(time_utc.month, 0.0) if rule.months else 1.0
    diel = rule.evening_factor if is_evening(time_utc) else 1.0
    return rule.rate_per_hour * month_factor * diel * rate_scale


def file_starts(day: dt.date, files_per_day: int) -> list[dt.datetime]:
    """Nominal start times (naive UTC, on 5-minute boundaries) of the files written for a day.

    ``files_per_day`` slots are spread evenly over the day's 288, starting at 05:00 UTC (19:00 HST)
    so that small counts cover an HST evening as well as night and daytime.
    """
    if not 1 <= files_per_day <= FILES_PER_FULL_DAY:
        raise ValueError(f"files_per_day={files_per_day} must be within 1..{FILES_PER_FULL_DAY}")
    step = FILES_PER_FULL_DAY / files_per_day
    first = 60 if files_per_day < FILES_PER_FULL_DAY else 0  # 05:00 UTC
    slots = sorted({(first + int(i * step)) % FILES_PER_FULL_DAY for i in range(files_per_day)})
    midnight = dt.datetime.combine(day, dt.time())
    return [midnight + slot * FILE_SPACING for slot in slots]


def conditions(time_utc: dt.datetime, rng: np.random.Generator) -> BackgroundParams:
    """Background levels for a file starting at ``time_utc``: seasonal, diel and weather terms.

    Wind is strongest with the summer trade winds (+-2 dB over the year) plus a random weather
    term; distant shipping follows the traffic months and is 1.5 dB lower in HST evenings; the
    instrument gain drifts slowly (+-3 % over a year, +1 % per year since 2015).
    """
    day_of_year = time_utc.timetuple().tm_yday
    season = np.cos(2.0 * np.pi * (day_of_year - 196) / 365.25)  # +1 in mid-July
    wind_db = -4.0 + 2.0 * season + float(rng.normal(0.0, 2.0))
    shipping_db = -5.0 + 10.0 * np.log10(_TRAFFIC[time_utc.month]) + float(rng.normal(0.0, 1.0))
    if is_evening(time_utc):
        shipping_db -= 1.5
    years = (time_utc - dt.datetime(2015, 1, 1)).total_seconds() / (365.25 * 86400.0)
    gain = (1.0 + 0.03 * np.sin(2.0 * np.pi * years)) * (1.0 + 0.01 * years)
    wander = 3.0e4 * float(np.exp(rng.normal(0.0, 0.25)))
    return BackgroundParams(
        wander_std_counts=wander,
        noise_std_counts=3.0e3,
        shipping_db=float(shipping_db),
        wind_db=float(wind_db),
        gain=float(gain),
    )


def plan_events(
    start_utc: dt.datetime,
    duration_s: float,
    rng: np.random.Generator,
    *,
    rate_scale: float = 1.0,
) -> list[PlannedEvent]:
    """Draw the events of one file: Poisson counts per class, uniform placement inside the file.

    Parameters
    ----------
    start_utc : datetime
        Time of the file's first sample, naive UTC.
    duration_s : float
        Length of the file, seconds; every event lies entirely inside [0, duration_s].
    rng : numpy.random.Generator
        Randomness for this file's plan.
    rate_scale : float
        Multiplies every class's rate (the ``test`` preset raises it to see many classes).

    Returns
    -------
    list of PlannedEvent
        Sorted by offset.
    """
    events = []
    night_bonus = is_night(start_utc)
    for label, rule in RULES.items():
        expected = rate_per_hour(label, start_utc, rate_scale=rate_scale) * duration_s / 3600.0
        for _ in range(int(rng.poisson(expected))):
            length = float(min(rng.uniform(*rule.duration_s), duration_s))
            offset = float(rng.uniform(0.0, duration_s - length))
            snr = float(rng.uniform(*rule.snr_db)) + (rule.night_snr_db if night_bonus else 0.0)
            events.append(PlannedEvent(label, offset, length, snr))
    return sorted(events, key=lambda e: (e.offset_s, e.label))
