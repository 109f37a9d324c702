"""Read and write HYD24BBpk files: the packed, variable-width sample codec.

Payload (docs/format.md): a little-endian, LSB-first bit stream of two's-complement fields of
``bits`` bits; 4096 samples per record; ``bits`` may change from record to record.

Decoding is vectorised per *width*: 16-bit runs of consecutive records are read as strided
little-endian int16; 8- and 32-bit runs likewise; runs of any other width are gathered with eight
strided unaligned 32-bit (or, above 25 bits, 64-bit) loads, one for each sample position within
an 8-sample block (8 samples of ``b`` bits fill exactly ``b`` bytes), then shifted and sign
extended; the short runs of a width (archive files may switch widths every few records) are
first copied back to back and decoded together. No Python loop runs per sample.

Dimension letters: R records, N samples per record (4096).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from ..storage.paths import AnyPath, as_path, is_remote
from .errors import AcoFormatError, Fault, FileNameError, OnFault
from .records import Layout, RecordTable, scan_buffer
from .timing import (
    HEADER_BYTES,
    SAMPLE_RATE_HZ,
    SAMPLES_PER_RECORD,
    ns_to_datetime,
    parse_file_name,
)

logger = logging.getLogger(__name__)

_PAD = 8  # spare bytes after the file so the last unaligned 64-bit load stays in bounds
_CHUNK = 64  # records decoded together on the odd-width path (output ~0.5 MB, cache-sized)
_SHORT_RUN = 16  # odd-width runs shorter than this are decoded together, not one by one


@dataclass
class RawFile:
    """The decoded content of one HYD24BBpk file. All times are naive UTC.

    Attributes
    ----------
    path : Path, UPath or None
        The file read (a :class:`upath.UPath` on object storage; None when decoded from bytes).
    samples : np.ndarray, shape (n,), int32
        Raw counts, ``n = 4096 * n_records`` (a truncated last record is zero-padded).
    valid : np.ndarray, shape (n,), bool
        False where a sample is missing (padded tail of a truncated record, bad-width record).
    bits : np.ndarray, shape (R,), uint8
        Sample width of each record, as its header states it.
    record_times_utc : np.ndarray, shape (R,), datetime64[ns]
        Time of each record's first sample (header time + 50 us lag - 511 samples).
    start_utc : datetime or None
        Time of sample 0 (the first record's time, to the microsecond); None without records.
    nominal_start_utc : datetime or None
        Start from the file name, or None if the name does not follow the archive rule.
    sample_rate_hz : int
        24000.
    layout : {"A", "B"}
        Header layout (A before December 2016, B from then).
    faults : list of Fault
        Every fault found (see :mod:`.errors`).
    record_counters : np.ndarray, shape (R,), uint32
        The record counter of each header.
    """

    path: AnyPath | None
    samples: np.ndarray
    valid: np.ndarray
    bits: np.ndarray
    record_times_utc: np.ndarray
    start_utc: datetime | None
    nominal_start_utc: datetime | None
    sample_rate_hz: int
    layout: Layout
    faults: list[Fault] = field(default_factory=list)
    record_counters: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))

    @property
    def n_records(self) -> int:
        """Number of records (including a truncated or bad-width one)."""
        return int(self.bits.size)

    @property
    def n_samples(self) -> int:
        return int(self.samples.size)

    @property
    def duration_s(self) -> float:
        """Duration covered by the records, seconds (``n_samples / sample_rate_hz``)."""
        return self.samples.size / self.sample_rate_hz


def _decode_run(buf: np.ndarray, off0: int, n_rec: int, b: int, out: np.ndarray) -> None:
    """Decode ``n_rec`` consecutive records of width ``b`` starting at byte ``off0``.

    ``out`` is a contiguous int32 array of shape (n_rec, 4096) that receives the samples.
    """
    reclen = HEADER_BYTES + 512 * b
    base = off0 + HEADER_BYTES
    if b in (8, 16, 32):
        dt = np.dtype(f"<i{b // 8}")
        out[...] = np.ndarray((n_rec, SAMPLES_PER_RECORD), dt, buf, base, (reclen, b // 8))
        return
    word = np.dtype("<u4") if b <= 25 else np.dtype("<u8")
    wbits = 8 * word.itemsize
    signed = np.dtype(f"<i{word.itemsize}")
    tmp = np.empty((min(n_rec, _CHUNK), SAMPLES_PER_RECORD // 8), word)  # (R_chunk, 512)
    for lo in range(0, n_rec, _CHUNK):  # chunks of records keep the 8 strided passes in cache
        n = min(_CHUNK, n_rec - lo)
        out3 = out[lo : lo + n].reshape(n, SAMPLES_PER_RECORD // 8, 8)  # (R_chunk, 512, 8)
        t = tmp[:n]
        for k in range(8):
            byte, shift = divmod(k * b, 8)
            src = np.ndarray(t.shape, word, buf, base + lo * reclen + byte, (reclen, b))
            np.left_shift(src, wbits - b - shift, out=t)
            np.right_shift(t.view(signed), wbits - b, out=out3[:, :, k], casting="unsafe")


def _decode_width(
    buf: np.ndarray, offsets: np.ndarray, idx: np.ndarray, b: int, samples: np.ndarray
) -> None:
    """Decode the whole records ``idx`` (R_b,) of width ``b`` at byte ``offsets`` (R_b,) into
    the rows ``samples[idx]`` of ``samples`` (R, 4096) int32.

    Runs of adjacent records decode in place when they are long or a single strided copy (8,
    16, 32 bits); the short runs of other widths are copied back to back first, so that the
    eight passes of :func:`_decode_run` run once over all of them, not once per short run.
    """
    reclen = HEADER_BYTES + 512 * b
    breaks = np.flatnonzero((np.diff(idx) != 1) | (np.diff(offsets) != reclen)) + 1
    starts, ends = np.r_[0, breaks], np.r_[breaks, len(idx)]  # (runs,)
    short = (ends - starts < _SHORT_RUN) & (b not in (8, 16, 32))
    if np.count_nonzero(short) < 2:
        short[:] = False
    for lo, hi in zip(starts[~short].tolist(), ends[~short].tolist(), strict=True):
        rows = samples[idx[lo] : idx[lo] + hi - lo]  # (hi - lo, 4096), adjacent records
        _decode_run(buf, int(offsets[lo]), hi - lo, b, rows)
    if not short.any():
        return
    lengths = (ends - starts)[short]
    packed = np.empty(int(lengths.sum()) * reclen + _PAD, np.uint8)  # short runs back to back
    packed[-_PAD:] = 0
    at = 0
    for lo, n in zip(starts[short].tolist(), lengths.tolist(), strict=True):
        off = int(offsets[lo])
        packed[at * reclen : (at + n) * reclen] = buf[off : off + n * reclen]
        at += n
    decoded = np.empty((at, SAMPLES_PER_RECORD), np.int32)  # (R_short, 4096)
    _decode_run(packed, 0, at, b, decoded)
    in_short = np.repeat(short, ends - starts)  # (R_b,) records of the short runs
    samples[idx[in_short]] = decoded


def decode_records(buf: np.ndarray, size: int, table: RecordTable) -> tuple[np.ndarray, np.ndarray]:
    """Decode every record of ``table`` from ``buf``.

    Parameters
    ----------
    buf : np.ndarray, shape (>= size + 8,), uint8
        File bytes followed by at least 8 spare bytes.
    size : int
        Number of file bytes.
    table : RecordTable
        From :func:`.records.scan_buffer`.

    Returns
    -------
    samples : np.ndarray, shape (4096 * R,), int32
    valid : np.ndarray, shape (4096 * R,), bool
    """
    n_rec = table.n_records
    samples = np.empty((n_rec, SAMPLES_PER_RECORD), np.int32)  # (R, N), every row written below
    valid = np.ones((n_rec, SAMPLES_PER_RECORD), bool)  # (R, N)
    bits = table.bits.astype(np.int64)
    full = table.n_decodable == SAMPLES_PER_RECORD
    for b in np.unique(bits[full]).tolist():
        idx = np.flatnonzero(full & (bits == b))  # (R_b,) the whole records of width b
        _decode_width(buf, table.offsets[idx], idx, b, samples)
    for r in np.flatnonzero(~full).tolist():  # bad-width or truncated record: one at a time
        got = int(table.n_decodable[r])
        valid[r, got:] = False
        samples[r] = 0
        if got:
            b, start = int(bits[r]), int(table.offsets[r])
            one = np.zeros(HEADER_BYTES + 512 * b + _PAD, np.uint8)
            part = buf[start : min(size, start + HEADER_BYTES + 512 * b)]
            one[: part.size] = part
            _decode_run(one, 0, 1, b, samples[r : r + 1])
            samples[r, got:] = 0
    return samples.reshape(-1), valid.reshape(-1)


def read_bytes(
    data: bytes | bytearray | memoryview,
    *,
    name: str | None = None,
    on_fault: OnFault = "warn",
    time_tolerance_s: float = 1e-3,
) -> RawFile:
    """Decode a HYD24BBpk file held in memory (e.g. fetched from object storage).

    Parameters and result as :func:`read_file`; ``name`` (the file name, if known) gives the
    nominal start and names the source in fault messages.
    """
    size = len(memoryview(data).cast("B"))
    buf = np.zeros(size + _PAD, np.uint8)
    buf[:size] = np.frombuffer(data, np.uint8)
    return _from_buffer(buf, size, None, name or "<bytes>", on_fault, time_tolerance_s)


def read_file(
    path: str | os.PathLike,
    *,
    on_fault: OnFault = "warn",
    time_tolerance_s: float = 1e-3,
) -> RawFile:
    """Read and decode one HYD24BBpk file.

    Parameters
    ----------
    path : str, path-like or UPath
        The file: a local path, or a URL / :class:`upath.UPath` on object storage (fetched
        whole, in one read). Its name, if it follows ``YYYY-MM-DD--HH.MM.HYD24BBpk``, gives
        ``nominal_start_utc``.
    on_fault : {"raise", "warn", "skip"}
        ``"raise"``: raise the first fault as its typed :class:`AcoFormatError` (message names the
        file and record). ``"warn"``: record every fault in ``faults`` and log it as a warning.
        ``"skip"``: record faults without logging. In both latter cases every decodable sample is
        kept and missing ones are marked in ``valid``.
    time_tolerance_s : float
        Allowed deviation of consecutive record times from 4096 / 24000 s before a
        ``time_jump`` / ``time_backwards`` fault.

    Returns
    -------
    RawFile

    Raises
    ------
    AcoFormatError
        Under ``on_fault="raise"``, for any fault (see :mod:`.errors` for the kinds).
    OSError
        If the file cannot be read.
    """
    path = as_path(path)
    buf, size = read_buffer(path)
    return _from_buffer(buf, size, path, str(path), on_fault, time_tolerance_s)


def read_buffer(path: AnyPath) -> tuple[np.ndarray, int]:
    """The bytes of ``path`` (local, or fetched whole in one read from object storage) in a
    buffer padded for the decoder, and their count: what :func:`scan_buffer` and
    :func:`decode_scanned` take, so that one read serves both a header walk and a decode."""
    if is_remote(path):
        with path.open("rb") as f:
            size = int(f.size)
            buf = np.empty(size + _PAD, np.uint8)
            got = f.readinto(memoryview(buf)[:size]) if size else 0
    else:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            buf = np.empty(size + _PAD, np.uint8)
            got = f.readinto(memoryview(buf)[:size])
    if got != size:
        raise OSError(f"{path}: read {got} of {size} bytes")
    buf[size:] = 0
    return buf, size


def _from_buffer(
    buf: np.ndarray,
    size: int,
    path: AnyPath | None,
    source: str,
    on_fault: OnFault,
    time_tolerance_s: float,
) -> RawFile:
    table = scan_buffer(
        buf, size, source=source, on_fault=on_fault, time_tolerance_s=time_tolerance_s
    )
    return decode_scanned(buf, size, table, path=path, source=source)


def decode_scanned(
    buf: np.ndarray, size: int, table: RecordTable, *, path: AnyPath | None, source: str
) -> RawFile:
    """The :class:`RawFile` of a buffer (:func:`read_buffer`) whose records ``table`` holds
    (:func:`scan_buffer` of the same buffer, named ``source``): the decode without a second
    header walk."""
    samples, valid = decode_records(buf, size, table)
    try:
        nominal = parse_file_name(Path(source).name)
    except FileNameError:
        nominal = None
    start = ns_to_datetime(int(table.record_start_ns[0])) if table.n_records else None
    return RawFile(
        path=path,
        samples=samples,
        valid=valid,
        bits=table.bits,
        record_times_utc=table.record_start_ns.astype("datetime64[ns]"),
        start_utc=start,
        nominal_start_utc=nominal,
        sample_rate_hz=SAMPLE_RATE_HZ,
        layout=table.layout,
        faults=table.faults,
        record_counters=table.headers["counter"].astype(np.uint32),
    )


__all__ = [
    "AcoFormatError",
    "RawFile",
    "decode_records",
    "decode_scanned",
    "read_buffer",
    "read_bytes",
    "read_file",
]
