"""The real-sound check: where do measured whale units in real ACO audio rank under the champion?

``python -m aco_assets.scoring.real_sound --shared ../shared/data --data DIR [--out docs/real_sound.md]``

The real recordings (peak-normalised WAV / MP3 exports of ACO audio, see each folder's
``PROVENANCE.md``) are written as ``.HYD24BBpk`` files into a temporary archive with
:func:`aco_assets.hydrophone.write_file` (cut into files of at most 5 minutes at their real
dates; a recording shorter than one analysis window is padded by mirroring its end), put
through the production front end (:func:`aco_assets.signal.processing.file_windows`) and scored by the
champion model of ``DIR``. The exports lost the absolute level, so counts are set by a gain:
``match`` (default) scales each recording so that its median broadband window level equals the
median of the model's typical windows; ``peak`` scales the peak to ``1e5`` counts.

Windows overlapping a unit of ``events_measured.csv`` are the positives; every other window of
the same recordings is the "rest". Reported per method: AUC (unit windows vs rest), the rank of
each unit window, the share flagged at the model's threshold, and a figure.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import soundfile as sf
from sklearn.metrics import roc_auc_score

from aco_assets.hydrophone import SAMPLE_RATE_HZ, SAMPLES_PER_RECORD, archive_path_for, write_file
from aco_assets.scoring.baselines import energy_detector_scores
from aco_assets.scoring.evaluation import window_labels
from aco_assets.signal.features import LEVEL_COLUMNS, FrontEndConfig
from aco_assets.signal.processing import file_windows

if TYPE_CHECKING:
    from aco_assets.storage.model_registry import LoadedDetector

logger = logging.getLogger(__name__)

FILE_S = 300.0  # ACO files hold five minutes


@dataclass(frozen=True)
class Recording:
    folder: str  # under the shared data directory
    name: str
    start_utc: dt.datetime  # placed here in the temporary archive
    note: str
    in_auc: bool = True  # False: its units were not measured, so its windows are not "rest"


RECORDINGS: tuple[Recording, ...] = (
    Recording(
        "aco-real",
        "src.wav",
        dt.datetime(2016, 2, 18, 7, 55, 7),
        "4 s raw ACO, 2016-02-18 07:55:07 (the source paper's timestamp)",
    ),
    Recording(
        "aco-acoio",
        "aco_2013-01-01T000000_first30s.wav",
        dt.datetime(2013, 1, 1),
        "30 s raw ACO, 2013-01-01 00:00",
    ),
    Recording(
        "aco-acoio",
        "out.mp3",
        dt.datetime(2013, 2, 1),
        "480 s MP3 export, 64 kbit/s (date unknown, 2012-12..2013-05; placed at 2013-02-01)",
    ),
    Recording(
        "aco-acoio",
        "aco_2015-03-01T000000_60s_via1600Hz.wav",
        dt.datetime(2015, 3, 1),
        "60 s resampled through 1600 Hz (nothing above 800 Hz); units visible but not measured",
        in_auc=False,
    ),
)


def read_audio(path: Path, *, min_s: float) -> np.ndarray:
    """Float samples (n,) of a mono 24 kHz file, padded by mirroring to at least ``min_s``."""
    x, fs = sf.read(str(path), dtype="float64", always_2d=True)
    if fs != SAMPLE_RATE_HZ:
        raise ValueError(f"{path}: {fs} Hz; the ACO front end needs {SAMPLE_RATE_HZ} Hz")
    x = x.mean(axis=1)
    need = int(np.ceil(min_s * fs))
    if x.size < need:
        x = np.concatenate([x, x[::-1][: need - x.size]])
    return x


def write_recording(x: np.ndarray, start: dt.datetime, root: Path, gain: float) -> list[Path]:
    """Write ``gain * x`` as counts into 5-minute files from ``start``; whole records only."""
    counts = np.round(np.clip(gain * x, -(2**23), 2**23 - 1)).astype(np.int32)
    per_file = int(FILE_S * SAMPLE_RATE_HZ)
    paths = []
    for i0 in range(0, counts.size, per_file):
        chunk = counts[i0 : i0 + per_file]
        n = int(np.ceil(chunk.size / SAMPLES_PER_RECORD)) * SAMPLES_PER_RECORD
        chunk = np.concatenate([chunk, chunk[::-1][: n - chunk.size]])  # mirror to a whole record
        t0 = start + dt.timedelta(seconds=i0 / SAMPLE_RATE_HZ)
        path = root / archive_path_for(t0)
        write_file(path, chunk, start_utc=t0)
        paths.append(path)
    return paths


def measured_units(folder: Path, rec: Recording) -> list[dict[str, Any]]:
    """Events rows (``window_labels`` form) of the recording's units in ``events_measured.csv``."""
    rows = []
    with open(folder / "events_measured.csv", newline="") as f:
        for i, r in enumerate(csv.DictReader(f)):
            if r["file"] == rec.name:
                rows.append(
                    {
                        "event_id": i,
                        "class": r["label"],
                        "snr_db": np.nan,
                        "start_utc": rec.start_utc + dt.timedelta(seconds=float(r["start_s"])),
                        "end_utc": rec.start_utc + dt.timedelta(seconds=float(r["end_s"])),
                    }
                )
    return rows


