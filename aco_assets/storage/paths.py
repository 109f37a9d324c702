"""Local paths and object-storage URLs behind one interface (fsspec / universal-pathlib).

A location is a local path (``/data/archive``, ``./data``) or a URL (``s3://bucket/prefix``).
Local locations stay plain :class:`pathlib.Path` objects, so local reads keep their speed
(``open`` + ``readinto``, ``np.load(mmap_mode="r")``); a URL becomes a :class:`upath.UPath`
whose file system is fsspec's (s3fs for ``s3://``). Credentials and endpoint come from the
standard settings of that file system (for S3: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``), anything else from ``storage_options``.

Writes are atomic on both: a local file is written under a temporary name and renamed over its
target (:func:`os.replace`); an object is uploaded whole by one PUT (:func:`write_bytes_atomic`),
which S3 makes visible all at once, never in part.

Pure: the standard library, fsspec and universal-pathlib only.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from upath import UPath

__all__ = [
    "AnyPath",
    "as_path",
    "is_remote",
    "is_url",
    "local_copy",
    "object_version",
    "relative_posix",
    "write_bytes_atomic",
]

AnyPath = Path | UPath

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_LOCAL_PROTOCOLS = ("", "file", "local")


def is_url(location: object) -> bool:
    """True for a URL of a remote file system (``s3://...``); False for a local path or
    ``file://`` URL."""
    if isinstance(location, UPath):
        return location.protocol not in _LOCAL_PROTOCOLS
    text = os.fspath(location) if isinstance(location, os.PathLike) else str(location)
    return bool(_URL.match(text)) and not text.startswith("file://")


def is_remote(path: object) -> bool:
    """True when ``path`` lies on object storage (a :class:`UPath` of a remote protocol)."""
    return isinstance(path, UPath) and path.protocol not in _LOCAL_PROTOCOLS


def as_path(
    location: str | os.PathLike,
    *,
    storage_options: Mapping[str, Any] | None = None,
    resolve: bool = False,
) -> AnyPath:
    """The path object of a location: a :class:`UPath` for a URL, else a :class:`Path`.

    Parameters
    ----------
    location
        A local path, a ``file://`` URL, a URL (``s3://bucket/prefix``) or a path object.
    storage_options
        Passed to the fsspec file system of a URL (e.g. ``{"anon": True}``); ignored for local
        paths.
    resolve
        Make a local path absolute (``~`` expanded, symlinks resolved).
    """
    if is_remote(location):
        if storage_options:
            return UPath(str(location), **{**location.storage_options, **storage_options})
        return location
    if is_url(location):
        return UPath(str(location), **dict(storage_options or {}))
    text = os.fspath(location) if isinstance(location, os.PathLike) else str(location)
    path = Path(text.removeprefix("file://"))
    return path.expanduser().resolve() if resolve else path


def _key(path: AnyPath) -> str:
    """The path inside its file system, with ``/`` separators and no trailing one."""
    return (path.path if is_remote(path) else path.as_posix()).rstrip("/")


def relative_posix(path: AnyPath, root: AnyPath) -> str:
    """``path`` relative to ``root`` as a POSIX string, the same for a local and a remote tree.

    Raises
    ------
    ValueError
        If ``path`` does not lie under ``root`` (the message names both).
    """
    if not is_remote(path) and not is_remote(root):
        return Path(path).relative_to(root).as_posix()
    key, base = _key(path), _key(root)
    if not key.startswith(base + "/"):
        raise ValueError(f"{path} does not lie under {root}")
    return key[len(base) + 1 :]


#: Bytes per read-ahead request: Linux starts at most a few MB of read-ahead per call.
ADVISE_CHUNK = 4 << 20


def advise_will_need(path: AnyPath) -> None:
    """Ask the kernel to start reading ``path`` into the page cache now, without waiting for it
    (``posix_fadvise(WILLNEED)``, in :data:`ADVISE_CHUNK` pieces): a file read soon after comes
    from memory while the disk serves the next. Nothing for a remote path, on a platform
    without it, or when the file cannot be opened (its reader reports that)."""
    if is_remote(path) or not hasattr(os, "posix_fadvise"):
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        size = os.fstat(fd).st_size
        for offset in range(0, size, ADVISE_CHUNK):
            os.posix_fadvise(fd, offset, ADVISE_CHUNK, os.POSIX_FADV_WILLNEED)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path: AnyPath, data: bytes | bytearray | memoryview) -> None:
    """Replace the file or object ``path`` by ``data``, all at once.

    Local: written to a hidden temporary file beside it, flushed, then renamed over it.
    Remote: one upload of the whole object (``fs.pipe_file``: a single PUT, or for a very large
    object a multipart upload, which S3 also publishes only when complete).
    """
    if is_remote(path):
        path.fs.pipe_file(path.path, bytes(data))
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def object_version(path: AnyPath) -> str:
    """A token that changes whenever the object does: its ETag and size (local: mtime and size).

    Raises
    ------
    FileNotFoundError
        If there is no such file or object (the message names it).
    """
    if not is_remote(path):
        st = os.stat(path)
        return f"{st.st_mtime_ns}-{st.st_size}"
    try:
        info = path.fs.info(path.path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist") from None
    etag = str(info.get("ETag") or info.get("etag") or info.get("LastModified") or "")
    return f"{etag.strip(chr(34))}-{info.get('size')}"


def local_copy(path: AnyPath, cache_dir: str | os.PathLike) -> Path:
    """A local file with the content of ``path``: ``path`` itself when local, else a copy in
    ``cache_dir`` keyed by its URL and version (ETag and size), fetched once.

    Older copies of the same URL are removed when a new version is fetched.
    """
    if not is_remote(path):
        return Path(path)
    version = object_version(path)
    folder = Path(cache_dir) / hashlib.sha256(str(path).encode()).hexdigest()[:24]
    target = folder / f"{hashlib.sha256(version.encode()).hexdigest()[:16]}{path.suffix}"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        path.fs.get_file(path.path, str(tmp))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    for old in folder.glob(f"*{path.suffix}"):
        if old != target:
            old.unlink(missing_ok=True)
    return target
