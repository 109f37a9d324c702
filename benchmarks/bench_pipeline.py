"""Benchmark of the per-day lineage on a full synthetic day (288 five-minute files).

Usage::

    python benchmarks/bench_pipeline.py [--work DIR] [--data DIR] [--workers 2] [--profile DIR]

Writes (once, cached under ``--work``) the synth ``full`` preset, 2017-03-01, and, when the data
directory has no champion detector yet, trains a small one on that day (not timed). Then it
materializes the day's stages, one ``dg.materialize`` each, in-process against a persistent
Dagster instance (as a run would): ``ingest`` (``raw_files`` and ``spectrograms``, one step that
reads each file once), ``anomaly_scores`` and ``detections``; and prints per stage: wall time,
real-time factor (86400 s / wall time), files per second and peak memory (resident set of this
process plus its worker processes, sampled every 20 ms with psutil; without psutil, the lifetime
``getrusage`` maxima). Then it runs the day as a user does, ``aco pipeline --stage ingest
--stage detect`` in a new process, and prints its wall time, the peak memory of its process tree
and its steps' times. The day's archive files are dropped from the page cache before each
(Linux, any user), so they come from disk as a new day's do; the software stays cached, as on a
machine that runs the pipeline nightly. The output says which it was.
Target (issue 13): the day from raw files to detections through ``aco pipeline`` in at most 20 s
on a 2-core machine, peak under 2 GB.

For the scaling figures of ``docs/benchmarks.md`` it also measures, per stage, the CPU seconds
and bytes read (this process and its reaped workers: ``getrusage``, ``/proc/self/io``), the
entries the run wrote to the Dagster event log (``instance.all_logs(run_id)``) and the calls of
``ml.FittedDetector.load`` the stages made; and after the stages, outside the timed part: the
day's archive bytes per file, the read + decode time per file (``read_file`` on a sample of the
day's files) and the load time of the benchmark's champion (``FittedDetector.load`` of its
cached artifact, median of a few).

``--data`` reuses a data directory that already has a champion (e.g. the demo's); its rows for
2017-03-01 are replaced. ``--profile DIR`` writes a cProfile of the main process per stage.
Other processes on the machine make single runs noisy; pin with ``taskset -c 0,1`` for a
2-core reading.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import logging
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:  # optional: the sampled peak memory, and the CPU and reads of live descendants
    import psutil
except ImportError:
    psutil = None

DAY = dt.date(2017, 3, 1)
DAY_S = 86400.0
TARGET_S = 20.0  # issue 13: a 288-file day, raw files to detections, on 2 cores
TARGET_PEAK_BYTES = 2 * 1024**3
TIMED_STAGES = ("ingest", "anomaly_scores", "detections")  # ingest: raw_files + spectrograms
# A detector that trains in well under a minute on CPU: the benchmark needs a champion, not a good one.
BENCH_DETECTOR = {"phase1_steps": 100, "phase2_steps": 30, "eras": 1, "seed": 0}
# A March day: only its HST evening windows are typical (about a quarter of the day).
BENCH_TYPICAL = {"min_typical_windows": 200}
READ_SAMPLE_FILES = 12  # files of the day read + decoded once more, untimed by the stages
MODEL_LOAD_REPEATS = 3


class PeakMemory:
    """Peak resident set (bytes) of this process (unless ``own=False``) plus all its
    descendants, sampled in a thread."""

    def __init__(self, interval_s: float = 0.02, *, own: bool = True) -> None:
        self.interval_s, self.own = interval_s, own
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def sampled(self) -> bool:
        return psutil is not None

    def _sample(self) -> int:
        total = psutil.Process().memory_info().rss if self.own else 0
        for child in _descendants():
            try:
                total += child.memory_info().rss
            except psutil.Error:  # the child ended between listing and reading
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._sample())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakMemory:
        if psutil is not None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self.peak_bytes, self._sample())
        else:  # lifetime maxima (kB on Linux): an upper bound of this stage's peak
            self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            self.peak_bytes = (self_kb + children_kb) * 1024


def ensure_archive(root: Path) -> None:
    """Write the full synthetic day under ``root`` unless a previous run did."""
    from aco_assets.synth import write_archive

    if (root / "archive.json").exists():
        return
    print(f"writing the full synthetic day to {root} (a few minutes, once)", flush=True)
    t0 = time.perf_counter()
    write_archive(root, preset="full", seed=0, progress=True)
    print(f"  written in {time.perf_counter() - t0:.0f} s", flush=True)


def has_champion(resources: dict) -> bool:
    from aco_assets.storage.model_registry import NoChampionError, champion_version

    mlflow_resource = resources["mlflow_resource"]
    try:
        champion_version(mlflow_resource.client(), mlflow_resource.registered_model_name)
    except NoChampionError:
        return False
    return True


@contextmanager
def maybe_profile(directory: Path | None, stage: str) -> Iterator[None]:
    if directory is None:
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(directory / f"{stage}.prof")


def run_stage(
    asset, stage: str, *, resources: dict, instance, run_config: dict, profile_dir: Path | None
) -> dict:
    import dagster as dg

    with PeakMemory() as memory, maybe_profile(profile_dir, stage), CountLoads() as loads:
        cpu0, read0 = cpu_seconds(), read_bytes()
        t0 = time.perf_counter()
        result = dg.materialize(
            [asset],
            partition_key=DAY.isoformat(),
            resources=resources,
            instance=instance,
            run_config=run_config,
        )
        wall_s = time.perf_counter() - t0
        cpu_s, read1 = cpu_seconds() - cpu0, read_bytes()
    if not result.success:
        raise RuntimeError(f"{stage} failed for {DAY}")
    return {
        "stage": stage,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "read_bytes": read1 - read0 if read0 is not None and read1 is not None else None,
        "peak_bytes": memory.peak_bytes,
        "sampled": memory.sampled,
        "events": len(instance.all_logs(result.run_id)),
        "model_loads": loads.calls,
    }


def _descendants() -> list:
    """The live descendant processes (psutil), e.g. the fork server the stages' workers are
    forked from; empty without psutil."""
    return [] if psutil is None else psutil.Process().children(recursive=True)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process, of its reaped children, and of its live
    descendants with theirs (the fork server has reaped the workers forked from it: the stages'
    process pools are shut down, so joined, before their stage returns)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    for p in _descendants():
        try:
            t = p.cpu_times()
        except psutil.Error:  # the process ended between listing and reading
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def read_bytes() -> int | None:
    """Bytes this process, its reaped children and its live descendants with their reaped
    children have read (``rchar`` of /proc/<pid>/io: every read call, the archive, feature
    arrays, tables and imports alike); None off Linux."""
    pids = ["self"] + [str(p.pid) for p in _descendants()]
    total = 0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/io").read_text().splitlines()
        except OSError:
            if pid == "self":
                return None
            continue  # ended in between
        total += next((int(x.split()[1]) for x in lines if x.startswith("rchar:")), 0)
    return total


def cores_used() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class CountLoads:
    """Counts the calls of ``ml.FittedDetector.load`` made in this process while entered (the
    stages run in-process, so every model load of a stage is one of them)."""

    def __enter__(self) -> CountLoads:
        from ml.scoring import FittedDetector

        self.calls, self._cls = 0, FittedDetector
        self._original = FittedDetector.__dict__["load"]
        load = self._original.__func__

        def counting(cls, directory):
            self.calls += 1
            return load(cls, directory)

        FittedDetector.load = classmethod(counting)
        return self

    def __exit__(self, *exc: object) -> None:
        self._cls.load = self._original


def archive_io(files: list) -> dict:
    """Bytes per file of the day, and read + decode seconds per file on a sample of them."""
    from aco_assets.hydrophone.codec import read_file

    sizes = [f.path.stat().st_size for f in files]
    step = max(1, len(files) // READ_SAMPLE_FILES)
    sample = files[::step][:READ_SAMPLE_FILES]
    times = []
    for f in sample:
        t0 = time.perf_counter()
        read_file(f.path, on_fault="skip")
        times.append(time.perf_counter() - t0)
    return {
        "archive_bytes": sum(sizes),
        "bytes_per_file": sum(sizes) / len(sizes),
        "read_decode_s_per_file": statistics.median(times),
        "read_decode_files": len(sample),
    }


def model_load(resources: dict) -> dict:
    """Load time of the champion: the registry path a stage takes (``load_champion``: registry
    look-ups, cache checksums, load) once, then ``FittedDetector.load`` of its cached artifact."""
    from aco_assets.storage.model_registry import load_champion
    from ml import FittedDetector

    mlflow_resource = resources["mlflow_resource"]
    t0 = time.perf_counter()
    loaded = load_champion(
        mlflow_resource.client(),
        mlflow_resource.registered_model_name,
        cache_dir=resources["storage"].layout().models_dir,
    )
    champion_s = time.perf_counter() - t0
    times = []
    for _ in range(MODEL_LOAD_REPEATS):
        t0 = time.perf_counter()
        FittedDetector.load(loaded.directory)
        times.append(time.perf_counter() - t0)
    model_bytes = sum(p.stat().st_size for p in Path(loaded.directory).rglob("*") if p.is_file())
    return {
        "model_version": loaded.version,
        "model_load_s": statistics.median(times),
        "model_load_repeats": len(times),
        "champion_load_s": champion_s,
        "model_bytes": model_bytes,
    }


def latest_version(resources: dict) -> int | None:
    mlflow_resource = resources["mlflow_resource"]
    versions = mlflow_resource.client().search_model_versions(
        f"name = '{mlflow_resource.registered_model_name}'"
    )
    return max((int(v.version) for v in versions), default=None)


def ensure_champion(resources: dict, instance) -> None:
    """Train a small detector (not timed) unless the data directory has one.

    The benchmark times scoring, not model quality: when the small model misses the champion
    checks, the newest version is made champion of this benchmark data directory anyway.
    """
    import dagster as dg

    from aco_assets.defs.model.detector import detector
    from aco_assets.defs.model.typical_windows import typical_windows
    from aco_assets.storage.model_registry import set_champion

    if has_champion(resources):
        return
    if latest_version(resources) is None:
        print("no detector in the data directory: training a small one (not timed)", flush=True)
        t0 = time.perf_counter()
        result = dg.materialize(
            [typical_windows, detector],
            resources=resources,
            instance=instance,
            run_config={
                "ops": {
                    "typical_windows": {"config": BENCH_TYPICAL},
                    "detector": {"config": BENCH_DETECTOR},
                }
            },
        )
        if not result.success:
            raise RuntimeError("training the benchmark detector failed")
        print(f"  trained in {time.perf_counter() - t0:.0f} s", flush=True)
    if not has_champion(resources):
        version = latest_version(resources)
        print(
            f"  version {version} missed the champion checks: made champion for the benchmark only"
        )
        mlflow_resource = resources["mlflow_resource"]
        set_champion(mlflow_resource.client(), mlflow_resource.registered_model_name, version)


def evict_day(files: list) -> str:
    """Drop the day's archive files from the kernel's page cache (``posix_fadvise(DONTNEED)``,
    any user, Linux), so that the stages read the day from disk as a new day's files are read,
    while the software and the instance stay as a machine that runs the pipeline every night
    holds them; what the stages start from, in words."""
    if not hasattr(os, "posix_fadvise"):
        return "as found (this platform cannot drop a file's cached pages)"
    os.sync()
    for f in files:
        fd = os.open(f.path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return "the day's archive files dropped from it first (read from disk)"


PROJECT_PACKAGES = ("aco_assets", "ml", "orchestration")


def compile_project() -> str:
    """Byte-compile the project's packages, as the first run of a user's checkout (or pip, for
    an installed package) leaves them: a process with ``PYTHONDONTWRITEBYTECODE`` set (as some
    CI and container images do) would otherwise compile every project module anew at each
    start. Returns how the benchmark found them, for the report."""
    import compileall

    root = Path(__file__).resolve().parents[1]
    ok = all(compileall.compile_dir(root / pkg, quiet=1, workers=1) for pkg in PROJECT_PACKAGES)
    if not ok:
        raise RuntimeError("byte-compiling the project failed")
    return "compiled (__pycache__ written as a first run leaves it)"


STEP_LINE = re.compile(r"^\s+(?P<step>\w+): done in (?P<s>[\d.]+) s")


def run_user_pipeline(archive: Path, data: Path, workers: int) -> dict:
    """``aco pipeline --stage ingest --stage detect`` for the day, as a user runs it: a new
    process (imports, code location, persistent instance under ``<data>/dagster_home``), the
    ingest run (``raw_files`` and ``spectrograms`` in one step) and the detect run
    (``anomaly_scores``, ``detections``, ``review_clips``) with the champion of ``data``,
    and its summary. Its wall time, the peak memory of its process tree, and each step's time
    as its console printed it."""
    aco = Path(sys.executable).with_name("aco")
    command = [
        str(aco) if aco.exists() else sys.executable,
        *(
            []
            if aco.exists()
            else ["-c", "import sys; from orchestration.cli.main import main; sys.exit(main())"]
        ),
    ]
    command += ["pipeline", "--data", str(data), "--archive", str(archive), "--from",
                DAY.isoformat(), "--to", DAY.isoformat(), "--stage", "ingest", "--stage",
                "detect", "--workers", str(workers)]  # fmt: skip
    with PeakMemory(own=False) as memory:
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ})
        wall_s = time.perf_counter() - t0
    if done.returncode:
        raise RuntimeError(f"aco pipeline failed ({done.returncode}):\n{done.stderr[-3000:]}")
    steps = {m["step"]: float(m["s"]) for m in map(STEP_LINE.match, done.stderr.splitlines()) if m}
    return {"wall_s": wall_s, "peak_bytes": memory.peak_bytes, "steps": steps,
            "command": "aco " + " ".join(command[command.index("pipeline"):])}  # fmt: skip


def summary(rows: list[dict], n_files: int, workers: int, extra: dict | None = None) -> dict:
    """The figures of :func:`print_table` as a JSON-ready dict (seconds, MB; bytes for I/O),
    with ``extra`` (:func:`archive_io`, :func:`model_load`) merged in."""
    timed = [r for r in rows if r["stage"] in TIMED_STAGES]
    total = sum(r["wall_s"] for r in timed)
    peak = max(r["peak_bytes"] for r in rows)
    stages = [
        {"stage": r["stage"], "wall_s": r["wall_s"], "x_real_time": DAY_S / r["wall_s"],
         "files_per_s": n_files / r["wall_s"], "peak_mb": r["peak_bytes"] / 2**20,
         "cpu_s": r["cpu_s"], "read_bytes": r["read_bytes"], "events": r["events"],
         "model_loads": r["model_loads"]}
        for r in rows
    ]  # fmt: skip
    return {
        **(extra or {}),
        "cores_used": cores_used(), "day_wall_s": sum(r["wall_s"] for r in rows),
        "day_cpu_s": sum(r["cpu_s"] for r in rows), "runs_per_day": len(rows),
        "day_read_bytes": None if any(r["read_bytes"] is None for r in rows)
        else sum(r["read_bytes"] for r in rows),
        "events_per_day": sum(r["events"] for r in rows),
        "model_loads_per_day": sum(r["model_loads"] for r in rows),
        "day": DAY.isoformat(), "n_files": n_files, "audio_s": DAY_S, "workers": workers,
        "stages": stages, "timed_stages": list(TIMED_STAGES), "timed_s": total,
        "timed_x_real_time": DAY_S / total, "target_s": TARGET_S, "peak_mb": peak / 2**20,
        "target_peak_mb": TARGET_PEAK_BYTES / 2**20,
        "memory": "sampled RSS, process + workers" if rows[0]["sampled"]
        else "getrusage lifetime maxima",
    }  # fmt: skip


def print_table(rows: list[dict], n_files: int, workers: int) -> None:
    print(f"\n{DAY}: {n_files} files, {workers} worker process(es)")
    print(
        f"{'stage':<16}{'wall s':>9}{'CPU s':>8}{'x real time':>13}{'files/s':>9}{'peak MB':>9}"
        f"{'events':>8}{'loads':>7}"
    )
    for r in rows:
        print(
            f"{r['stage']:<16}{r['wall_s']:>9.1f}{r['cpu_s']:>8.1f}{DAY_S / r['wall_s']:>13.0f}"
            f"{n_files / r['wall_s']:>9.1f}{r['peak_bytes'] / 2**20:>9.0f}{r['events']:>8}"
            f"{r['model_loads']:>7}"
        )
    timed = [r for r in rows if r["stage"] in TIMED_STAGES]
    total = sum(r["wall_s"] for r in timed)
    peak = max(r["peak_bytes"] for r in rows)
    how = "sampled RSS, process + workers" if rows[0]["sampled"] else "getrusage lifetime maxima"
    print(
        f"\n{' + '.join(TIMED_STAGES)}: {total:.1f} s ({DAY_S / total:.0f}x real time), "
        f"target < {TARGET_S:.0f} s: {'met' if total < TARGET_S else 'NOT met'}"
    )
    print(
        f"peak memory: {peak / 2**20:.0f} MB ({how}), target < {TARGET_PEAK_BYTES / 2**30:.0f} GB: "
        f"{'met' if peak < TARGET_PEAK_BYTES else 'NOT met'}"
    )


def print_user(user: dict) -> None:
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in user["steps"].items())
    ok = user["wall_s"] <= TARGET_S
    print(
        f"{user['command']}\n  {user['wall_s']:.1f} s wall ({DAY_S / user['wall_s']:.0f}x real "
        f"time; steps: {steps}), peak {user['peak_bytes'] / 2**20:.0f} MB; target <= "
        f"{TARGET_S:.0f} s: {'met' if ok else 'NOT met'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="directory caching the archive, data and Dagster instance (default: a temp dir)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="data directory with a champion to reuse (default: <work>/data)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="processes of raw_files and spectrograms"
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="write <stage>.prof cProfiles here"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    logging.getLogger("dagster").setLevel(logging.WARNING)  # run events would drown the table
    from aco_assets.defs.detect.anomaly_scores import anomaly_scores
    from aco_assets.defs.detect.detections import detections
    from aco_assets.defs.ingest.day_ingest import ingest
    from aco_assets.defs.resources import MlflowResource, StorageResource
    from aco_assets.hydrophone import Archive

    work = args.work or Path(tempfile.mkdtemp(prefix="aco-bench-"))
    archive, data = work / "archive", (args.data or work / "data")
    ensure_archive(archive)
    data.mkdir(parents=True, exist_ok=True)
    storage = StorageResource(data_dir=str(data), archive_root=str(archive))
    resources = {"storage": storage, "mlflow_resource": MlflowResource(storage=storage)}
    day_files = Archive(archive).files(
        dt.datetime.combine(DAY, dt.time()),
        dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time()),
    )
    n_files = len(day_files)
    workers = {"config": {"workers": args.workers}}
    (work / "dagster_home").mkdir(parents=True, exist_ok=True)
    instance = dg.DagsterInstance.local_temp(tempdir=str(work / "dagster_home"))
    page_cache = evict_day(day_files)
    print(f"page cache: {page_cache}", flush=True)
    rows = [
        run_stage(
            ingest,
            "ingest",
            resources=resources,
            instance=instance,
            run_config={"ops": {"ingest": workers}},
            profile_dir=args.profile,
        )
    ]
    print(f"  ingest (raw_files + spectrograms): {rows[-1]['wall_s']:.1f} s", flush=True)
    ensure_champion(resources, instance)
    for asset in (anomaly_scores, detections):
        rows.append(
            run_stage(
                asset,
                asset.key.path[-1],
                resources=resources,
                instance=instance,
                run_config={},
                profile_dir=args.profile,
            )
        )
        print(f"  {rows[-1]['stage']}: {rows[-1]['wall_s']:.1f} s", flush=True)
    print_table(rows, n_files, args.workers)
    compiled = compile_project()
    page_cache_user = evict_day(day_files)
    print(f"\n`aco pipeline` for the day (page cache: {page_cache_user}) ...", flush=True)
    user = run_user_pipeline(archive, data, args.workers)
    print_user(user)
    extra = {**archive_io(day_files), **model_load(resources)}
    print(
        f"events written to the Dagster event log: {sum(r['events'] for r in rows)} in "
        f"{len(rows)} runs; FittedDetector.load calls: {sum(r['model_loads'] for r in rows)}"
    )
    print(
        f"archive: {extra['bytes_per_file'] / 1e6:.2f} MB per file, read + decode "
        f"{extra['read_decode_s_per_file']:.3f} s per file (median of "
        f"{extra['read_decode_files']}); champion v{extra['model_version']}: "
        f"FittedDetector.load {extra['model_load_s']:.3f} s, load_champion "
        f"{extra['champion_load_s']:.3f} s, {extra['model_bytes'] / 1e6:.1f} MB"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        figures = {**summary(rows, n_files, args.workers, extra), "page_cache": page_cache}
        figures["aco_pipeline"] = {
            **{k: v for k, v in user.items() if k != "peak_bytes"},
            "peak_mb": user["peak_bytes"] / 2**20,
            "x_real_time": DAY_S / user["wall_s"],
            "page_cache": page_cache_user,
            "bytecode": compiled,
        }
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
