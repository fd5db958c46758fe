"""Turn one claimed outbox row into a personalised, signed message: row + customer + campaign -> bytes.

Joins the row with its customer, profile and campaign, builds the template
context (tracked links, pixel, unsubscribe URL, the brand in the message's language),
renders it in the sandbox, writes the RFC 5322 bytes (`message.MessageBuilder`) and signs
them (`dkim`, when configured).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from edm.campaigns.schema import Campaign
from edm.campaigns.triggers import occasion_date
from edm.compliance import ad_prefix, marked_subject
from edm.config import BrandSettings, ComplianceSettings, SenderSettings
from edm.delivery.brand import Brands
from edm.delivery.dkim import signer_from_settings
from edm.delivery.generic import GenericName, generic_name
from edm.delivery.message import Mailbox, MessageBuilder, addr_spec, message_id, originator_headers
from edm.errors import ConfigError, TemplateError
from edm.render import ByLanguage, Renderer, one_line, resolve_language, template_view
from edm.surveys.scores import SCALES
from edm.tracking import TrackingLinks


@dataclass(frozen=True, slots=True)
class Composed:
    """One message ready for the wire: envelope sender (MAIL FROM) and the RFC 5322 bytes.

    `subject` and `language` are what was rendered, for previews and logs.
    """

    sender: str
    data: bytes
    subject: str
    language: str


class OutboxFields(Protocol):
    """What composing reads of an outbox row: an `OutboxMessage`, or a plain row of these columns."""

    @property
    def id(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def campaign(self) -> str: ...
    @property
    def step(self) -> int: ...
    @property
    def variant(self) -> str | None: ...
    @property
    def to_address(self) -> str: ...
    @property
    def occurrence(self) -> dt.date: ...


class CustomerFields(Protocol):
    """What composing reads of a customer: a `Customer`, or a plain row of these columns."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def contact_name(self) -> str | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def industry(self) -> str | None: ...
    @property
    def locale(self) -> str: ...
    @property
    def account_manager(self) -> str | None: ...
    @property
    def account_manager_email(self) -> str | None: ...
    @property
    def personalised(self) -> bool: ...  # False: the generic message (edm.delivery.generic)


class ProfileFields(Protocol):
    """What composing reads of a profile: a `CustomerProfile`, or a plain row of these columns."""

    @property
    def value_tier(self) -> str: ...
    @property
    def lifecycle_stage(self) -> str: ...
    @property
    def order_count(self) -> int: ...
    @property
    def dropped_lines(self) -> str | None: ...
    @property
    def first_order_at(self) -> datetime | None: ...
    @property
    def last_order_at(self) -> datetime | None: ...
    @property
    def expected_interval_days(self) -> float | None: ...
    @property
    def next_order_expected_at(self) -> datetime | None: ...


@template_view
@dataclass(frozen=True)
class RecipientView:
    name: str
    contact_name: str | None
    kind: str
    industry: str | None
    locale: str


class GenericRecipient(ByLanguage):
    """`customer` for a person who chose no personalisation (edm.delivery.generic): the salutation
    for a name, no company, no industry; only the locale is theirs."""

    __slots__ = ("_locale",)

    def __init__(self, locale: str) -> None:
        self._locale = locale

    def in_language(self, language: str) -> RecipientView:
        return RecipientView(generic_name(language), None, "person", None, self._locale)


@template_view
@dataclass(frozen=True)
class OccasionView:
    """What the message is about, for dates that are right every year (`edm.dates` filters):
    `date` the holiday itself (or the customer's birthday or anniversary; else the day of the
    message), `day` the campaign's day the message belongs to (e.g. 25 days before)."""

    date: dt.date
    day: dt.date


@template_view
@dataclass(frozen=True)
class ProfileView:
    value_tier: str
    lifecycle_stage: str
    order_count: int
    days_since_last_order: int | None
    dropped_lines: tuple[str, ...] = ()  # product lines they stopped buying (partial churn)
    years_as_customer: int = 0  # whole years since the first order (anniversaries)
    usual_interval_days: int | None = None  # their own rhythm (edm.customers.rhythm): days between orders
    next_order_expected_on: date | None = None  # the last order plus that interval (reorder reminders)


# what a person who chose no personalisation is to every template: no tier, stage, orders or rhythm
GENERIC_PROFILE = ProfileView("", "", 0, None)