def score_recording(
    model: LoadedDetector,
    rec: Recording,
    shared: Path,
    root: Path,
    *,
    level: Literal["match", "peak"],
    peak_counts: float = 1e5,
) -> dict[str, np.ndarray]:
    """Write, featurise and score one recording; per-window arrays (N,)."""
    config = model.reference.front_end
    x = read_audio(shared / rec.folder / rec.name, min_s=config.window_s)
    gain = peak_counts / max(float(np.max(np.abs(x))), 1e-12)
    if level == "match":  # one trial pass at the peak gain, then shift the level in dB
        with tempfile.TemporaryDirectory() as trial:
            probe = _featurise(
                write_recording(x, rec.start_utc, Path(trial), gain), Path(trial), config
            )
        target = float(np.median(model.reference.typical_levels_db["level_broadband_db"]))
        gain *= 10 ** ((target - float(np.nanmedian(probe["level_broadband_db"]))) / 20)
    out = _featurise(write_recording(x, rec.start_utc, root, gain), root, config)
    s = model.detector.score(out.pop("features"))
    out.update(
        score=s.score,
        tail_prob=s.tail_prob,
        is_anomaly=s.is_anomaly,
        np=s.np_error,
        gmm_nll=s.gmm_nll,
        recon_error=s.recon_error,
    )
    out["energy"] = energy_detector_scores(
        {c: out[c] for c in LEVEL_COLUMNS}, reference=model.reference.levels_db()
    ).score
    units = measured_units(shared / rec.folder, rec)
    out["is_unit"] = (
        window_labels(out["window_start"], out["window_end"], units).is_event
        if units
        else np.zeros(len(out["score"]), bool)
    )
    out["gain"], out["peak_counts"] = np.array(gain), np.array(gain * np.max(np.abs(x)))
    return out


def _featurise(paths: Sequence[Path], root: Path, config: FrontEndConfig) -> dict[str, np.ndarray]:
    parts = [file_windows(p, root, config) for p in paths]
    out: dict[str, np.ndarray] = {"features": np.concatenate([p.features for p in parts])}
    for key in ("window_start", "window_end", "valid", *LEVEL_COLUMNS):
        out[key] = np.concatenate([np.asarray(p.rows[key]) for p in parts])
    out["window_start"] = out["window_start"].astype("datetime64[us]")
    out["window_end"] = out["window_end"].astype("datetime64[us]")
    keep = out["valid"].astype(bool)
    return {k: v[keep] for k, v in out.items()}


METHODS: tuple[str, ...] = ("score", "np", "gmm_nll", "recon_error", "energy")


