"""The requests as the CLI, the API and the daemon make them: settings in, the privacy functions called.

The outbox keeps no subject, so an export re-renders each mail's subject through the real `Composer`
from the campaign file as it is now and the customer as stored (None when the file is gone or no
longer renders): what the person was sent, unless the file changed since.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from edm.config import Settings
from edm.errors import EdmError
from edm.privacy.erase import EraseResult, erase_customer
from edm.privacy.export import BrandContact, export_customer
from edm.privacy.retention import RetentionResult, apply_retention
from edm.render import language_chain
from edm.store import Customer, CustomerProfile, OutboxMessage


def brand_contact(settings: Settings, locale: str) -> BrandContact:
    """Whom a person asks about their data: the brand settings in their language, the reply-to address."""
    from edm.delivery.brand import Brands

    view = Brands(settings.brand, settings.sender.from_address).in_language(language_chain(locale)[0])
    return BrandContact(company=view.company, email=settings.sender.reply_to or settings.sender.from_address,
                        phone=view.phone, website=view.website, postal_address=view.postal_address)


def subject_renderer(settings: Settings, sessions: sessionmaker[Session],
                     now: datetime) -> Callable[[OutboxMessage], str | None]:
    """A mail's subject as its campaign file renders it now for the stored customer; None if it cannot."""
    from edm.campaigns.loader import read_campaigns
    from edm.delivery.compose import Composer
    from edm.render import Renderer
    from edm.tracking.links import TrackingLinks

    try:
        campaigns = {name: f.campaign for name, f in read_campaigns(settings.campaigns_dir).files.items()}
        composer = Composer(Renderer(), TrackingLinks(settings.tracking.base_url, [secrets.token_bytes(32)]),
                            settings.sender, compliance=settings.compliance, brand=settings.brand)
    except EdmError:
        return lambda mail: None

    def subject(mail: OutboxMessage) -> str | None:
        campaign = campaigns.get(mail.campaign)
        if campaign is None:
            return None
        with sessions() as session:
            customer = session.get(Customer, mail.customer_id)
            profile = session.get(CustomerProfile, mail.customer_id)
            if customer is None:
                return None
            try:
                return composer.compose(mail, customer, profile, campaign, now).subject
            except (EdmError, ValueError, KeyError):
                return None

    return subject


def export_request(settings: Settings, sessions: sessionmaker[Session], key: str, actor: str,
                   now: datetime) -> tuple[int, bytes]:
    """(internal id, zip) for the customer `key`, with the brand contact in their language."""
    from edm.privacy.export import find_customer

    with sessions() as session:
        locale = find_customer(session, key).locale
    return export_customer(sessions, key, brand_contact(settings, locale), actor, now,
                           subject_renderer(settings, sessions, now))


def erase_request(settings: Settings, sessions: sessionmaker[Session], key: str, actor: str,
                  now: datetime) -> EraseResult:
    return erase_customer(sessions, key, settings.signing_keys(), actor, now, settings.mail_dir)


def retention_request(settings: Settings, sessions: sessionmaker[Session], actor: str, now: datetime,
                      dry_run: bool = False) -> RetentionResult:
    return apply_retention(sessions, settings.retention, settings.mail_dir, actor, now, dry_run)
