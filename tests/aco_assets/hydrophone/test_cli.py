"""The `aco info` / `aco coverage` commands."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta

import numpy as np

from aco_assets.hydrophone import SAMPLES_PER_RECORD, archive_path_for, cli, write_file

N = SAMPLES_PER_RECORD
T = datetime(2016, 2, 15, 5, 0)


def main(argv: list[str]) -> int:
    """Run the hydrophone sub-commands as the `aco` entry point does (via `register`)."""
    parser = argparse.ArgumentParser(prog="aco")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_info_prints_records_widths_times_and_faults(tmp_path, capsys):
    path = tmp_path / archive_path_for(T)
    x = np.r_[np.zeros(2 * N), np.full(N, 40000)].astype(np.int64)
    write_file(path, x, start_utc=T + timedelta(seconds=0.5))
    path.write_bytes(path.read_bytes()[:-100])
    status = main(["info", str(path)])
    out = capsys.readouterr().out
    assert status == 1
    assert "records      3 (layout A" in out
    assert "widths       16 bits x 2, 17 bits x 1" in out
    assert "name start   2016-02-15 05:00:00" in out
    assert "header start 2016-02-15 05:00:00.500000" in out
    assert "header-name  +0.500000 s" in out
    assert "truncated_record  record 2" in out


def test_info_exit_status_is_zero_for_a_clean_file(tmp_path, capsys):
    path = tmp_path / "x.HYD24BBpk"
    write_file(path, np.zeros(N, np.int64), start_utc=T)
    assert main(["info", str(path)]) == 0
    assert "faults       0" in capsys.readouterr().out


def test_coverage_prints_one_line_per_day(tmp_path, capsys):
    for minutes in (0, 5, 24 * 60):
        t = T + timedelta(minutes=minutes)
        write_file(tmp_path / archive_path_for(t), np.zeros(N, np.int64), start_utc=t)
    assert main(["coverage", str(tmp_path), "--from", "2016-02-16"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["day", "expected", "found", "missing", "faulty"]
    assert lines[1:] == [lines[1]] and lines[1].split() == ["2016-02-16", "288", "1", "287", "0"]
    assert main(["coverage", str(tmp_path / "nowhere")]) == 2
