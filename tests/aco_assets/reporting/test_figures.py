"""Inline pictures for the Dagster UI: short enough to render in the metadata table."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from aco_assets.reporting.figures import (
    INLINE_MARKDOWN_MAX,
    bar_counts,
    png_bytes,
    sparkline_markdown,
    status_strip_markdown,
)

COLORS = ("#d9d9d9", "#2a9d8f", "#e9c46a", "#e76f51")


def _svg(markdown: str) -> ET.Element:
    uri = markdown[markdown.index("](") + 2 : -1]
    assert uri.startswith("data:image/svg+xml,")
    return ET.fromstring(urllib.parse.unquote(uri.removeprefix("data:image/svg+xml,")))


@pytest.mark.parametrize(
    "codes",
    [
        np.zeros(288, int),  # a day without files: background only
        np.r_[np.ones(100, int), np.zeros(188, int)],  # one run of files
        np.random.default_rng(0).integers(0, 4, 288),  # the worst case: a new status every slot
        np.random.default_rng(1).integers(0, 2, 1440),  # detections over the minutes of a day
    ],
)
def test_a_status_strip_stays_under_the_inline_limit_and_is_valid_svg(codes):
    markdown = status_strip_markdown(codes, COLORS, alt="files")
    assert len(markdown) <= INLINE_MARKDOWN_MAX
    svg = _svg(markdown)
    assert svg.tag.endswith("svg")


def test_a_status_strip_draws_each_run_of_slots_once_in_its_colour():
    codes = np.zeros(288, int)
    codes[10:20] = 1
    codes[50] = 3
    svg = _svg(status_strip_markdown(codes, COLORS, alt="files"))
    paths = {p.get("fill"): p.get("d") for p in svg if p.tag.endswith("path")}
    assert paths == {COLORS[1]: "M10,0h10v1h-10z", COLORS[3]: "M50,0h1v1h-1z"}


@pytest.mark.parametrize("n", [1, 48, 288, 2000])
def test_a_sparkline_stays_under_the_inline_limit_with_gaps_and_a_threshold(n):
    values = np.random.default_rng(n).normal(size=n)
    values[n // 3 : n // 2] = np.nan
    markdown = sparkline_markdown(values, threshold=1.5, alt="scores")
    assert len(markdown) <= INLINE_MARKDOWN_MAX
    svg = _svg(markdown)
    assert any(e.get("stroke") == "red" for e in svg)  # the threshold rule


def test_a_sparkline_puts_the_highest_value_at_the_top():
    svg = _svg(sparkline_markdown(np.array([0.0, 1.0, 3.0, 2.0]), alt="s"))
    (bars,) = [e for e in svg if e.tag.endswith("path") and e.get("stroke") != "red"]
    tops = [int(bar.split("V")[1]) for bar in bars.get("d").split("M")[1:]]
    assert len(tops) == 4 and tops.index(min(tops)) == 2  # SVG y grows downwards


def test_a_sparkline_draws_no_bar_where_nothing_was_scored():
    svg = _svg(sparkline_markdown(np.array([1.0, np.nan, np.nan, 2.0]), alt="s"))
    (bars,) = [e for e in svg if e.tag.endswith("path")]
    assert [b.split(",")[0] for b in bars.get("d").split("M")[1:]] == ["0.5", "3.5"]


def test_importing_the_figure_modules_leaves_the_matplotlib_backend_alone():
    code = (
        "import matplotlib, aco_assets.reporting.figures, aco_assets.reporting.evaluation_figures, "
        "aco_assets.synth.calibration; print(matplotlib.get_backend())"
    )
    env = {**os.environ, "MPLBACKEND": "svg"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "svg"


def test_figures_render_on_the_agg_canvas_without_pyplot():
    fig = bar_counts(["a", "b"], [1, 2], title="counts")
    assert isinstance(fig.canvas, FigureCanvasAgg)
    assert png_bytes(fig).startswith(b"\x89PNG")


def test_a_day_spectrogram_leaves_a_gap_blank_and_draws_every_column():
    from aco_assets.reporting.figures import _log_edges, _time_cells, day_spectrogram

    t = np.r_[np.arange(10), np.arange(20, 25)] / 100.0  # columns 0.01 d apart, a gap of 10
    levels = np.arange(3 * t.size, dtype=float).reshape(3, t.size)
    edges, columns = _time_cells(t, levels)
    assert np.all(np.diff(edges) > 0) and edges.size == columns.shape[1] + 1
    blank = np.isnan(columns).all(axis=0)
    assert blank.sum() == 1  # one empty cell over the gap
    gap = int(np.flatnonzero(blank)[0])
    assert edges[gap] == pytest.approx(0.10) and edges[gap + 1] == pytest.approx(0.20)
    np.testing.assert_array_equal(columns[:, ~blank], levels)  # every column, in order
    bands = np.array([10.0, 20.0, 40.0])
    assert np.allclose(_log_edges(bands)[1:-1], [np.sqrt(200), np.sqrt(800)])
    starts = np.datetime64("2017-03-01", "us") + (t * 86400e6).astype("timedelta64[us]")
    png = png_bytes(day_spectrogram(starts, levels.T, bands, scores=t, threshold=0.1))
    assert png.startswith(b"\x89PNG")
