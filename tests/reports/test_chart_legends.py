"""Every report chart with a legend keeps it off the data: drawn, the legend's box lies outside the axes
(and their tick labels and title) and inside the figure, however many groups there are."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from edm.reports import charts
from edm.reports.build import gmail_lines

MANY = [f"group {i}" for i in range(12)]
LONG = "Year-end thank-you to key accounts"


def rate_bars() -> Figure:
    return charts.rate_bars_figure([LONG, *MANY], {"Open rate": [0.9] * 13, "Click rate": [1.0] * 13},
                                   "Open and click rates")


def histogram() -> Figure:
    table = pd.DataFrame({"tier": ["high", "medium", "low"], "0-7": [5, 1, 0], "8-14": [9, 9, 9]})
    return charts.histogram_figure(table, "Contact interval", "days")


def paired() -> Figure:
    return charts.paired_figure(["high", "medium", "low"], [3.0, 4.0, 5.0], [30.0, 40.0, 50.0],
                                ("previous period", "this period"), "Mean gap", "days")


def trend() -> Figure:
    series = {name: [90.0, -90.0, 100.0] for name in [*MANY[:9], "All customers"]}
    return charts.trend_figure(["2026-10", "2026-11", "2026-12"], series, "NPS", "NPS", (-105, 105),
                               total="All customers")


def threshold() -> Figure:
    return charts.threshold_figure(["d1", "d2", "d3"], {"All providers": [0.004, 0.002, 0.001]},
                                   "Complaint rate", gmail_lines())


@pytest.mark.parametrize("build", [rate_bars, histogram, paired, trend, threshold])
def test_the_legend_never_overlaps_the_axes(build: object) -> None:
    assert callable(build)
    figure: Figure = build()
    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # constrained layout places everything on drawing, as when saved to PNG
    renderer = canvas.get_renderer()
    [axes] = figure.axes
    legend = axes.get_legend()
    assert legend is not None
    box = legend.get_window_extent(renderer)
    plot = axes.get_window_extent(renderer)
    assert not box.overlaps(plot), (box, plot)
    for text in [axes.title, *axes.get_xticklabels(), *axes.get_yticklabels()]:
        if text.get_text():
            assert not box.overlaps(text.get_window_extent(renderer)), text.get_text()
    whole = Bbox.from_bounds(0, 0, *canvas.get_width_height())
    assert whole.contains(box.x0, box.y0) and whole.contains(box.x1 - 1, box.y1 - 1), (box, whole)
