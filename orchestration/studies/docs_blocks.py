"""Generated blocks of README.md and docs/*.md, rewritten from the JSON summaries of the runs.

A block is the text between two marker lines::

    <!-- generated:NAME -->
    ...written by a script, never by hand...
    <!-- /generated:NAME -->

:func:`replace_block` swaps what lies between the markers (the markers stay), so rewriting a
block twice with the same text leaves the file byte for byte the same. The command rewrites every
block of the project from the outputs of ``make results``::

    python -m orchestration.studies.docs_blocks --results DIR [--root .] [--demo DIR]

``DIR`` is the Makefile's ``$(RESULTS)``: ``yardstick/summary.json`` (``aco yardstick``),
``demo/`` (the demo's data folder: its warehouse), ``digits/digits.json``
(``ml.experiments.digits_doc``), ``bench/benchmarks.json`` (``benchmarks/report.py``) and
``timings.json`` (``orchestration.studies.steps``).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "BlockError",
    "BLOCKS",
    "replace_block",
    "replace_blocks",
    "block_text",
    "write_blocks",
    "main",
]


class BlockError(ValueError):
    """A document lacks the markers of a block, or holds them twice or out of order."""


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- generated:{name} -->", f"<!-- /generated:{name} -->"


def _span(document: str, name: str, path: Path) -> tuple[int, int]:
    """Character offsets of the block's body (after the opening line, before the closing one)."""
    start, end = _markers(name)
    opens = [m.end() for m in re.finditer(rf"^{re.escape(start)}[ \t]*\n", document, re.M)]
    closes = [m.start() for m in re.finditer(rf"^{re.escape(end)}[ \t]*$", document, re.M)]
    if not opens or not closes:
        missing = " and ".join(m for m, found in ((start, opens), (end, closes)) if not found)
        raise BlockError(
            f"{path}: no line {missing}: put the block's text between a line {start} and a line "
            f"{end}, each on its own line"
        )
    if len(opens) > 1 or len(closes) > 1:
        raise BlockError(
            f"{path}: block {name!r} appears more than once: keep one {start} ... {end}"
        )
    if closes[0] < opens[0]:
        raise BlockError(f"{path}: {end} comes before {start}: swap them")
    return opens[0], closes[0]


def block_text(path: str | Path, name: str) -> str:
    """The current body of block ``name`` in ``path`` (without the markers)."""
    path = Path(path)
    document = path.read_text()
    lo, hi = _span(document, name, path)
    return document[lo:hi]


def replace_blocks(path: str | Path, blocks: Mapping[str, str]) -> bool:
    """Rewrite every block of ``blocks`` (name -> text) in ``path``; returns whether it changed.

    Raises
    ------
    BlockError
        when a block's markers are missing, repeated or out of order (the file is not written)
    """
    path = Path(path)
    before = path.read_text()
    document = before
    for name, text in blocks.items():
        lo, hi = _span(document, name, path)
        body = text.strip("\n") + "\n"
        document = document[:lo] + body + document[hi:]
    if document != before:
        path.write_text(document)
    return document != before


def replace_block(path: str | Path, name: str, text: str) -> bool:
    """Put ``text`` between the markers of block ``name`` in ``path``; returns whether it changed.

    Idempotent: the same text twice leaves the file unchanged. Raises :class:`BlockError` (naming
    the file and the marker lines to add) when the markers are missing.
    """
    return replace_blocks(path, {name: text})


# ------------------------------------------------------------------------------ the project's blocks
#: (document relative to the project root, block name, source, function of
#: :mod:`orchestration.studies.results_text` that writes the block from that source)
BLOCKS: tuple[tuple[str, str, str, str], ...] = (
    ("README.md", "yardstick", "yardstick", "yardstick_text"),
    ("README.md", "demo", "demo", "demo_text"),
    ("README.md", "digits", "digits", "digits_text"),
    ("README.md", "benchmarks", "benchmarks", "benchmarks_text"),
    ("README.md", "timings", "timings", "timings_text"),
    ("docs/model_results.md", "demo-archive", "demo", "demo_archive_text"),
    ("docs/synthetic_archive.md", "synth-coverage", "benchmarks", "synth_coverage_text"),
    ("docs/synthetic_archive.md", "synth-speed", "benchmarks", "synth_speed_text"),
)


SOURCES: tuple[str, ...] = ("yardstick", "demo", "digits", "benchmarks", "timings")


def _need(path: Path, step: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run the {step} step of `make results`")
    return path


def read_sources(
    results: Path, *, names: tuple[str, ...] = SOURCES, demo: Path | None = None
) -> dict[str, Any]:
    """Load the run summaries ``names`` the blocks quote (raises, naming the step that writes
    it, when one is missing)."""
    from orchestration.studies.results_text import read_demo

    loaders = {
        "yardstick": lambda: json.loads(
            _need(results / "yardstick" / "summary.json", "yardstick").read_text()
        ),
        "demo": lambda: read_demo(_need(demo or results / "demo", "demo")),
        "digits": lambda: json.loads(
            _need(results / "digits" / "digits.json", "digits").read_text()
        ),
        "benchmarks": lambda: json.loads(
            _need(results / "bench" / "benchmarks.json", "benchmarks").read_text()
        ),
        "timings": lambda: json.loads(_need(results / "timings.json", "first").read_text()),
    }
    return {name: loaders[name]() for name in names}


def write_blocks(root: Path, sources: dict[str, Any]) -> list[Path]:
    """Rewrite the blocks of :data:`BLOCKS` whose source is in ``sources`` under ``root``;
    returns the files that changed."""
    from orchestration.studies import results_text

    by_file: dict[str, dict[str, str]] = {}
    for doc, name, source, function in BLOCKS:
        if source in sources:
            text = getattr(results_text, function)(sources[source])
            by_file.setdefault(doc, {})[name] = text
    return [root / doc for doc, blocks in by_file.items() if replace_blocks(root / doc, blocks)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m orchestration.studies.docs_blocks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--results", type=Path, required=True, help="the Makefile's $(RESULTS) folder")
    p.add_argument("--root", type=Path, default=Path("."), help="project root (README.md, docs/)")
    p.add_argument(
        "--demo", type=Path, default=None, help="demo data folder (default RESULTS/demo)"
    )
    p.add_argument("--sources", nargs="+", choices=SOURCES, default=list(SOURCES),
                   help="rewrite only the blocks quoting these runs (default: all)")  # fmt: skip
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        sources = read_sources(args.results, names=tuple(args.sources), demo=args.demo)
        changed = write_blocks(args.root, sources)
    except (BlockError, FileNotFoundError, LookupError) as e:
        print(f"docs_blocks: {e}")  # noqa: T201
        return 2
    names = ", ".join(p.as_posix() for p in changed) or "nothing (already up to date)"
    print(f"generated blocks rewritten: {names}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
