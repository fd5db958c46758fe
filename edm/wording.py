"""How numbers and names read in text people read: counts with the right plural, thousands
separators, days with one decimal, and a sentence ended once after a name.

Pure functions over plain values, used by the CLI, the customer card, the demo and (as the
`sentence_end` Jinja filter registered by `edm.render.Renderer`) the shipped templates:

    number(1250000)            -> "1,250,000"
    count(1, "order")          -> "1 order"        count(2.5, "order", digits=1) -> "2.5 orders"
    days(32.81)                -> "32.8 days"      days(1) -> "1 day"
    sentence_end("Acme Ltd.")  -> "Acme Ltd."      sentence_end("示例公司", "。") -> "示例公司。"
"""

from __future__ import annotations

import math

from markupsafe import Markup

# A sentence already ends after these (Latin and CJK full stops, question and exclamation marks, ellipses)
TERMINALS = frozenset(".。．!！?？…‼⁇⁈⁉")
# What may close a name after its full stop: 'Acme "Best Co."' or 「示例公司。」 still ends a sentence
CLOSERS = frozenset("\"'”’»」』)）]】〉》")


def number(value: float | None, digits: int = 2) -> str:
    """`value` with thousands separators and at most `digits` decimals, trailing zeros dropped:
    1250000 → "1,250,000"; 8.25 → "8.25"; 3.50 → "3.5"; NaN or None → "unknown"; inf → "∞"."""
    if value is None or math.isnan(value):
        return "unknown"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    text = f"{value:,.{digits}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text == "-0" else text


def count(value: float | None, unit: str, plural: str | None = None, *, digits: int = 0) -> str:
    """`value` and `unit` in English, plural unless the number shown is exactly 1:
    count(1, "order") → "1 order"; count(0, "order") → "0 orders"; count(1.04, "year", digits=1) →
    "1 year"; count(2, "entry", "entries") → "2 entries". NaN reads "unknown <plural>"."""
    shown = number(value, digits)
    word = unit if shown == "1" else (plural or unit + "s")
    return f"{shown} {word}"


def days(value: float | None) -> str:
    """A span in days with one decimal: days(32.81) → "32.8 days"; days(1) → "1 day"; days(3) → "3 days"."""
    return count(value, "day", digits=1)


def day_range(low: float, high: float) -> str:
    """Two spans in days as one range with an en dash: "3.5–32.8 days" (one span when they round alike)."""
    first, last = number(low, 1), number(high, 1)
    if first == last:
        return days(low)
    return f"{first}–{last} days"


def sentence_end(text: object, mark: str = ".") -> str:
    """`text` (a name) ending a sentence: `mark` added only when the text does not end one already.

    "Acme Ltd." stays "Acme Ltd." (not "Acme Ltd.."), "示例公司。" stays as it is in a Chinese
    sentence (`mark` "。"), 'Acme "Best Co."' keeps its closing quote; "Acme" gets the mark.
    An empty text gets nothing: there is no sentence to end. Markup (already escaped) stays Markup.
    """
    if isinstance(text, Markup):
        return Markup(sentence_end(str(text), mark))  # noqa: S704 - escaped already; only a mark is added
    shown = str(text)
    core = shown.rstrip()
    while core and core[-1] in CLOSERS:
        core = core[:-1]
    if not shown.strip() or (core and core[-1] in TERMINALS):
        return shown.rstrip()
    return shown.rstrip() + mark


FILTERS = {"sentence_end": sentence_end}
