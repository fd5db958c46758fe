"""Customers: upsert (one, a batch), the card, consent, unsubscribe and resubscribe."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from edm.addresses import canonical_address
from edm.api import schemas as s
from edm.api.routing import ApiError, Call, Operation
from edm.api.rows import store_items
from edm.consent.imported import lookup_keys
from edm.consent.status import ConsentView, consent_view, set_consent
from edm.customers.card import CustomerNotFound, customer_card
from edm.errors import ConfigError
from edm.store import Customer, Suppression
from edm.suppression import UNSUBSCRIBED, suppress, unsuppress


def _written(call: Call, items: list[dict[str, object]]) -> s.Written:
    services = call.services
    try:
        written = store_items(services.sessions, "customers", items, call.now, services.settings.imports,
                              lookup_keys(services.settings))
    except ConfigError as exc:  # erased mailboxes to check, and no key to check them with
        raise ApiError(503, "unavailable", str(exc)) from exc
    services.on_change("customers", {"external_ids": [item["external_id"] for item in items]})
    return s.Written(inserted=written.inserted, updated=written.updated, unchanged=written.unchanged)


def put_customer(call: Call) -> tuple[int, s.Written]:
    item = {"external_id": call.path["external_id"], **call.body.model_dump(exclude_unset=True)}
    written = _written(call, [item])
    return (201 if written.inserted else 200), written


def batch_customers(call: Call) -> tuple[int, s.Written]:
    return 200, _written(call, [item.model_dump(exclude_unset=True) for item in call.body.items])


def get_customer(call: Call) -> tuple[int, s.CustomerOut]:
    settings = call.services.settings
    try:
        card = customer_card(call.services.sessions, call.path["external_id"], settings.classification,
                             settings.engagement, call.now)
    except CustomerNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    customer = card.customer
    with call.services.sessions() as session:
        reason = _suppressed(session, customer.email)
        consent = consent_view(session, customer, call.now, settings.consent)
    engagement = [s.Reasoned(name=what, value=value, reason=why) for what, value, why in card.engagement]
    return 200, s.CustomerOut(
        external_id=customer.external_id, name=customer.name, email=customer.email, kind=customer.kind,
        locale=customer.locale, timezone=customer.timezone, country=customer.country, tags=customer.tags,
        subscribed=reason is None, suppressed_reason=reason,
        classes=[s.Reasoned(name=name, value=e.value, reason=e.reason)
                 for name, e in card.explanations.items()],
        engagement=engagement,
        next_contact=next((line.value for line in engagement if line.name == "next marketing mail"), None),
        consent=_consent(consent),
    )


def put_consent(call: Call) -> tuple[int, s.ConsentOut]:
    body: s.ConsentIn = call.body
    with call.services.sessions.begin() as session:
        customer = _customer(session, call.path["external_id"])
        set_consent(session, customer, body.basis, body.status, "api", call.now, body.wording_version)
        session.flush()
        view = consent_view(session, customer, call.now, call.services.settings.consent)
    call.services.on_change("consent", {"customer_id": customer.id})
    return 200, _consent(view)


def _consent(view: ConsentView) -> s.ConsentOut:
    return s.ConsentOut(recorded=view.recorded, basis=view.basis, status=view.status, source=view.source,
                        recorded_at=view.recorded_at, wording_version=view.wording_version,
                        basis_now=view.standing.basis, marketing_allowed=view.marketing_allowed,
                        reason=view.marketing_held or view.standing.why)


def unsubscribe(call: Call) -> tuple[int, s.Subscription]:
    with call.services.sessions.begin() as session:
        customer = _customer(session, call.path["external_id"])
        suppress(session, [customer.email], UNSUBSCRIBED, call.now)
        session.flush()
        reason = _suppressed(session, customer.email)
        result = s.Subscription(external_id=customer.external_id, email=customer.email, subscribed=False,
                                suppressed_reason=reason)
    call.services.on_change("unsubscribed", {"customer_id": customer.id})
    return 200, result


def resubscribe(call: Call) -> tuple[int, s.Subscription]:
    with call.services.sessions.begin() as session:
        customer = _customer(session, call.path["external_id"])
        staying = unsuppress(session, customer.email)
        if staying is not None:
            raise ApiError(409, "conflict", f"{customer.email} stays suppressed ({staying}): only an "
                           "unsubscribe can be undone, not a hard bounce or a spam complaint")
        result = s.Subscription(external_id=customer.external_id, email=customer.email, subscribed=True,
                                suppressed_reason=None)
    call.services.on_change("resubscribed", {"customer_id": customer.id})
    return 200, result


def export(call: Call) -> tuple[int, s.Download]:
    """The person's data as the CLI's export writes it (edm.privacy), the key named in the audit log."""
    from edm.privacy.service import export_request

    try:
        services = call.services
        number, data = export_request(services.settings, services.sessions, call.path["external_id"],
                                      f"api:{call.caller.name}", call.now)
    except CustomerNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    return 200, s.Download(filename=f"edm-export-{number}.zip", content=data)


def erase(call: Call) -> tuple[int, s.Erased]:
    """`edm customers erase --yes`, by API: the key is the actor in the audit log."""
    from edm.privacy.service import erase_request

    try:
        done = erase_request(call.services.settings, call.services.sessions, call.path["external_id"],
                             f"api:{call.caller.name}", call.now)
    except CustomerNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    return 200, s.Erased(customer=done.customer_id, mailboxes=done.mailboxes, contacts=done.contacts,
                         mails=done.mails, events=done.events, cancelled=done.cancelled)


def _customer(session: Session, external_id: str) -> Customer:
    found = session.scalar(select(Customer).where(Customer.external_id == external_id))
    if found is None:
        raise ApiError(404, "not_found", f"no customer with external_id {external_id!r}")
    return found


def _suppressed(session: Session, email: str) -> str | None:
    key = canonical_address(email)
    return session.scalar(select(Suppression.reason).where(Suppression.address_key == key))


OPERATIONS = (
    Operation("PUT", "/v1/customers/{external_id}", "putCustomer", "customers:write",
              "Create or update one customer (the importer's rules)", put_customer, s.Written,
              s.CustomerFields, responses={201: "created"}),
    Operation("POST", "/v1/customers:batch", "batchCustomers", "customers:write",
              "Create or update customers; one bad item and none is written", batch_customers, s.Written,
              s.CustomersBatch),
    Operation("GET", "/v1/customers/{external_id}", "getCustomer", "customers:read",
              "The customer's card: classes with reasons, engagement, next contact", get_customer,
              s.CustomerOut, responses={404: "no such customer"}),
    Operation("GET", "/v1/customers/{external_id}/export", "exportCustomer", "customers:export",
              "Everything held about the customer: a zip of JSON and CSV with a README (docs/privacy.md)",
              export, s.Download, responses={404: "no such customer"}, media_type="application/zip"),
    Operation("DELETE", "/v1/customers/{external_id}", "eraseCustomer", "customers:erase",
              "Forget the customer: personal data erased, report figures kept (docs/privacy.md)", erase,
              s.Erased, responses={404: "no such customer"}, forgets=True),
    Operation("PUT", "/v1/customers/{external_id}/consent", "putConsent", "customers:write",
              "Record the customer's consent (source api): the basis marketing mail is sent on",
              put_consent, s.ConsentOut, s.ConsentIn, responses={404: "no such customer"}),
    Operation("POST", "/v1/customers/{external_id}/unsubscribe", "unsubscribe", "customers:write",
              "Stop all mail to the customer's address", unsubscribe, s.Subscription, s.SubscriptionChange,
              responses={404: "no such customer"}),
    Operation("POST", "/v1/customers/{external_id}/resubscribe", "resubscribe", "customers:write",
              "Undo an unsubscribe (never a hard bounce or a complaint: 409)", resubscribe, s.Subscription,
              s.SubscriptionChange,
              responses={404: "no such customer", 409: "suppressed for another reason"}),
)
