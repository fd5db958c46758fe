"""Report charts as PNG bytes (matplotlib, no pyplot: no global state, safe in any thread).

Labels are English and Chinese. Chinese needs a CJK font: the first of CJK_FONTS that is
installed (Debian: fonts-noto-cjk, or fonts-wqy-microhei); without one, charts fall back
to their English labels rather than drawing empty boxes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cache

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

matplotlib.use("Agg")

CJK_FONTS = (
    "Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", "SimHei",
)
MAX_BARS = 30  # beyond this a chart shows the largest groups; the table below has them all
COLOURS = ("#2f80ed", "#f2994a", "#27ae60", "#9b51e0", "#eb5757")


@cache
def cjk_font() -> str | None:
    """The installed CJK font family charts use, or None."""
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def bilingual(english: str, chinese: str) -> str:
    """'English 中文' where Chinese can be drawn, else English alone."""
    return f"{english} {chinese}" if cjk_font() else english


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return figure


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _legend_outside(axes: Axes) -> None:
    """The legend right of the axes, never over the data (constrained layout makes room for it)."""
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small")


def _style() -> AbstractContextManager[None]:
    family = [name for name in (cjk_font(), "DejaVu Sans") if name]
    return matplotlib.rc_context(
        {"font.family": family, "axes.spines.top": False, "axes.spines.right": False}
    )


def rate_bars(labels: Sequence[str], series: dict[str, Sequence[float]], title: str) -> bytes:
    """`rate_bars_figure` as PNG."""
    with _style():
        return _png(rate_bars_figure(labels, series, title))


def rate_bars_figure(labels: Sequence[str], series: dict[str, Sequence[float]], title: str) -> Figure:
    """Horizontal grouped bars of rates (0-1) per group, e.g. open rate and click rate; the legend
    outside the axes."""
    labels = list(labels)[:MAX_BARS]
    with _style():
        figure = _figure(9, 1.2 + 0.45 * len(labels) * max(1, len(series)) ** 0.5)
        axes = figure.add_subplot()
        positions = np.arange(len(labels))
        height = 0.8 / max(1, len(series))
        for i, (name, values) in enumerate(series.items()):
            shown = [float(v) * 100 for v in list(values)[: len(labels)]]
            axes.barh(positions + i * height, shown, height, label=name, color=COLOURS[i % len(COLOURS)])
        axes.set_yticks(positions + height * (len(series) - 1) / 2, labels)
        axes.invert_yaxis()
        axes.set_xlabel("%")
        axes.set_title(title)
        _legend_outside(axes)
        return figure


def uplift_chart(labels: Sequence[str], uplift: Sequence[float], low: Sequence[float],
                 high: Sequence[float], title: str, unit: str) -> bytes:
    """Each group's uplift as a dot with its confidence interval as a bar; the zero line is 'no
    effect'. A group without an uplift (NaN: too few) keeps its label and gets no dot; the first
    MAX_BARS groups are drawn."""
    labels = list(labels)[:MAX_BARS]
    count = len(labels)
    with _style():
        figure = _figure(9, 1.4 + 0.5 * max(1, count))
        axes = figure.add_subplot()
        positions = np.arange(count)
        centre = np.array(list(uplift)[:count], dtype=float)
        below = np.nan_to_num(centre - np.array(list(low)[:count], dtype=float))
        above = np.nan_to_num(np.array(list(high)[:count], dtype=float) - centre)
        axes.errorbar(centre, positions, xerr=[below, above], fmt="o", color=COLOURS[0], capsize=4)
        axes.axvline(0, color="#616e7c", linewidth=1)
        axes.set_yticks(positions, labels)
        axes.invert_yaxis()
        axes.set_xlabel(unit)
        axes.set_title(title)
        return _png(figure)


def flow_heatmap(matrix: pd.DataFrame, title: str, from_label: str, to_label: str) -> bytes:
    """Moves from (rows) to (columns) as a heat map with the count in every non-empty cell."""
    with _style():
        rows, columns = max(1, len(matrix.index)), max(1, len(matrix.columns))
        figure = _figure(1.8 + 1.0 * columns, 1.4 + 0.55 * rows)
        axes = figure.add_subplot()
        values = matrix.to_numpy(dtype=float) if matrix.size else np.zeros((1, 1))
        axes.imshow(values, cmap="Blues", aspect="auto", vmin=0, vmax=max(1.0, float(values.max())))
        axes.set_xticks(range(len(matrix.columns)), [str(c) for c in matrix.columns], rotation=30, ha="right")
        axes.set_yticks(range(len(matrix.index)), [str(i) for i in matrix.index])
        axes.set_xlabel(to_label)
        axes.set_ylabel(from_label)
        axes.set_title(title)
        peak = float(values.max()) if values.size else 0.0
        for (row, column), value in np.ndenumerate(values):
            if value > 0:
                colour = "white" if value > peak / 2 else "#1f2933"
                axes.text(column, row, f"{int(value)}", ha="center", va="center", color=colour)
        return _png(figure)


@dataclass(frozen=True)
class Band:
    """One flow of a flow chart: `count` customers from `source` (left) to `target` (right),
    drawn between [left_low, left_high] on the left axis and [right_low, right_high] on the right."""

    source: str
    target: str
    count: float
    left_low: float
    left_high: float
    right_low: float
    right_high: float


def flow_layout(matrix: pd.DataFrame, gap: float = 0.02) -> list[Band]:
    """Where each non-empty cell of a from (rows) / to (columns) matrix flows, on a 0-1 scale.

    Each side stacks its classes top to bottom in the matrix's order, each as tall as its
    total share of the moves, with a small `gap` between classes; a class's bands keep the
    other side's order, so they never cross within a class.
    """
    values = matrix.to_numpy(dtype=float) if matrix.size else np.zeros((0, 0))
    total = float(values.sum())
    if total <= 0:
        return []
    rows, columns = values.shape
    scale = (1.0 - gap * (max(rows, columns) - 1)) / total
    left = _stack(values.sum(axis=1), scale, gap)
    right = _stack(values.sum(axis=0), scale, gap)
    left_used, right_used = [start for start, _ in left], [start for start, _ in right]
    bands = []
    for r in range(rows):
        for c in range(columns):
            count = float(values[r, c])
            if count <= 0:
                continue
            height = count * scale
            bands.append(Band(str(matrix.index[r]), str(matrix.columns[c]), count,
                              left_used[r], left_used[r] + height, right_used[c], right_used[c] + height))
            left_used[r] += height
            right_used[c] += height
    return bands


def _stack(totals: NDArray[np.float64], scale: float, gap: float) -> list[tuple[float, float]]:
    """(start, height) of each class on one side, from the top (0) down."""
    spans, at = [], 0.0
    for value in totals:
        height = float(value) * scale
        spans.append((at, height))
        at += height + (gap if value > 0 else 0.0)
    return spans


def _spans(bands: list[Band], *, left: bool) -> dict[str, tuple[float, float, float]]:
    """Each class's (top, bottom, customers) on one side of the chart."""
    spans: dict[str, tuple[float, float, float]] = {}
    for band in bands:
        name = band.source if left else band.target
        low, high = (band.left_low, band.left_high) if left else (band.right_low, band.right_high)
        top, bottom, count = spans.get(name, (low, high, 0.0))
        spans[name] = (min(top, low), max(bottom, high), count + band.count)
    return spans


