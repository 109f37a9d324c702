"""aco_assets.review.folders: versioned day folders behind one link, published atomically."""

from __future__ import annotations

import datetime as dt
import os
import subprocess

from aco_assets.review.folders import (
    current_dir,
    new_version_dir,
    publish,
    remove_leftovers,
    retire,
)

DAY = dt.date(2016, 2, 14)


def _render(folder, text: str) -> None:
    (folder / "r001.wav").write_text(text)
    (folder / "2016-02-14.selections.txt").write_text(text)


def test_publishing_swings_the_day_link_and_retire_removes_the_replaced_folder(tmp_path):
    assert current_dir(tmp_path, DAY) is None
    first = new_version_dir(tmp_path, DAY)
    _render(first, "first")
    assert publish(tmp_path, DAY, first) is None
    link = tmp_path / "2016-02-14"
    assert link.is_symlink() and not os.path.isabs(os.readlink(link))
    assert (link / "r001.wav").read_text() == "first"
    second = new_version_dir(tmp_path, DAY)
    _render(second, "second")
    old = current_dir(tmp_path, DAY)
    publish(tmp_path, DAY, second)
    assert (link / "r001.wav").read_text() == "second"
    assert retire(tmp_path, DAY, old, keep=False) is None and not old.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".versions", "2016-02-14"]


def test_a_folder_from_before_versioning_is_moved_aside_and_can_be_kept(tmp_path):
    legacy = tmp_path / "2016-02-14"
    legacy.mkdir()
    _render(legacy, "reviewed")
    new = new_version_dir(tmp_path, DAY)
    _render(new, "new")
    moved = publish(tmp_path, DAY, new)
    assert moved is not None and (moved / "r001.wav").read_text() == "reviewed"
    kept = retire(tmp_path, DAY, moved, keep=True)
    assert kept.name.startswith("2016-02-14.reviewed-")
    assert (kept / "2016-02-14.selections.txt").read_text() == "reviewed"
    assert (tmp_path / "2016-02-14" / "r001.wav").read_text() == "new"


def test_leftovers_of_killed_runs_go_and_the_published_folder_stays(tmp_path):
    live = new_version_dir(tmp_path, DAY)
    publish(tmp_path, DAY, live)
    new_version_dir(tmp_path, DAY)  # a run killed mid-render
    assert remove_leftovers(tmp_path, DAY, keep={current_dir(tmp_path, DAY)}) == 1
    assert [p.resolve() for p in (tmp_path / ".versions" / "2016-02-14").iterdir()] == [
        live.resolve()
    ]


def test_a_copied_review_folder_keeps_its_link(tmp_path):
    folder = new_version_dir(tmp_path / "a", DAY)
    _render(folder, "x")
    publish(tmp_path / "a", DAY, folder)
    subprocess.run(["cp", "-a", str(tmp_path / "a"), str(tmp_path / "b")], check=True)
    subprocess.run(["rm", "-rf", str(tmp_path / "a")], check=True)
    assert (tmp_path / "b" / "2016-02-14" / "r001.wav").read_text() == "x"