class Composer:
    """Everything constant per sender (addresses, DKIM key, the brand in each language) is prepared
    here, once. `brand` (settings `brand:`) is what every message shows of the sender.

    Raises ConfigError when the sender settings (addresses, DKIM) are unusable.
    """

    def __init__(
        self, renderer: Renderer, links: TrackingLinks, sender: SenderSettings, *,
        compliance: ComplianceSettings | None = None,
        brand: BrandSettings | None = None,
    ) -> None:
        self._renderer = renderer
        # advertising marks by language (compliance.mark_ads), or none
        self._ad_marks = dict(compliance.ad_prefix) if compliance is not None and compliance.mark_ads else {}
        self._links = links
        self._sender = sender
        from_ = _mailbox(sender.from_address, "sender.from_address")
        self._builder = MessageBuilder(
            sender=from_,
            reply_to=_mailbox(sender.reply_to, "sender.reply_to") if sender.reply_to else None,
            unsubscribe_mailto=(
                _mailbox(sender.unsubscribe_mailto, "sender.unsubscribe_mailto").address
                if sender.unsubscribe_mailto else None
            ),
        )
        bounces = _mailbox(sender.return_path, "sender.return_path") if sender.return_path else from_
        self._envelope_sender = bounces.address
        self._from = from_
        self._sender_name = from_.name or from_.address
        self._brands = Brands(brand or BrandSettings(), sender.from_address)
        self._signer = signer_from_settings(sender)
        self._managers: dict[tuple[str, str], tuple[str, bytes]] = {}

    def compose(
        self,
        row: OutboxFields,
        customer: CustomerFields,
        profile: ProfileFields | None,
        campaign: Campaign,
        now: datetime,
        *,
        data: Mapping[str, Any] | None = None,
    ) -> Composed:
        """The message for `row`; raises TemplateError when the template cannot render, or
        (so the row fails instead of stopping the sender) when its address cannot be written.
        `data`: the per-call data of a message sent through the API (`{{ data.order_no }}`)."""
        unsubscribe_url = self._links.unsubscribe_url(row.id, customer.id, campaign.topic)
        sender_name: Any = self._brands.company  # the company, in the message's language
        originator, signature = None, None
        if campaign.sender == "account_manager" and customer.account_manager_email:
            sender_name, originator = self._account_manager(customer)
            signature = sender_name
        brand = self._brands.for_message(campaign.params, signature)
        personalised = customer.personalised is not False  # None: a record not stored yet, the default
        context = {
            "personalised": personalised,  # False: PIPL Art. 24 "no personalisation" (edm.delivery.generic)
            "customer": RecipientView(
                customer.name, customer.contact_name, customer.kind, customer.industry, customer.locale
            ) if personalised else GenericRecipient(customer.locale),
            "greeting_name": (customer.contact_name or customer.name) if personalised else GenericName(),
            "profile": _profile_view(profile, now) if personalised else GENERIC_PROFILE,
            "params": dict(campaign.params),
            "data": data if data is not None else {},  # an API call's data (edm.campaigns.direct)
            "link": self._link_function(row, customer, campaign),
            "survey": self._survey_function(row, customer),
            "sender_name": sender_name,  # the company, or the account manager the message is sent for
            "brand": brand,  # a BrandView in the message's language, once rendered
            "step": row.step,  # 0 for the first message, then 1, 2 ... of a sequence
            "occasion": OccasionView(occasion_date(campaign, row.occurrence), row.occurrence),
            # none for who refused profiling: when and where someone reads is what the pixel tells
            "open_pixel_url": self._links.open_url(row.id, customer.id) if personalised else "",
            "unsubscribe_url": unsubscribe_url,
            "recipient_address": row.to_address,  # "This email was sent to ..." in the footer
            "preferences_url": unsubscribe_url,  # the page offers pausing and less mail before unsubscribing
        }
        template, subjects = campaign.content(row.variant, row.step)
        body = self._renderer.render(template, customer.locale, context)
        subject_language = resolve_language(body.language, subjects)  # named in errors: the one to fix
        context["brand"] = brand.in_language(subject_language)  # the subject's language, as the body's
        if not isinstance(sender_name, str):
            context["sender_name"] = sender_name.in_language(subject_language)
        if not personalised:  # the generic name and recipient in the subject's language too
            for key in ("customer", "greeting_name"):
                context[key] = context[key].in_language(subject_language)
        subject = self._renderer.render_subject(
            subjects[subject_language], context, name=f"{campaign.name} subject ({subject_language})"
        )
        if self._ad_marks:
            mark = ad_prefix(subject_language, self._ad_marks)
            subject = marked_subject(subject, campaign.kind, mark, self._ad_marks.values())
        try:
            # the generic message names nobody: the address alone
            shown = one_line(customer.contact_name or customer.name) if personalised else ""
            to = Mailbox(shown, addr_spec(row.to_address))
        except ValueError as exc:
            raise TemplateError(f"cannot address the message: {exc}") from exc
        wire = self._builder.build(
            to=to,
            subject=subject,
            text=body.text,
            html=body.html,
            message_id=message_id(row.key, self._sender.from_address, self._links.key),
            unsubscribe_url=unsubscribe_url,
            date=now,
            originator=originator,
            one_click=campaign.one_click_unsubscribe,  # RFC 8058 is for bulk mail, not service mail
        )
        if self._signer is not None:
            wire = self._signer.sign(wire)
        return Composed(self._envelope_sender, wire, subject, body.language)

    def _account_manager(self, customer: CustomerFields) -> tuple[str, bytes]:
        """The manager's name to sign with, and From/Reply-To headers in their name.

        The From address stays ours (SPF, DKIM and DMARC are set up for it); the name
        is the manager's and replies go to them.
        """
        email, name = customer.account_manager_email or "", customer.account_manager or ""
        known = self._managers.get((email, name))
        if known is None:
            try:
                reply_to = Mailbox(one_line(name), addr_spec(email))
            except ValueError as exc:
                raise TemplateError(f"cannot write the account manager's address: {exc}") from exc
            display = reply_to.name or self._sender_name
            known = (display, originator_headers(Mailbox(display, self._from.address), reply_to))
            self._managers[(email, name)] = known
        return known

    def _link_function(self, row: OutboxFields, customer: CustomerFields, campaign: Campaign) -> Any:
        made: dict[str, str] = {}  # the html and the text part link the same names: sign each once

        def link(name: str) -> str:
            url = made.get(name)
            if url is None:
                if name not in campaign.links:
                    known = ", ".join(sorted(campaign.links)) or "none"
                    raise TemplateError(f"campaign {campaign.name!r} has no link {name!r} (links: {known})")
                url = made[name] = self._links.click_url(row.id, customer.id, str(campaign.links[name]))
            return url

        return link

    def _survey_function(self, row: OutboxFields, customer: CustomerFields) -> Any:
        """`survey('nps')` / `survey('csat')`: the scale's scores, each with its signed answer link."""
        made: dict[str, list[SurveyChoice]] = {}

        def survey(kind: str) -> list[SurveyChoice]:
            choices = made.get(kind)
            if choices is None:
                if kind not in SCALES:
                    raise TemplateError(f"no survey {kind!r}: use {' or '.join(map(repr, SCALES))}")
                scale = SCALES[kind]
                choices = made[kind] = [
                    SurveyChoice(score, self._links.survey_url(row.id, customer.id, kind, score))
                    for score in scale
                ]
            return choices

        return survey