def flow_chart(matrix: pd.DataFrame, title: str, from_label: str, to_label: str) -> bytes:
    """Who moved where, as bands from the classes they left (left) to those they entered (right)."""
    bands = flow_layout(matrix)
    colours = {name: COLOURS[i % len(COLOURS)] for i, name in enumerate(map(str, matrix.index))}
    with _style():
        figure = _figure(9, 1.2 + 0.45 * max(len(matrix.index), len(matrix.columns), 4))
        axes = figure.add_subplot()
        x = np.linspace(0.0, 1.0, 50)
        ease = 3 * x**2 - 2 * x**3  # smooth from one side to the other
        for band in bands:
            tops = band.left_low + (band.right_low - band.left_low) * ease
            bottoms = band.left_high + (band.right_high - band.left_high) * ease
            axes.fill_between(x, 1 - tops, 1 - bottoms, color=colours[band.source], alpha=0.55, linewidth=0)
        for x_text, align, spans in ((-0.02, "right", _spans(bands, left=True)),
                                     (1.02, "left", _spans(bands, left=False))):
            for name, (top, bottom, count) in spans.items():
                axes.text(x_text, 1 - (top + bottom) / 2, f"{name} {count:g}", va="center", ha=align)
        axes.set_xlim(-0.35, 1.35)
        axes.set_ylim(0, 1)
        axes.axis("off")
        axes.text(-0.02, 1.02, from_label, ha="right", va="bottom")
        axes.text(1.02, 1.02, to_label, ha="left", va="bottom")
        axes.set_title(title)
        return _png(figure)


def histogram_bars(table: pd.DataFrame, title: str, xlabel: str) -> bytes:
    """`histogram_figure` as PNG."""
    with _style():
        return _png(histogram_figure(table, title, xlabel))


def histogram_figure(table: pd.DataFrame, title: str, xlabel: str) -> Figure:
    """Customers per bin (columns of `table` after 'tier'), one bar series per tier, as shares."""
    bins = [str(c) for c in table.columns if c != "tier"]
    with _style():
        figure = _figure(9, 3.6)
        axes = figure.add_subplot()
        positions = np.arange(len(bins))
        width = 0.8 / max(1, len(table))
        for i, (_, row) in enumerate(table.iterrows()):
            counts = np.array([float(row[b]) for b in bins])
            total = counts.sum()
            shares = counts / total * 100 if total else counts
            colour = COLOURS[i % len(COLOURS)]
            axes.bar(positions + i * width, shares, width, label=str(row["tier"]), color=colour)
        axes.set_xticks(positions + width * (len(table) - 1) / 2, bins)
        axes.set_ylabel("%")
        axes.set_xlabel(xlabel)
        axes.set_title(title)
        if len(table):
            _legend_outside(axes)
        return figure


