"""The generic message for people who chose "no personalisation" (PIPL Art. 24: marketing by
automated decision must offer an option not aimed at the person's characteristics).

When `Customer.personalised` is False the template context says `personalised=false` and the
personal values are replaced, so a template that never heard of the choice still reads well:

- `greeting_name` and `customer.name`: a generic salutation in the message's language
  ("customer" / "客户" / "客戶": "Dear customer," / "尊敬的客户："); `customer.contact_name`
  and `customer.industry` are None and `customer.kind` is "person", so no company name is shown;
- `profile`: no tier, stage, order count, order dates, rhythm or dropped product lines
  (`GENERIC_PROFILE`: every branch on them falls through to the general wording);
- the `To:` header carries the address only, without the name;
- no open pixel (`open_pixel_url` is ""): when someone reads is what the pixel profiles.

Kept: the address, the language, the campaign's own `params` and links (clicks still go through
signed links: a click is the person's own act, and ends a sequence as `exit_when` says), the
occasion's date, the sender (the account manager a campaign writes for) and an API call's `data`.
"""

from __future__ import annotations

from edm.delivery.brand import localized
from edm.render import ByLanguage

GENERIC_NAME = {"en": "customer", "zh-Hans": "客户", "zh-Hant": "客戶"}  # "Dear customer," / "尊敬的客户："


def generic_name(language: str) -> str:
    """The salutation for `language` (its chain: zh-HK -> zh-Hant; else English)."""
    return localized(GENERIC_NAME, language) or GENERIC_NAME["en"]


class GenericName(ByLanguage):
    """`greeting_name` for a person who chose no personalisation: the salutation in the message's language."""

    __slots__ = ()

    def in_language(self, language: str) -> str:
        return generic_name(language)
