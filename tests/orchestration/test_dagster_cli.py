"""The README's shell command, ``dagster asset materialize``: a real instance and the default
multiprocess executor, whose step runs in a child process, as the UI's runs do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from aco_assets.hydrophone import Archive
from aco_assets.storage.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[2]


def test_the_ingest_step_of_a_day_finishes_in_its_own_process(synthetic_archive, tmp_path):
    # the step process exits only once the file workers have: it once waited on them forever
    day = Archive(synthetic_archive).days()[0]
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ACO_ARCHIVE_ROOT": str(synthetic_archive),
        "ACO_DATA_DIR": str(tmp_path / "data"),
        "ACO_FIRST_DAY": day.isoformat(),
    }
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "asset", "materialize", "-m", "orchestration.definitions",
         "--select", "raw_files,spectrograms", "--partition", day.isoformat()],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RUN_SUCCESS" in done.stderr
    warehouse = Warehouse(tmp_path / "data" / "aco.duckdb")
    files = warehouse.query("SELECT count(*) AS n FROM raw_files WHERE day = ?", [day])
    windows = warehouse.query("SELECT count(*) AS n FROM windows WHERE day = ?", [day])
    assert files.to_pylist()[0]["n"] == len(Archive(synthetic_archive).day_files(day)) > 0
    assert windows.to_pylist()[0]["n"] > 0