@template_view
@dataclass(frozen=True)
class SurveyChoice:
    """One score of a survey row: the number to show and the link that answers with it."""

    score: int
    url: str


def _profile_view(profile: ProfileFields | None, now: datetime) -> ProfileView:
    if profile is None:
        return ProfileView("low", "prospect", 0, None)
    days = (now - profile.last_order_at).days if profile.last_order_at else None
    dropped = tuple(line.strip() for line in (profile.dropped_lines or "").split(",") if line.strip())
    years = _whole_years(profile.first_order_at, now) if profile.first_order_at else 0
    interval = round(profile.expected_interval_days) if profile.expected_interval_days is not None else None
    expected = profile.next_order_expected_at.date() if profile.next_order_expected_at is not None else None
    return ProfileView(profile.value_tier, profile.lifecycle_stage, profile.order_count, days, dropped, years,
                       interval, expected)


def _whole_years(since: datetime, now: datetime) -> int:
    """Completed years from `since` to `now` (an anniversary on its day counts)."""
    return now.year - since.year - ((now.month, now.day) < (since.month, since.day))


def _mailbox(value: str, setting: str) -> Mailbox:
    try:
        return Mailbox.parse(value)
    except ValueError as exc:
        raise ConfigError(f"{setting}: {exc} (expected e.g. 'Acme <care@acme.example>')") from exc