def summarise(results: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """Pooled ranking of unit windows vs the rest (recordings with ``in_auc``), per method."""
    pooled = [
        r for name, r in results.items() if next(x for x in RECORDINGS if x.name == name).in_auc
    ]
    y = np.concatenate([r["is_unit"] for r in pooled])
    out: dict[str, Any] = {"n_windows": int(y.size), "n_unit_windows": int(y.sum()), "methods": {}}
    for m in METHODS:
        s = np.concatenate([r[m] for r in pooled])
        order = np.argsort(-s, kind="stable")
        rank = np.empty(s.size, int)
        rank[order] = np.arange(1, s.size + 1)
        out["methods"][m] = {
            "auc": float(roc_auc_score(y, s)) if 0 < y.sum() < y.size else float("nan"),
            "unit_ranks": sorted(rank[y].tolist()),
            "median_rank_unit": float(np.median(rank[y])) if y.any() else float("nan"),
            "median_rank_rest": float(np.median(rank[~y])),
        }
    flagged = np.concatenate([r["is_anomaly"] for r in pooled])
    out["flagged_unit"] = float(flagged[y].mean()) if y.any() else float("nan")
    out["flagged_rest"] = float(flagged[~y].mean())
    tail = np.concatenate([r["tail_prob"] for r in pooled])
    out["median_tail_unit"], out["median_tail_rest"] = (
        float(np.median(tail[y])),
        float(np.median(tail[~y])),
    )
    return out


def figure(results: dict[str, dict[str, np.ndarray]], threshold: float):
    """Production score per window over each recording, unit windows in red."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 1.8 * len(results)), layout="constrained")
    axes = fig.subplots(len(results), 1, squeeze=False)[:, 0]
    for ax, (name, r) in zip(axes, results.items(), strict=True):
        t_s = (r["window_start"] - r["window_start"][0]).astype("timedelta64[ms]").astype(
            float
        ) / 1e3
        ax.bar(
            t_s, r["score"], width=4.5, align="edge", color=np.where(r["is_unit"], "crimson", "0.6")
        )
        ax.axhline(threshold, color="k", lw=0.8, ls="--")
        ax.set_title(
            f"{name}: production score per 5 s window (red: overlaps a measured unit; "
            "dashed: threshold)",
            fontsize=8,
        )
        ax.set_ylabel("score", fontsize=8)
    axes[-1].set_xlabel("seconds from the recording's start")
    return fig


def report_markdown(
    results: dict, summaries: dict[str, dict], model: Any, figure_rel: str, *, note: str = ""
) -> str:
    """``docs/real_sound.md``: the setup, the per-method ranking and the per-recording view."""
    lines = [
        "# Real sound: measured whale units in real ACO audio, scored by the champion",
        "",
        f"Generated by `python -m aco_assets.scoring.real_sound` on {dt.date.today()}; model version "
        f"{model.version} (production score `{model.detector.score_name}`, threshold "
        f"{model.detector.threshold:.4g} for "
        f"{(model.detector.operating_point or {}).get('budget_per_hour', '?')} false alarms/h, "
        f"{model.reference.n_typical or '?'} typical training windows).",
        *([f"\n{note}"] if note else []),
        "",
        "Recordings (outside the repository; see their PROVENANCE.md), written as HYD24BBpk files "
        "into a temporary archive and put through the production front end:",
        "",
        "| recording | placed at | windows | unit windows | gain (level `match`) | peak counts |",
        "|---|---|---|---|---|---|",
    ]
    for rec in RECORDINGS:
        r = results["match"][rec.name]
        lines.append(
            f"| {rec.folder}/{rec.name}: {rec.note} | {rec.start_utc} | {len(r['score'])} | "
            f"{int(r['is_unit'].sum())} | {float(r['gain']):.4g} | {float(r['peak_counts']):.3g} |"
        )
    lines += [
        "",
        "Positives: 5 s windows overlapping a unit of `events_measured.csv` (measured with a "
        "band-ratio detector, not source annotations); the rest: every other window of the same "
        "recordings (the 2015 file is left out: its units were not measured). Ranks are 1 = most "
        "anomalous among all pooled windows.",
        "",
    ]
    for level, summary in summaries.items():
        lines += [
            f"## Level `{level}`: {summary['n_unit_windows']} unit windows among "
            f"{summary['n_windows']}",
            "",
            "| method | AUC unit vs rest | median rank unit | median rank rest | unit ranks |",
            "|---|---|---|---|---|",
        ]
        for m, s in summary["methods"].items():
            ranks = ", ".join(map(str, s["unit_ranks"][:25])) + (
                " ..." if len(s["unit_ranks"]) > 25 else ""
            )
            lines.append(
                f"| {m} | {s['auc']:.3f} | {s['median_rank_unit']:.0f} | "
                f"{s['median_rank_rest']:.0f} | {ranks} |"
            )
        lines += [
            "",
            f"Flagged at the threshold: {summary['flagged_unit']:.2f} of unit windows, "
            f"{summary['flagged_rest']:.2f} of the rest; median tail probability "
            f"{summary['median_tail_unit']:.3f} (units) vs {summary['median_tail_rest']:.3f} (rest).",
            "",
        ]
    lines += ["## Reading", ""]
    for level, summary in summaries.items():
        above = [m for m, s in summary["methods"].items() if s["auc"] > 0.5]
        lines.append(
            f"- Level `{level}`: unit windows rank above the rest (AUC > 0.5) under "
            f"{', '.join(above) or 'no method'}; the production score flags "
            f"{summary['flagged_unit']:.0%} of unit windows and {summary['flagged_rest']:.0%} "
            "of the rest."
        )
    lines += [
        "- Caveats: the exports lost the absolute level (peak-normalised), so the counts are a "
        "choice (both choices shown); the MP3's codec and the 2015 file's 1600 Hz resampling change "
        "the spectrum the model sees; a 5 s window is 3-10 times longer than a unit, so a unit "
        "window is mostly background; the units were measured with a band-ratio detector, not "
        "annotated at the source; a model trained on the synthetic archive has never seen real "
        "ACO background, so the whole real recording can sit outside its typical set (then every "
        "window is flagged and the ranking, not the flag, is what carries information).",
        "",
        f"![scores over the recordings]({figure_rel})",
        "",
    ]
    return "\n".join(lines)


def champion_of(data: Path, name: str = "aco-detector") -> LoadedDetector:
    """The champion of the data folder ``data`` (its own MLflow store unless
    ``MLFLOW_TRACKING_URI`` names another, as for the pipeline)."""
    from aco_assets.storage.layout import DataLayout
    from aco_assets.storage.mlflow_store import tracking_client
    from aco_assets.storage.model_registry import load_champion

    layout = DataLayout.resolve(data_dir=str(data))
    uri = os.environ.get("MLFLOW_TRACKING_URI") or layout.mlflow_tracking_uri
    client = tracking_client(uri, layout, name)
    return load_champion(client, name, cache_dir=layout.models_dir)


def run(shared: Path, data: Path, out: Path, *, note: str = "") -> dict[str, dict]:
    """Score every recording at both levels, write ``out`` and its figure; returns the summaries."""
    model = champion_of(data)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for level in ("match", "peak"):
            root = Path(tmp) / level
            results[level] = {
                rec.name: score_recording(model, rec, shared, root, level=level)
                for rec in RECORDINGS
            }
    summaries = {level: summarise(r) for level, r in results.items()}
    fig_path = out.parent / "figures" / "real_sound.png"
    fig_path.parent.mkdir(parents=True, exist_ok=True)
    figure(results["match"], float(model.detector.threshold)).savefig(fig_path, dpi=90)
    out.write_text(
        report_markdown(results, summaries, model, f"figures/{fig_path.name}", note=note)
    )
    return summaries


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m aco_assets.scoring.real_sound", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--shared", type=Path, required=True, help="folder holding aco-real/ and aco-acoio/"
    )
    p.add_argument("--data", type=Path, required=True, help="data directory with a champion model")
    p.add_argument("--out", type=Path, default=Path("docs/real_sound.md"))
    p.add_argument("--note", default="", help="a sentence put under the title (e.g. which model)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    summaries = run(args.shared, args.data, args.out, note=args.note)
    for level, s in summaries.items():
        aucs = ", ".join(f"{m} {v['auc']:.3f}" for m, v in s["methods"].items())
        logger.info(
            "level %s: %d unit windows of %d; AUC %s",
            level,
            s["n_unit_windows"],
            s["n_windows"],
            aucs,
        )
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
