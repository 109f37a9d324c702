"""Re-running ``review_clips``: reviewer work is kept, a killed run leaves nothing dangling, and a
data folder copied elsewhere keeps its review clips (on a copy of the session's lineage)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import soundfile as sf

from aco_assets.defs.review.review_clips import review_clips, selections_path
from aco_assets.review.render import read_raven_table, read_verdicts
from aco_assets.storage.warehouse import Warehouse
from orchestration.cli.review_commands import import_reviews
from tests.conftest import lineage_resources


@pytest.fixture
def copied(lineage, tmp_path):
    """A ``cp -a`` copy of the lineage's data folder (so these tests may kill runs in it), its
    ``reviews`` emptied (other tests import verdicts into the lineage's)."""
    data = tmp_path / "data"
    subprocess.run(["cp", "-a", str(lineage.data), str(data)], check=True)
    with Warehouse(data / "aco.duckdb").transaction() as con:
        con.execute("DELETE FROM reviews")
    return data


def _day(data: Path) -> dt.date:
    return (
        Warehouse(data / "aco.duckdb")
        .query("SELECT day FROM detections GROUP BY day ORDER BY count(*) DESC, day LIMIT 1")[
            "day"
        ][0]
        .as_py()
    )


def _render(lineage, data: Path, day: dt.date, top_k: int = 2) -> None:
    import dagster as dg

    dg.materialize(
        [review_clips],
        partition_key=day.isoformat(),
        resources=lineage_resources(lineage.archive, data),
        instance=lineage.instance,
        run_config={"ops": {"review_clips": {"config": {"top_k": top_k}}}},
    )


def _fill_verdicts(table: Path, words: list[str]) -> None:
    lines = table.read_text().splitlines()
    filled = [lines[0]] + [line + w for line, w in zip(lines[1:], words, strict=False)]
    filled += lines[1 + len(words) :]
    table.write_text("\n".join(filled) + "\n")


def _assert_consistent(data: Path, day: dt.date) -> None:
    """Every review_clips row names files that exist; the day's table names WAVs that exist."""
    rows = (
        Warehouse(data / "aco.duckdb")
        .query("SELECT * FROM review_clips WHERE day = ?", [day])
        .to_pylist()
    )
    assert rows
    for r in rows:
        for key in ("wav_path", "png_path", "raven_path"):
            assert not Path(r[key]).is_absolute() and (data / r[key]).is_file(), r[key]
    table = data / "review" / f"{day:%Y-%m-%d}" / f"{day:%Y-%m-%d}.selections.txt"
    for row in read_raven_table(table):
        assert sf.info(str(table.parent / row["Begin Path"])).frames > 0


def test_a_rerun_keeps_a_table_with_verdicts_not_yet_imported_in_a_moved_data_folder(
    lineage, copied, tmp_path
):
    day = _day(copied)
    _render(lineage, copied, day)
    moved = tmp_path / "moved"  # the data folder moves after the clips were rendered
    subprocess.run(["cp", "-a", str(copied), str(moved)], check=True)
    subprocess.run(["rm", "-rf", str(copied)], check=True)
    _assert_consistent(moved, day)
    table = moved / "review" / f"{day:%Y-%m-%d}" / f"{day:%Y-%m-%d}.selections.txt"
    _fill_verdicts(table, ["humpback", "false alarm"])
    before = table.read_text()
    _render(lineage, moved, day)
    (kept,) = sorted((moved / "review").glob(f"{day:%Y-%m-%d}.reviewed-*"))
    kept_table = kept / table.name
    assert kept_table.read_text() == before  # the reviewer's file, untouched
    for row in read_raven_table(kept_table):  # and its clips beside it
        assert (kept / row["Begin Path"]).is_file()
    assert [v.verdict for v in read_verdicts(kept_table)] == ["true_event", "false_alarm"]
    assert read_verdicts(table) == []  # the new table, to fill in again
    _assert_consistent(moved, day)
    # once imported, the next run replaces the table instead of keeping another copy
    assert import_reviews(Warehouse(moved / "aco.duckdb"), kept_table, reviewer="kb") == 2
    _fill_verdicts(table, ["humpback", "false alarm"])
    import_reviews(Warehouse(moved / "aco.duckdb"), table, reviewer="kb")
    _render(lineage, moved, day)
    assert len(list((moved / "review").glob(f"{day:%Y-%m-%d}.reviewed-*"))) == 1
    assert len(list((moved / "review" / ".versions" / f"{day:%Y-%m-%d}").iterdir())) == 1


_RUN = """
import dagster as dg, sys
from aco_assets.defs.review.review_clips import review_clips
from tests.conftest import lineage_resources
archive, data, day = sys.argv[1:4]
with dg.instance_for_test() as instance:
    dg.materialize([review_clips], partition_key=day, instance=instance,
                   resources=lineage_resources(archive, data),
                   run_config={"ops": {"review_clips": {"config": {"top_k": 10}}}})
"""


def test_a_run_killed_while_rendering_leaves_rows_and_tables_pointing_at_files(lineage, copied):
    day = _day(copied)
    _render(lineage, copied, day)
    table = selections_path(lineage_resources(lineage.archive, copied)["storage"].layout(), day)
    _fill_verdicts(table, ["ship"])
    reviewed = table.read_text()
    old = table.resolve().parent
    versions = copied / "review" / ".versions" / f"{day:%Y-%m-%d}"
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_RUN), str(lineage.archive), str(copied), str(day)],
        cwd=Path(__file__).parents[4],
        env={
            **{k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"},
            "PYTHONPATH": str(Path(__file__).parents[4]),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300  # a guard against a hang, not a measurement
    while not any(p != old and any(p.glob("*.wav")) for p in versions.iterdir()):
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the run never wrote a clip"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)  # mid-render: the first new clip is on disk
    proc.wait()
    _assert_consistent(copied, day)
    assert table.read_text() == reviewed and table.resolve().parent == old
    # the next run removes the half-rendered folder and keeps the reviewed one
    _render(lineage, copied, day)
    _assert_consistent(copied, day)
    assert len(list(versions.iterdir())) == 1
    (kept,) = (copied / "review").glob(f"{day:%Y-%m-%d}.reviewed-*")
    assert (kept / table.name).read_text() == reviewed
