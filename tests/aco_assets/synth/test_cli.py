"""The ``aco synth`` sub-command."""

from __future__ import annotations

import argparse

from aco_assets.synth import read_catalog, read_faults, read_manifest
from aco_assets.synth.cli import register


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="aco")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_synth_writes_the_requested_days_and_prints_a_summary(tmp_path, capsys):
    argv = [
        "synth",
        "--out",
        str(tmp_path),
        "--preset",
        "test",
        "--start",
        "2016-03-01",
        "--days",
        "1",
        "--files-per-day",
        "3",
        "--seed",
        "5",
        "--faults",
        "-q",
    ]
    assert _run(argv) == 0
    out = capsys.readouterr().out
    assert "2 files over 1 days" in out  # one of the three is the missing-file fault
    assert "missing_file" in out
    manifest = read_manifest(tmp_path)
    assert manifest["days"] == ["2016-03-01"] and manifest["seed"] == 5
    assert {"truncated_file", "missing_file", "corrupt_width"} <= set(
        read_faults(tmp_path)["class"].to_pylist()
    )
    assert read_catalog(tmp_path).num_rows > 0


def test_synth_reports_bad_parameters_with_exit_status_2(tmp_path, capsys):
    assert _run(["synth", "--out", str(tmp_path), "--preset", "test", "--days", "0", "-q"]) == 2
    assert "days=0" in capsys.readouterr().out