def paired_bars(labels: Sequence[str], before: Sequence[float], after: Sequence[float],
                names: tuple[str, str], title: str, unit: str) -> bytes:
    """`paired_figure` as PNG."""
    with _style():
        return _png(paired_figure(labels, before, after, names, title, unit))


def paired_figure(labels: Sequence[str], before: Sequence[float], after: Sequence[float],
                  names: tuple[str, str], title: str, unit: str) -> Figure:
    """Two bars per group (the previous period and this one); missing values are left out."""
    with _style():
        figure = _figure(9, 3.4)
        axes = figure.add_subplot()
        positions = np.arange(len(labels))
        for i, values in enumerate((before, after)):
            shown = [0.0 if math.isnan(float(v)) else float(v) for v in values]
            axes.bar(positions + i * 0.4, shown, 0.4, label=names[i], color=COLOURS[i])
        axes.set_xticks(positions + 0.2, list(labels))
        axes.set_ylabel(unit)
        axes.set_title(title)
        _legend_outside(axes)
        return figure


MAX_LINES = 10  # beyond this a trend chart shows the groups with the most data; the table has them all


def trend_lines(periods: Sequence[str], series: dict[str, Sequence[float]], title: str, unit: str,
                limits: tuple[float, float], total: str | None = None) -> bytes:
    """`trend_figure` as PNG."""
    with _style():
        return _png(trend_figure(periods, series, title, unit, limits, total))


def trend_figure(periods: Sequence[str], series: dict[str, Sequence[float]], title: str, unit: str,
                 limits: tuple[float, float], total: str | None = None) -> Figure:
    """One line per group over the periods (NaN: no data, a gap in the line); `total` dashed in grey."""
    with _style():
        figure = _figure(9, 3.8)
        axes = figure.add_subplot()
        positions = np.arange(len(periods))
        for i, (name, values) in enumerate(series.items()):
            shown = np.array([float(v) for v in values], dtype=float)
            if name == total:
                axes.plot(positions, shown, "o--", color="#616e7c", linewidth=2, label=name)
            else:
                axes.plot(positions, shown, "o-", color=matplotlib.colormaps["tab10"](i % 10), label=name)
        axes.set_xticks(positions, list(periods), rotation=30 if len(periods) > 6 else 0)
        axes.set_xlim(-0.5, max(0.5, len(periods) - 0.5))
        axes.set_ylim(*limits)
        axes.axhline(0, color="#d9e2ec", linewidth=1)
        axes.set_ylabel(unit)
        axes.set_title(title)
        if series:
            _legend_outside(axes)
        return figure


@dataclass(frozen=True)
class Threshold:
    """A horizontal line on a rate chart: `value` in % and what it means, e.g. Gmail's 0.1%."""

    value: float
    label: str
    colour: str = "#eb5757"
    style: str = "--"


MAX_TICKS = 16  # a long run of days keeps every n-th label


def threshold_figure(periods: Sequence[str], series: dict[str, Sequence[float]], title: str,
                     thresholds: Sequence[Threshold]) -> Figure:
    """Rates (0-1, NaN: no mail, a gap) per period as lines in %, with the thresholds drawn across;
    the scale always reaches the highest threshold, so a line far below it looks far below.
    Returned unsaved, so tests can read its lines."""
    with _style():
        figure = _figure(9, 3.8)
        axes = figure.add_subplot()
        positions = np.arange(len(periods))
        peak = 0.0
        for i, (name, values) in enumerate(series.items()):
            shown = np.array([float(v) * 100 for v in values], dtype=float)
            if np.isfinite(shown).any():
                peak = max(peak, float(np.nanmax(shown)))
            axes.plot(positions, shown, "o-", color=COLOURS[i % len(COLOURS)], label=name, markersize=3)
        for line in thresholds:
            axes.axhline(line.value, color=line.colour, linestyle=line.style, linewidth=1.2, label=line.label)
        top = max([peak, *(line.value for line in thresholds)]) * 1.15 or 1.0
        axes.set_ylim(0, top)
        step = max(1, math.ceil(len(periods) / MAX_TICKS))
        axes.set_xticks(positions[::step], list(periods)[::step], rotation=30 if len(periods) > 6 else 0)
        axes.set_xlim(-0.5, max(0.5, len(periods) - 0.5))
        axes.set_ylabel("%")
        axes.set_title(title)
        _legend_outside(axes)
        return figure


def threshold_lines(periods: Sequence[str], series: dict[str, Sequence[float]], title: str,
                    thresholds: Sequence[Threshold]) -> bytes:
    """`threshold_figure` as PNG."""
    with _style():
        return _png(threshold_figure(periods, series, title, thresholds))
