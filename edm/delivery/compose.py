"""Turn one claimed outbox row into a personalised, signed message.

Joins the row with its customer, profile and campaign, builds the template
context (tracked links, pixel, unsubscribe URL) and renders it in the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from edm.campaigns.schema import Campaign
from edm.config import SenderSettings
from edm.delivery.message import build_message, message_id
from edm.errors import TemplateError
from edm.render import Renderer
from edm.store import Customer, CustomerProfile, OutboxMessage
from edm.tracking import TrackingLinks


@dataclass(frozen=True)
class RecipientView:
    name: str
    contact_name: str | None
    kind: str
    industry: str | None
    locale: str


@dataclass(frozen=True)
class ProfileView:
    value_tier: str
    lifecycle_stage: str
    order_count: int
    days_since_last_order: int | None
    dropped_lines: tuple[str, ...] = ()  # product lines they stopped buying (partial churn)
    years_as_customer: int = 0  # whole years since the first order (anniversaries)


class Composer:
    def __init__(self, renderer: Renderer, links: TrackingLinks, sender: SenderSettings) -> None:
        self._renderer = renderer
        self._links = links
        self._sender = sender

    def compose(
        self,
        row: OutboxMessage,
        customer: Customer,
        profile: CustomerProfile | None,
        campaign: Campaign,
        now: datetime,
    ) -> EmailMessage:
        """The message for `row`; raises TemplateError when the template cannot render."""
        unsubscribe_url = self._links.unsubscribe_url(row.id, customer.id)
        context = {
            "customer": RecipientView(
                customer.name, customer.contact_name, customer.kind, customer.industry, customer.locale
            ),
            "greeting_name": customer.contact_name or customer.name,
            "profile": _profile_view(profile, now),
            "params": dict(campaign.params),
            "link": self._link_function(row, customer, campaign),
            "sender_name": _display_name(self._sender.from_address),
            "step": row.step,  # 0 for the first message, then 1, 2 ... of a sequence
            "open_pixel_url": self._links.open_url(row.id, customer.id),
            "unsubscribe_url": unsubscribe_url,
        }
        template, subjects = campaign.content(row.variant, row.step)
        body = self._renderer.render(template, customer.locale, context)
        subject_source = subjects.get(body.language, subjects["en"])
        return build_message(
            from_address=self._sender.from_address,
            reply_to=self._sender.reply_to,
            to_name=customer.contact_name or customer.name,
            to_address=row.to_address,
            subject=self._renderer.render_subject(
                subject_source, context, name=f"{campaign.name} subject ({body.language})"
            ),
            text=body.text,
            html=body.html,
            message_id=message_id(row.key, self._sender.from_address),
            unsubscribe_url=unsubscribe_url,
            date=now,
        )

    def _link_function(self, row: OutboxMessage, customer: Customer, campaign: Campaign) -> Any:
        def link(name: str) -> str:
            if name not in campaign.links:
                known = ", ".join(sorted(campaign.links)) or "none"
                raise TemplateError(f"campaign {campaign.name!r} has no link {name!r} (links: {known})")
            return self._links.click_url(row.id, customer.id, str(campaign.links[name]))

        return link


def _profile_view(profile: CustomerProfile | None, now: datetime) -> ProfileView:
    if profile is None:
        return ProfileView("low", "prospect", 0, None)
    days = (now - profile.last_order_at).days if profile.last_order_at else None
    dropped = tuple(line.strip() for line in (profile.dropped_lines or "").split(",") if line.strip())
    years = _whole_years(profile.first_order_at, now) if profile.first_order_at else 0
    return ProfileView(profile.value_tier, profile.lifecycle_stage, profile.order_count, days, dropped, years)


def _whole_years(since: datetime, now: datetime) -> int:
    """Completed years from `since` to `now` (an anniversary on its day counts)."""
    return now.year - since.year - ((now.month, now.day) < (since.month, since.day))


def _display_name(address: str) -> str:
    return parseaddr(address)[0] or address
