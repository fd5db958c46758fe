"""The sender's identity (settings `brand:`) as templates see it, in the language of each message.

Mail that names its sender, says why it came and where the sender is, is what mailbox providers
and recipients trust; a Chinese mail signed in English is neither. `Brands` turns the settings
into one `BrandView` per language, once, so composing a message only looks one up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from email.utils import parseaddr
from urllib.parse import urlsplit

from edm.config import BrandSettings, Localized
from edm.render import FALLBACK_LANGUAGE, ByLanguage, language_chain, one_line, template_view

PLACEHOLDER_COMPANY = "Your Company"  # what `edm init` writes; `edm campaign validate` warns while it stays

DEFAULT_SIGNATURE = {
    "en": "{company} Customer Service",
    "zh-hans": "{company} 客户服务团队",
    "zh-hant": "{company} 客戶服務團隊",
}
DEFAULT_REASON = {
    "en": "You receive this email because you are a customer of {company}.",
    "zh-hans": "您收到此邮件，是因为您是{company}的客户。",
    "zh-hant": "您收到此郵件，是因為您是{company}的客戶。",
}
_LABELS = {  # (unsubscribe, preferences, phone, sent to, less mail) per language
    "en": ("Unsubscribe", "Email preferences", "Phone: ", "This email was sent to {address}.",
           "Too much mail from us? Under email preferences you can pause it for 30, 60 or 90 days, "
           "or ask for less."),
    "zh-hans": ("退订", "邮件偏好设置", "电话：", "此邮件发送至 {address}。",
                "觉得我们的邮件太多？您可以在邮件偏好设置中暂停接收 30、60 或 90 天，或选择少收一些。"),
    "zh-hant": ("取消訂閱", "郵件偏好設定", "電話：", "此郵件發送至 {address}。",
                "覺得我們的郵件太多？您可以在郵件偏好設定中暫停接收 30、60 或 90 天，或選擇少收一些。"),
}


@template_view
@dataclass(frozen=True)
class BrandView:
    """The brand in one language. `signature` is the campaign's (params.signature) or the account
    manager's when the message is sent in their name; `website_label` is the website without its scheme."""

    company: str
    signature: str
    reason: str
    postal_address: str | None
    website: str | None
    website_label: str | None
    phone: str | None
    phone_label: str
    logo_url: str | None
    logo_width: int
    logo_height: int
    footer: str | None
    unsubscribe_label: str
    preferences_label: str
    sent_to: str  # "This email was sent to {address}." (the template puts the address in)
    less_mail: str  # what the preferences page offers short of unsubscribing


def localized(value: Localized, language: str, *, any_language: bool = False) -> str | None:
    """`value` in `language`, else the next language of its chain (zh-Hant -> zh-Hans -> en), else
    with `any_language` any language given (for names and addresses: one in Chinese beats none;
    never for wording: an English mail is not signed in Chinese); None if unset.

    One plain text serves every language; a mapping is matched ignoring case (`zh-hans` = `zh-Hans`).
    """
    if isinstance(value, str):
        return value.strip() or None
    by_lower = {key.lower(): text for key, text in value.items() if text and text.strip()}
    for candidate in language_chain(language):
        if candidate in by_lower:
            return by_lower[candidate].strip()
    return next((text.strip() for text in by_lower.values()), None) if any_language else None


def company_name(brand: BrandSettings, from_address: str, language: str = FALLBACK_LANGUAGE) -> str:
    """The company in `language`; without one configured, the domain mail is sent from."""
    domain = parseaddr(from_address)[1].rpartition("@")[2]
    return localized(brand.company, language, any_language=True) or domain or "—"


class Brands(ByLanguage):
    """`BrandView`s per language, made once per sender (composing then only looks one up).

    As a template value it is the brand in the message's language (`edm.render.ByLanguage`).
    """

    __slots__ = ("_brand", "_companies", "_from", "_views")

    def __init__(self, brand: BrandSettings, from_address: str) -> None:
        self._brand = brand
        self._from = from_address
        self._views: dict[str, BrandView] = {}
        self._companies = CompanyName(self)

    @property
    def company(self) -> CompanyName:
        """The company's name, as a template value in the message's language."""
        return self._companies

    def in_language(self, language: str) -> BrandView:
        return self.view(language)

    def for_message(self, params: Mapping[str, object], signature: str | None = None) -> ByLanguage:
        """The brand of one message: signed as the campaign says (`params["signature.<language>"]`,
        else `params["signature"]`), else by `signature` (an account manager), else by default."""
        if signature is None and not any(key.partition(".")[0] == "signature" for key in params):
            return self
        return _MessageBrand(self, params, signature)

    def view(self, language: str, signature: str | None = None) -> BrandView:
        """The brand for a message in `language`; `signature` replaces the default sign-off."""
        view = self._views.get(language)
        if view is None:
            view = self._views[language] = self._make(language)
        if signature:
            return replace(view, signature=signature.replace("{company}", view.company))
        return view

    def _make(self, language: str) -> BrandView:
        brand = self._brand
        company = company_name(brand, self._from, language)
        own = next((lang for lang in language_chain(language) if lang in _LABELS), FALLBACK_LANGUAGE)
        signature = localized(brand.signature, language) or DEFAULT_SIGNATURE[own]
        reason = localized(brand.reason, language) or DEFAULT_REASON[own]
        unsubscribe, preferences, phone, sent_to, less_mail = _LABELS[own]
        website = brand.website
        label = None
        if website:
            parts = urlsplit(website)
            label = (parts.netloc + parts.path.rstrip("/")) or website
        return BrandView(
            company=company,
            signature=signature.replace("{company}", company),
            reason=reason.replace("{company}", company),
            postal_address=localized(brand.postal_address, language, any_language=True),
            website=website,
            website_label=label,
            phone=brand.phone,
            phone_label=phone,
            logo_url=brand.logo_url,
            logo_width=brand.logo_width,
            logo_height=brand.logo_height,
            footer=localized(brand.footer, language),
            unsubscribe_label=unsubscribe,
            preferences_label=preferences,
            sent_to=sent_to,
            less_mail=less_mail,
        )


class CompanyName(ByLanguage):
    """The company's name in the message's language (what `sender_name` is, unless an account manager's)."""

    __slots__ = ("_brands",)

    def __init__(self, brands: Brands) -> None:
        self._brands = brands

    def in_language(self, language: str) -> str:
        return self._brands.view(language).company


class _MessageBrand(ByLanguage):
    __slots__ = ("_brands", "_params", "_signature")

    def __init__(self, brands: Brands, params: Mapping[str, object], signature: str | None) -> None:
        self._brands, self._params, self._signature = brands, params, signature

    def in_language(self, language: str) -> BrandView:
        own = self._params.get(f"signature.{language}", self._params.get("signature"))
        signature = one_line(str(own)) if own is not None else None
        return self._brands.view(language, signature or self._signature)


def has_postal_address(brand: BrandSettings) -> bool:
    """Whether any language has a postal address (CAN-SPAM asks for one in every marketing mail)."""
    return localized(brand.postal_address, FALLBACK_LANGUAGE, any_language=True) is not None


__all__ = ["DEFAULT_REASON", "DEFAULT_SIGNATURE", "PLACEHOLDER_COMPANY", "BrandView", "Brands", "CompanyName",
           "company_name",
           "has_postal_address", "localized"]
