"""Settings profiles for `edm init --profile`: the bundled edm.yaml with a few values changed.

The file stays the commented one a user reads; a profile only rewrites the value of named keys
(the comment beside each is kept). `cn`: a company in mainland China mailing Chinese customers.
"""

from __future__ import annotations

import re

# (section, key) -> the YAML value written
PROFILES: dict[str, dict[tuple[str, str], str]] = {
    "default": {},
    "cn": {
        ("compliance", "mark_ads"): "true",  # 【广告】 / AD first in advertising subjects (MII Order 38)
        ("imports", "default_locale"): "zh-Hans",  # customers imported without a locale
        ("imports", "default_timezone"): "Asia/Shanghai",  # ... or without a time zone
        ("daemon", "timezone"): "Asia/Shanghai",  # nightly reclassification, the weekly report: Beijing time
        ("alerts", "timezone"): "Asia/Shanghai",  # account managers' digests: their hours and dates
        ("alerts", "language"): "zh-Hans",
    },
}


def apply_profile(text: str, profile: str) -> str:
    """`text` (edm.yaml) with `profile`'s values; KeyError for an unknown profile, ValueError when a
    key is missing from the text (the bundled file and the profile went apart)."""
    for (section, key), value in PROFILES[profile].items():
        text = _set_value(text, section, key, value)
    return text


def _set_value(text: str, section: str, key: str, value: str) -> str:
    block = re.search(rf"^{re.escape(section)}:.*\n((?:[ #].*\n|\n)*)", text, flags=re.M)
    if block is None:
        raise ValueError(f"edm.yaml has no section {section!r}")
    line = re.compile(rf"^(  {re.escape(key)}:[ ]*)([^#\n]*?)([ ]*)(#.*)?$", flags=re.M)
    found = line.search(text, block.start(1), block.end(1))
    if found is None:
        raise ValueError(f"edm.yaml has no {section}.{key}")
    width = len(found[2]) + len(found[3])  # the comment stays in its column when the value fits
    gap = " " * max(1, width - len(value)) if found[4] else ""
    return text[: found.start(2)] + value + gap + text[found.start(4) if found[4] else found.end(3):]


__all__ = ["PROFILES", "apply_profile"]
