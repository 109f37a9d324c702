"""The process pool of the per-day stages: :func:`map_files` runs a per-file function (e.g.
:func:`aco_assets.signal.processing.ingest_file`) over a day's files on worker processes forked
from a fork server, in order, with progress and read-ahead; the workers end with the process
that owns the pool, however it ends.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_files(
    fn: Callable[..., R],
    items: Sequence[T],
    *args: Any,
    workers: int = 1,
    on_done: Callable[[int, int], None] | None = None,
    prefetch: Callable[[T], None] | None = None,
    ahead: int = 8,
) -> Iterator[R]:
    """``fn(item, *args)`` for every item, in order, on ``workers`` processes.

    The processes are forked from a fork server (:func:`worker_context`), not from the caller
    (which may hold threads, e.g. torch's), once per call: a whole day or backfill range pays
    the start-up once, and a process costs a fork, not an interpreter start and the imports of
    the numerical stack. Each worker runs its numerical libraries (BLAS, OpenMP) on one thread:
    the workers are the parallelism, and ``workers`` processes of several threads each
    oversubscribe the cores (`make bench-pipeline` shows the spectrograms stage).
    ``on_done(i, n)`` reports progress. ``prefetch(item)``, called in this process ``ahead``
    items before the item's turn (e.g.
    :func:`aco_assets.storage.paths.advise_will_need` of its file), lets the disk
    read the next files while the workers compute.
    """
    n = len(items)
    advise = _Prefetcher(items, prefetch, ahead)
    if workers <= 1 or n <= 1:
        for i, item in enumerate(items):
            advise.passed(i)
            result = fn(item, *args)
            if on_done:  # before the yield: a caller that takes exactly n results sees n/n
                on_done(i + 1, n)
            yield result
        return
    with ProcessPoolExecutor(
        max_workers=min(workers, n),
        mp_context=worker_context(),
        initializer=_start_worker,
        initargs=(os.getpid(),),
    ) as pool:
        advise.passed(0)
        futures = [pool.submit(fn, item, *args) for item in items]
        for i, future in enumerate(futures):
            result = future.result()
            advise.passed(i + 1)
            if on_done:
                on_done(i + 1, n)
            if i == n - 1:  # the workers end before the last result goes out: a caller that
                pool.shutdown(wait=True)  # takes exactly n results leaves no process behind
            yield result


class _Prefetcher:
    """Calls ``prefetch`` on each item once, up to ``ahead`` items past the last one done."""

    def __init__(self, items: Sequence, prefetch: Callable | None, ahead: int) -> None:
        self.items, self.prefetch, self.ahead, self.next = items, prefetch, ahead, 0

    def passed(self, done: int) -> None:
        if self.prefetch is None:
            return
        while self.next < min(len(self.items), done + self.ahead):
            self.prefetch(self.items[self.next])
            self.next += 1


#: Imported once by the fork server, so that every worker forked from it starts with them.
WORKER_PRELOAD = ("__main__", "aco_assets.signal.processing")


def worker_context() -> multiprocessing.context.BaseContext:
    """The start method of the workers: a fork server where the platform has one, else spawn.

    The fork server is a single-threaded process started once per calling process, on the
    first pool; it imports :data:`WORKER_PRELOAD` (the caller's main module, as spawn would in
    every worker, and :mod:`aco_assets.signal.processing` with NumPy, SciPy and the codec), and each worker is a fork
    of it: safe whatever threads the caller holds, and a worker starts in milliseconds where a
    spawned one pays about a second of imports.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(WORKER_PRELOAD))  # no effect once the server runs
    return context


def _start_worker(owner: int) -> None:
    """Pool initializer: one thread for BLAS / OpenMP in this worker process (the workers are
    the parallelism), freed memory kept for the next file (:func:`keep_freed_memory`), and a
    watch on ``owner``, the process whose pool this is: a worker forked from the fork server is
    not the owner's child, so when the owner is killed (SIGKILL, out of memory) nothing else
    would end it, and it would wait for work forever."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # called, not entered: the limit holds for the worker's lifetime
    keep_freed_memory()
    threading.Thread(target=_exit_with, args=(owner,), daemon=True, name="owner-watch").start()


#: Arrays below this many bytes come from the C heap, not from fresh ``mmap`` calls.
HEAP_ARRAY_BYTES = 512 << 20
#: Freed heap memory above this is given back to the system.
HEAP_KEEP_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Let this process reuse the memory it frees (glibc's ``mallopt``; False elsewhere).

    A worker allocates the same large arrays for every file (the decoded samples, the STFT
    frames: tens of MB each). glibc serves an allocation above 32 MB with its own ``mmap`` and
    unmaps it when freed, so every file paid again for the kernel to zero those pages: a fifth
    of a worker's CPU time was system time. With the thresholds raised the arrays come from the
    heap, and the heap keeps them for the next file. The peak is unchanged (the same arrays
    are live at once); the worker simply holds it between files.
    """
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl without mallopt)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    return bool(mallopt(m_mmap_threshold, HEAP_ARRAY_BYTES)) and bool(
        mallopt(m_trim_threshold, HEAP_KEEP_BYTES)
    )


def _exit_with(owner: int, every_s: float = 1.0) -> None:
    while _alive(owner):
        time.sleep(every_s)
    os._exit(1)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: the state field of /proc/<pid>/stat, after the command name in parentheses
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
