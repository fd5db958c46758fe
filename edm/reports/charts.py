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
from functools import cache

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.figure import Figure

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


def _style() -> AbstractContextManager[None]:
    family = [name for name in (cjk_font(), "DejaVu Sans") if name]
    return matplotlib.rc_context(
        {"font.family": family, "axes.spines.top": False, "axes.spines.right": False}
    )


def rate_bars(labels: Sequence[str], series: dict[str, Sequence[float]], title: str) -> bytes:
    """Horizontal grouped bars of rates (0-1) per group, e.g. open rate and click rate."""
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
        axes.legend(loc="lower right")
        return _png(figure)


def uplift_chart(campaigns: Sequence[str], uplift: Sequence[float], low: Sequence[float],
                 high: Sequence[float], title: str, unit: str) -> bytes:
    """Each campaign's uplift as a dot with its confidence interval; the zero line is 'no effect'."""
    with _style():
        figure = _figure(9, 1.4 + 0.5 * len(campaigns))
        axes = figure.add_subplot()
        positions = np.arange(len(campaigns))
        centre = np.array(uplift, dtype=float)
        below = np.nan_to_num(centre - np.array(low, dtype=float))
        above = np.nan_to_num(np.array(high, dtype=float) - centre)
        axes.errorbar(centre, positions, xerr=[below, above], fmt="o", color=COLOURS[0], capsize=4)
        axes.axvline(0, color="#616e7c", linewidth=1)
        axes.set_yticks(positions, list(campaigns))
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


def histogram_bars(table: pd.DataFrame, title: str, xlabel: str) -> bytes:
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
            axes.legend()
        return _png(figure)


def paired_bars(labels: Sequence[str], before: Sequence[float], after: Sequence[float],
                names: tuple[str, str], title: str, unit: str) -> bytes:
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
        axes.legend()
        return _png(figure)
