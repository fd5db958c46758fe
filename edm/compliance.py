"""Advertising marks on subjects: pure, so the rule is the same in the sender, previews and tests.

China's rules for commercial email (MII Order 38, 2006) want "广告" or "AD" at the start of an
advertising mail's subject. Only `kind: marketing` is advertising (edm.campaigns.schema); the
mark is added once, after rendering, and never in front of a subject that already carries one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from edm.render import resolve_language


def ad_prefix(language: str, prefixes: Mapping[str, str]) -> str:
    """The mark for a subject written in `language`: its own, its script's (zh-TW: zh-Hant), else `en`'s."""
    return prefixes.get(resolve_language(language, prefixes), "")


def marked_subject(subject: str, kind: str, prefix: str, marks: Iterable[str] = ()) -> str:
    """`subject` as sent: `prefix` first for marketing mail, unless it already starts with `prefix`
    or one of `marks` (another language's mark the author wrote), compared ignoring case and
    leading spaces. Anything else, and an empty prefix, leaves the subject as it is."""
    if kind != "marketing":
        return subject
    known = [mark.strip().casefold() for mark in (prefix, *marks)]
    known = [mark for mark in known if mark]
    if not known or not prefix.strip():
        return subject
    start = subject.lstrip().casefold()
    if any(start.startswith(mark) for mark in known):
        return subject
    return prefix + subject


__all__ = ["ad_prefix", "marked_subject"]
