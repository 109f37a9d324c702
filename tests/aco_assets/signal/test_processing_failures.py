"""Per-file failures of the per-day stages: one row and one issue each, with a reason, no crash."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import psutil
import pytest

from aco_assets.hydrophone import Archive, archive_path_for, write_file
from aco_assets.signal.features import FrontEndConfig
from aco_assets.signal.pool import map_files
from aco_assets.signal.processing import (
    file_windows,
    ingest_file,
    inventory_file,
    misfiled_row,
    misfiled_windows,
)

ROOT = Path(__file__).resolve().parents[3]
START = datetime(2016, 2, 15, 5, 0)
DAY_FOLDER = "2016/02/15"


def _unreadable(root, kind: str):
    """A file of the day that cannot be read, named like a data file."""
    path = root / DAY_FOLDER / "2016-02-15--05.05.HYD24BBpk"
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(50_000))
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        path.mkdir()
    return path


# (what the entry is, fault kind in raw_files, words of the reason)
UNREADABLE = [
    ("random", "not_hyd_format", "not a HYD24BBpk file"),  # random bytes
    ("empty", "empty_file", "holds no bytes"),  # zero bytes
    ("folder", "unreadable", "a folder, not a file"),  # a directory under a data file's name
]


@pytest.mark.parametrize(("kind", "fault", "words"), UNREADABLE)
def test_an_unreadable_file_is_an_unreadable_row_with_its_reason(tmp_path, kind, fault, words):
    path = _unreadable(tmp_path, kind)
    row = inventory_file(path, tmp_path)
    assert row["status"] == "unreadable" and row["n_samples"] == 0
    assert words in row["reason"] and str(row["reason"]).count("unreadable") == 0
    faults = json.loads(row["faults"])
    assert [f["kind"] for f in faults] == [fault]
    assert faults[0]["message"].startswith(f"{DAY_FOLDER}/2016-02-15--05.05.HYD24BBpk: ")
    assert str(tmp_path) not in row["faults"] + row["reason"]  # archive paths, not this machine's


@pytest.mark.parametrize(("kind", "fault", "words"), UNREADABLE)
def test_an_unreadable_file_gives_no_windows_and_one_unreadable_issue(tmp_path, kind, fault, words):
    path = _unreadable(tmp_path, kind)
    out = file_windows(path, tmp_path, FrontEndConfig())
    assert out.n_windows == 0 and out.rows == {}
    assert words in out.error and str(tmp_path) not in out.error


def test_a_good_file_has_no_reason_and_its_faults_name_the_archive_path(tmp_path):
    path = tmp_path / archive_path_for(START)
    x = np.random.default_rng(1).integers(-3000, 3000, 4 * 4096)
    write_file(path, x, start_utc=START)
    row = inventory_file(path, tmp_path)
    assert (row["status"], row["reason"]) == ("ok", None)
    path.write_bytes(path.read_bytes()[:-1000])  # a truncated last record
    row = inventory_file(path, tmp_path)
    assert row["status"] == "faulty" and "truncated_record" in row["reason"]
    assert "nothing decodes" not in row["reason"] and str(tmp_path) not in row["reason"]
    out = file_windows(path, tmp_path, FrontEndConfig())
    (fault,) = [i for i in out.issues if i["kind"] == "truncated_record"]
    assert fault["detail"].startswith("record 3: truncated_record") and out.error is None


def test_a_misfiled_entry_is_a_misfiled_row_and_issue_with_the_listing_reason(tmp_path):
    wrong = tmp_path / DAY_FOLDER / "2016-02-16--00.00.HYD24BBpk"
    write_file(wrong, np.zeros(2 * 4096, np.int64), start_utc=datetime(2016, 2, 16))
    (misfiled,) = Archive(tmp_path).misfiled(START.date())
    row = misfiled_row(inventory_file(wrong, tmp_path), misfiled)
    assert row["status"] == "misfiled" and row["n_records"] == 2  # its headers were read
    assert (
        row["nominal_start"] == datetime(2016, 2, 16) and "Move it to 2016/02/16/" in row["reason"]
    )
    assert json.loads(row["faults"])[0]["kind"] == "wrong_folder"
    out = misfiled_windows(misfiled, tmp_path, (1, 4, 2))
    assert out.n_windows == 0 and out.features.shape == (0, 1, 4, 2)
    (issue,) = out.issues
    assert (issue["file"], issue["kind"]) == (
        f"{DAY_FOLDER}/2016-02-16--00.00.HYD24BBpk",
        "misfiled",
    )
    assert issue["detail"].startswith("the name says 2016-02-16")


def _square_in_worker(x: int) -> tuple[int, int, int]:
    return x * x, os.getpid(), os.getppid()


def test_map_files_on_workers_gives_the_sequential_results_in_order_with_progress():
    done: list[tuple[int, int]] = []
    items = list(range(7))
    results = list(
        map_files(_square_in_worker, items, workers=2, on_done=lambda i, n: done.append((i, n)))
    )
    assert [r[0] for r in results] == [x * x for x in items]
    assert done == [(i + 1, len(items)) for i in range(len(items))]
    pids = {pid for _, pid, _ in results}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    if "forkserver" in multiprocessing.get_all_start_methods():
        # forked from the fork server, which imported the numerical stack once, not from us
        assert {ppid for _, _, ppid in results} != {os.getpid()}
    assert [r[0] for r in map_files(_square_in_worker, items, workers=1)] == [x * x for x in items]


def _where_a_large_array_lives(n_bytes: int) -> tuple[int, int]:
    """(bytes in separately mapped blocks while a large array is alive, bytes of heap this
    process still holds once it is freed), from glibc's ``mallinfo2``."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )]  # fmt: skip

    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = MallInfo2
    x = np.ones(n_bytes // 8)
    mapped = mallinfo2().hblkhd
    del x
    return mapped, mallinfo2().arena


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallinfo2")
def test_a_worker_keeps_the_memory_of_a_files_large_arrays_for_the_next_file():
    # a file's decoded samples and STFT frames are tens of MB; glibc maps each such array on
    # its own and unmaps it when freed, so the next file paid again for zeroed pages
    n_bytes = 64 << 20
    (mapped, kept), _ = map_files(_where_a_large_array_lives, [n_bytes] * 2, workers=2)
    assert mapped < n_bytes and kept >= n_bytes
    # what the default allocator does, in a fresh process (no pool initializer)
    fresh = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]);"
         "from test_processing_failures import _where_a_large_array_lives as f;"
         f"print(*f({n_bytes}))", str(Path(__file__).parent)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    fresh_mapped, fresh_kept = map(int, fresh.stdout.split())
    assert fresh_mapped >= n_bytes and fresh_kept < n_bytes


