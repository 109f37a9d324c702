"""The ACO hydrophone archive: the HYD24BBpk codec, the archive index and clips.

Pure code (numpy, scipy, soundfile, matplotlib; fsspec / universal-pathlib for archives on
object storage, :mod:`aco_assets.storage.paths`): never imports dagster, mlflow or duckdb.
All datetimes are naive UTC. See docs/format.md for the file format.
"""

from .archive import Archive, ArchiveFile, DayCoverage, MisfiledFile
from .clip import Clip, NoDataWarning, Spectrogram, as_utc
from .codec import RawFile, decode_records, read_bytes, read_file
from .errors import (
    FAULT_ERRORS,
    AcoFormatError,
    BadHeaderError,
    BadWidthError,
    EmptyFileError,
    Fault,
    FileNameError,
    NotHydFormatError,
    PartialHeaderError,
    TimeBackwardsError,
    TimeJumpError,
    TruncatedRecordError,
)
from .summary import FileSummary, scan_file
from .timing import (
    FILE_DURATION_S,
    FILES_PER_DAY,
    SAMPLE_RATE_HZ,
    SAMPLES_PER_RECORD,
    archive_path_for,
    file_name_for,
    parse_file_name,
)
from .writer import minimal_bits, write_file

__all__ = [
    "FAULT_ERRORS",
    "FILES_PER_DAY",
    "FILE_DURATION_S",
    "SAMPLES_PER_RECORD",
    "SAMPLE_RATE_HZ",
    "AcoFormatError",
    "Archive",
    "ArchiveFile",
    "BadHeaderError",
    "BadWidthError",
    "Clip",
    "DayCoverage",
    "EmptyFileError",
    "Fault",
    "FileNameError",
    "FileSummary",
    "MisfiledFile",
    "NoDataWarning",
    "NotHydFormatError",
    "PartialHeaderError",
    "RawFile",
    "Spectrogram",
    "TimeBackwardsError",
    "TimeJumpError",
    "TruncatedRecordError",
    "archive_path_for",
    "as_utc",
    "decode_records",
    "file_name_for",
    "minimal_bits",
    "parse_file_name",
    "read_bytes",
    "read_file",
    "scan_file",
    "write_file",
]
