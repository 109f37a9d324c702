"""Local paths stay plain ``Path`` objects; URLs become ``UPath``; relative names agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from upath import UPath

from aco_assets.storage.paths import as_path, is_remote, is_url, relative_posix, write_bytes_atomic


@pytest.mark.parametrize(
    ("location", "remote"),
    [
        ("s3://bucket/archive", True),  # object storage
        ("gs://bucket/x", True),  # any fsspec protocol
        ("/data/archive", False),  # an absolute path
        ("data/archive", False),  # a relative path
        ("file:///data/archive", False),  # a file URL is local
        (Path("/data"), False),  # a path object
    ],
)
def test_urls_become_upaths_and_local_paths_stay_paths(location, remote):
    path = as_path(location)
    assert is_url(location) is remote and is_remote(path) is remote
    assert isinstance(path, UPath if remote else Path)
    if not remote:
        assert type(path) is type(Path())  # a plain Path: local reads keep their speed


def test_storage_options_travel_with_the_url():
    assert as_path("s3://bucket/a", storage_options={"anon": True}).storage_options == {
        "anon": True
    }


def test_relative_names_are_the_same_for_a_local_and_a_remote_tree(tmp_path):
    rel = "2016/02/18/2016-02-18--00.00.HYD24BBpk"
    assert relative_posix(tmp_path / rel, tmp_path) == rel
    root = UPath("s3://bucket/prefix")
    assert relative_posix(root / rel, root) == rel
    with pytest.raises(ValueError, match="s3://bucket/other"):
        relative_posix(UPath("s3://bucket/other/x"), root)


def test_a_local_atomic_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "a" / "b.json"
    write_bytes_atomic(target, b"one")
    write_bytes_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["b.json"]
