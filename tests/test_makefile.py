"""The Makefile's `results` target: its work folders, every generator in order, the SOUNDS check."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The generators `make results` runs, in this order (a fragment of each recipe line).
GENERATORS = (
    "aco yardstick --sounds $(SOUNDS) --work $(RESULTS)/yardstick --seeds $(SEEDS) --out docs/results.md",
    "-m orchestration.studies.model_study --work $(RESULTS)/yardstick --seeds $(SEEDS) --jobs 2",
    "aco demo --data $(RESULTS)/demo",
    "aco results --data $(RESULTS)/demo --out docs/demo_results.md",
    "-m aco_assets.scoring.real_sound --shared $(SOUNDS) --data $(RESULTS)/demo --out docs/real_sound.md",
    "-m aco_assets.synth.calibration --real $(SOUNDS) --docs docs",
    "aco synth --preset realistic --sounds $(SOUNDS) --describe --docs docs/synthetic_archive.md",
    "-m ml.experiments.digits_doc --work $(RESULTS)/digits --seeds $(SEEDS) --out docs/digits.md",
    "benchmarks/report.py --work $(RESULTS)/bench --out docs/benchmarks.md",
    "-m orchestration.studies.docs_blocks --results $(RESULTS)",
)


def recipe(target: str) -> list[str]:
    """The recipe lines of ``target`` in the Makefile."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^{target}\s*:", line))
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        body.append(line.strip())
    return body


def test_results_work_folders_default_to_the_shared_data_and_the_data_folder():
    text = (ROOT / "Makefile").read_text()
    assert re.search(r"^SOUNDS \?= \.\./shared/data$", text, re.M)
    assert re.search(r"^RESULTS \?= \$\(DATA\)/results$", text, re.M)
    assert re.search(r"^SEEDS \?= 0 1 2$", text, re.M)


def test_results_runs_every_generator_in_order_yardstick_first():
    lines = recipe("results")
    positions = []
    for fragment in GENERATORS:
        found = [i for i, line in enumerate(lines) if fragment in line]
        assert found, f"`make results` does not run: {fragment}"
        positions.append(found[0])
    assert positions == sorted(positions)
    # each generator runs through the step timer, which prints progress and records its time
    assert all(lines[i].startswith("$(STEP) ") for i in positions)
    text = (ROOT / "Makefile").read_text()
    assert re.search(
        r"^STEP = .*-m orchestration\.studies\.steps --timings \$\(RESULTS\)/timings\.json",
        text,
        re.M,
    )


def test_results_stops_with_one_message_naming_sounds_when_the_folder_is_missing(tmp_path):
    out = subprocess.run(
        ["make", "-n", "results", f"SOUNDS={tmp_path / 'absent'}"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode != 0
    assert "make results needs the real recordings" in out.stderr and "SOUNDS=" in out.stderr
    assert "aco yardstick" not in out.stdout
