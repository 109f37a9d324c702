"""Errors and fault records of the HYD24BBpk codec.

Every problem a reader can meet in a real archive is a *fault* with a documented ``kind``. Under
``on_fault="raise"`` it is raised as the typed subclass of :class:`AcoFormatError` listed in
:data:`FAULT_ERRORS`; under ``"warn"`` or ``"skip"`` it is recorded as a :class:`Fault` (and, for
``"warn"``, logged at WARNING level) and reading goes on, keeping every sample that can be decoded.

Fault kinds
-----------
``"truncated_record"``
    The last record's header is complete but its payload is short. The samples present are kept;
    the rest of the record is zero-padded to 4096 samples and marked missing (``valid=False``).
``"partial_header"``
    The file ends with fewer than 36 bytes after its last record; those bytes are ignored.
``"bad_width"``
    A header states a sample width of 0 or over 32 bits. The reader searches for the next record
    (its counter is this one's plus one); the bad record's 4096 samples are marked missing. If no
    next record is found, the rest of the file is skipped.
``"time_jump"``
    Two consecutive records are further apart than 4096 / 24000 s plus the tolerance.
``"time_backwards"``
    Two consecutive records are closer than 4096 / 24000 s minus the tolerance (a step back).
``"bad_header"``
    A record counter that does not increase by one, layout B's duplicate counter differing from the
    counter, or sync bytes differing from the first record's.
``"empty_file"``
    The file holds no bytes.
``"not_hyd_format"``
    The first header is not plausible (width out of range, time outside 2000-2100, microseconds or
    sub-second count out of range): the file is not a HYD24BBpk file. Nothing is decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FaultKind = Literal[
    "truncated_record",
    "partial_header",
    "bad_width",
    "time_jump",
    "time_backwards",
    "bad_header",
    "empty_file",
    "not_hyd_format",
]
OnFault = Literal["raise", "warn", "skip"]


class AcoFormatError(ValueError):
    """A HYD24BBpk file (or its name) does not follow the format in docs/format.md."""


class TruncatedRecordError(AcoFormatError):
    """The last record's payload is shorter than its header says."""


class PartialHeaderError(AcoFormatError):
    """The file ends inside a record header."""


class BadWidthError(AcoFormatError):
    """A record header states a sample width of 0 or more than 32 bits."""


class TimeJumpError(AcoFormatError):
    """Consecutive record times are further apart than one record."""


class TimeBackwardsError(AcoFormatError):
    """A record time steps back (closer than one record to the previous one)."""


class BadHeaderError(AcoFormatError):
    """Record counter, duplicate counter or sync bytes are inconsistent."""


class EmptyFileError(AcoFormatError):
    """The file holds no bytes."""


class NotHydFormatError(AcoFormatError):
    """The file is not a HYD24BBpk file at all."""


class FileNameError(AcoFormatError):
    """A file name does not follow ``YYYY-MM-DD--HH.MM.HYD24BBpk``."""


FAULT_ERRORS: dict[str, type[AcoFormatError]] = {
    "truncated_record": TruncatedRecordError,
    "partial_header": PartialHeaderError,
    "bad_width": BadWidthError,
    "time_jump": TimeJumpError,
    "time_backwards": TimeBackwardsError,
    "bad_header": BadHeaderError,
    "empty_file": EmptyFileError,
    "not_hyd_format": NotHydFormatError,
}


@dataclass(frozen=True)
class Fault:
    """One fault found in a file.

    Attributes
    ----------
    kind : str
        One of the kinds listed in this module's docstring.
    record : int or None
        Index (0-based, in file order) of the record concerned, or None for whole-file faults.
    message : str
        Human-readable description naming the file and the record.
    """

    kind: str
    record: int | None
    message: str

    def to_error(self) -> AcoFormatError:
        """The typed exception for this fault."""
        return FAULT_ERRORS.get(self.kind, AcoFormatError)(self.message)
