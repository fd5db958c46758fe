"""Tags and custom attributes: the marketer's own labels and fields on a customer.

Tags are written in one cell, separated by commas, semicolons or bars (ASCII or
full-width, as Chinese spreadsheets have them). They are stored lower-cased, sorted
and de-duplicated as one text, `"expo-2025, vip"`, so that an audience rule can match
one with a LIKE on the padded text (`edm.campaigns.audience`).

Custom attributes come from columns named `attr.<name>`: a plain number is stored as
a number (so an audience can ask for a range), anything else as text.
"""

from __future__ import annotations

import re
from typing import Any

TAG_LIMIT = 40
ATTRIBUTE_PREFIX = "attr."
_TAG_SEPARATORS = re.compile(r"[,;|，；、]")
_ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_NUMBER = re.compile(r"[+-]?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]+)?")


def parse_tags(text: str) -> str | None:
    """A cell of tags as stored: `"VIP; Expo-2025, vip"` -> `"expo-2025, vip"` (None: no tags)."""
    tags = sorted({tag.strip().casefold() for tag in _TAG_SEPARATORS.split(text)} - {""})
    for tag in tags:
        check_tag(tag)
    return ", ".join(tags) or None


def check_tag(tag: str) -> str:
    """A tag as rules and files must write it; raises `ValueError` with the reason."""
    if len(tag) > TAG_LIMIT:
        raise ValueError(f"tag {tag!r} is longer than {TAG_LIMIT} characters")
    if _TAG_SEPARATORS.search(tag) or not tag.strip():
        raise ValueError(f"tag {tag!r} must be a single non-empty tag (no , ; |)")
    return tag.strip().casefold()


def attribute_name(header: str) -> str | None:
    """The attribute a column holds (`attr.Region` -> `region`), None if it is not one."""
    if not header.strip().casefold().startswith(ATTRIBUTE_PREFIX):
        return None
    return header.strip()[len(ATTRIBUTE_PREFIX):].strip().casefold()


def check_attribute_name(name: str) -> str:
    if not _ATTRIBUTE_NAME.fullmatch(name):
        raise ValueError(f"attribute name {name!r} must be lower-case letters, digits and _, "
                         "starting with a letter (at most 40)")
    return name


def attribute_value(text: str) -> Any:
    """A plain number as a number (int when whole), any other text as itself."""
    if _NUMBER.fullmatch(text):
        return float(text) if "." in text else int(text)
    return text