@pytest.mark.parametrize("workers", [1, 2])
def test_map_files_reports_the_last_item_to_a_caller_that_takes_exactly_n_results(workers):
    # raw_files takes one result per listed file with next() and never exhausts the iterator
    done: list[tuple[int, int]] = []
    results = map_files(
        _square_in_worker, [1, 2, 3], workers=workers, on_done=lambda *d: done.append(d)
    )
    taken = [next(results) for _ in range(3)]
    assert [r[0] for r in taken] == [1, 4, 9]
    assert done[-1] == (3, 3)
    # and its workers are gone by then: a process exiting with them alive waits on them forever
    workers_left = []
    for pid in {pid for _, pid, _ in taken} - {os.getpid()}:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                workers_left.append(pid)
        except psutil.NoSuchProcess:
            pass
    assert workers_left == []


def _same_windows(a, b) -> None:
    assert (a.file, a.error, a.issues, a.rows) == (b.file, b.error, b.issues, b.rows)
    np.testing.assert_array_equal(a.features, b.features)


def test_one_read_gives_the_inventory_row_and_the_windows_of_every_file(synthetic_archive):
    """``ingest_file`` (the day's one pass) equals ``inventory_file`` and ``file_windows`` on
    every file of the test archive, its truncated and bad-width files included."""
    config = FrontEndConfig()
    paths = sorted(synthetic_archive.rglob("*.HYD24BBpk"))
    rows = [inventory_file(p, synthetic_archive) for p in paths]
    assert {r["status"] for r in rows} >= {"ok", "faulty"}  # the faults are there to compare
    for path, row in zip(paths, rows, strict=True):
        one_row, one_windows = ingest_file(path, synthetic_archive, config)
        assert one_row == row
        _same_windows(one_windows, file_windows(path, synthetic_archive, config))


@pytest.mark.parametrize(("kind", "fault", "words"), UNREADABLE)
def test_one_read_of_an_unreadable_file_says_what_the_two_stages_say(tmp_path, kind, fault, words):
    path = _unreadable(tmp_path, kind)
    row, windows = ingest_file(path, tmp_path, FrontEndConfig())
    assert row == inventory_file(path, tmp_path) and row["status"] == "unreadable"
    _same_windows(windows, file_windows(path, tmp_path, FrontEndConfig()))
    assert windows.error and str(tmp_path) not in windows.error


KILLED_OWNER = """
import os, sys, time
from aco_assets.signal.pool import map_files

def slow(x):
    time.sleep(0.2)
    return os.getpid()

if __name__ == "__main__":
    for pid in map_files(slow, list(range(200)), workers=2):
        print(pid, flush=True)
"""


def test_the_workers_end_when_the_process_that_owns_the_pool_is_killed(tmp_path):
    # SIGKILL leaves no shutdown to run: the workers watch their owner and go with it
    script = tmp_path / "owner.py"
    script.write_text(KILLED_OWNER)
    owner = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    workers = {int(owner.stdout.readline()) for _ in range(6)}
    assert owner.pid not in workers and 1 <= len(workers) <= 2
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_running(pid) for pid in workers):
        time.sleep(0.2)
    assert not [pid for pid in workers if _running(pid)]


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
