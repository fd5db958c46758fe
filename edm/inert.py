"""Text a spreadsheet would run as a formula, made inert (OWASP's advice on CSV injection).

Shared by every CSV edm writes for people to open: reports and import rejects files.
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")  # -5 or +12.50 cannot run anything


def inert(text: str) -> str:
    """`text` with a leading `'` if a spreadsheet would read it as a formula; plain numbers as they are."""
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return f"'{text}"
    return text
