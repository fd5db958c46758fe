"""The API over real HTTP (uvicorn on loopback), on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from edm.clock import FixedClock
from edm.config import ClassificationSettings
from edm.customers import recompute_profiles
from edm.store import ApiAudit, Customer, CustomerEvent, CustomerProfile, Order, Suppression
from tests.api.conftest import NOW, Api
from tests.test_reactions import NOTICE  # an api: true service campaign

CUSTOMER = {"name": "Acme Ltd", "kind": "company", "email": "buyer@acme.example", "timezone": "Asia/Shanghai",
            "tags": ["vip", "expo-2025"], "attributes": {"region": "east"}}
ORDER = {"external_id": "O-1", "customer_external_id": "C1", "ordered_at": "2026-11-20T10:00:00+08:00",
         "amount": 1250.5}


def test_put_customer_inserts_then_updates_and_is_audited(api: Api) -> None:
    first = api.call("PUT", "/v1/customers/A-1", json=CUSTOMER)
    assert first.status_code == 201, first.text
    assert first.json() == {"inserted": 1, "updated": 0, "unchanged": 0}
    again = api.call("PUT", "/v1/customers/A-1", json=CUSTOMER)
    assert again.json() == {"inserted": 0, "updated": 0, "unchanged": 1}
    changed = api.call("PUT", "/v1/customers/A-1", json={**CUSTOMER, "name": "Acme Group"})
    assert changed.json() == {"inserted": 0, "updated": 1, "unchanged": 0}
    with api.sessions() as session:
        customer = session.scalars(select(Customer).where(Customer.external_id == "A-1")).one()
        assert (customer.name, customer.tags, customer.country) == ("Acme Group", "expo-2025, vip", "CN")
        assert customer.attributes == {"region": "east"}
        audit = list(session.scalars(select(ApiAudit).order_by(ApiAudit.id)))
    assert (audit[0].method, audit[0].path, audit[0].status) == ("PUT", "/v1/customers/A-1", 201)
    assert audit[0].summary is not None and audit[0].summary["key"] == "all"
    assert len(audit) == 3


def test_an_order_corrected_over_the_api_is_classified_again_the_same_day(api: Api) -> None:
    """A same-day classify keeps the profiles only while nothing it reads changed (edm.store.changes):
    an order the API rewrites is read again."""
    assert api.call("POST", "/v1/orders", json=ORDER).status_code == 201
    rules, clock = ClassificationSettings(), FixedClock(NOW)
    recompute_profiles(api.sessions, rules, clock)
    kept = recompute_profiles(api.sessions, rules, clock).kept_since
    assert kept == (NOW if api.sessions.kw["bind"].dialect.name == "sqlite" else None)  # PostgreSQL: never
    corrected = api.call("POST", "/v1/orders", json={**ORDER, "amount": 99.5})
    assert corrected.json()["updated"] == 1
    assert recompute_profiles(api.sessions, rules, clock).kept_since is None
    with api.sessions() as session:
        assert session.scalars(select(CustomerProfile.revenue)).one() == Decimal("99.50")


def test_customer_batch_reports_each_bad_item_and_writes_nothing(api: Api) -> None:
    items = [{"external_id": "B-1", **CUSTOMER},
             {"external_id": "B-2", **CUSTOMER, "email": "not an address", "birthday": "31/31/2020"},
             {"external_id": "B-1", **CUSTOMER}]
    answer = api.call("POST", "/v1/customers:batch", json={"items": items})
    assert answer.status_code == 422
    errors = {(e["item"], e["field"]) for e in answer.json()["errors"]}
    assert {(1, "email"), (1, "birthday"), (2, "external_id")} <= errors
    assert api.count("customers") == 1  # the fixture's customer only
    fixed = [items[0], {"external_id": "B-3", **CUSTOMER}]
    good = api.call("POST", "/v1/customers:batch", json={"items": fixed})
    assert good.json() == {"inserted": 2, "updated": 0, "unchanged": 0}


def test_shape_errors_name_the_field_and_write_nothing(api: Api) -> None:
    answer = api.call("PUT", "/v1/customers/X", json={"name": "x", "kind": "person", "email": 5, "extra": 1})
    assert answer.status_code == 422
    assert {e["field"] for e in answer.json()["errors"]} == {"email", "extra"}
    assert api.call("POST", "/v1/orders", content=b"{not json").status_code == 422
    assert api.count("customers") == 1 and api.count("api_audit") == 0


def test_an_order_twice_is_one_row_and_an_unknown_customer_is_refused(api: Api) -> None:
    assert api.call("POST", "/v1/orders", json=ORDER).status_code == 201
    again = api.call("POST", "/v1/orders", json=ORDER)
    assert again.status_code == 200 and again.json()["unchanged"] == 1
    with api.sessions() as session:
        assert [o.amount for o in session.scalars(select(Order))] == [Decimal("1250.50")]
    stranger = {**ORDER, "external_id": "O-2", "customer_external_id": "nobody"}
    unknown = api.call("POST", "/v1/orders", json=stranger)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "customer_external_id"
    batch = api.call("POST", "/v1/orders:batch", json={"items": [ORDER, {**ORDER, "external_id": "O-3"}]})
    assert batch.json() == {"inserted": 1, "updated": 0, "unchanged": 1}
    assert api.count("orders") == 2


def test_contacts_and_wallet(api: Api) -> None:
    contact = api.call("POST", "/v1/contacts", json={"customer_external_id": "C1", "email": "li@acme.example",
                                                     "role": "buyer"})
    assert contact.status_code == 201, contact.text
    wallet = api.call("POST", "/v1/wallet", json={"customer_external_id": "C1", "share": "35%"})
    assert wallet.status_code == 201, wallet.text
    neither = api.call("POST", "/v1/wallet", json={"customer_external_id": "C1"})
    assert neither.status_code == 422
    assert (api.count("contacts"), api.count("wallet_estimates")) == (1, 1)


def test_an_event_is_stored_once_per_idempotency_key(api: Api) -> None:
    event = {"customer": "C1", "name": "quote_requested", "properties": {"value": 1200},
             "occurred_at": "2026-11-24T08:00:00Z"}
    first = api.call("POST", "/v1/events", json=event, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and first.json()["duplicate"] is False
    second = api.call("POST", "/v1/events", json=event, headers={"Idempotency-Key": "k-1"})
    assert second.status_code == 200 and second.json() == {"id": first.json()["id"], "duplicate": True}
    by_id = [api.call("POST", "/v1/events", json={**event, "id": "shop-77"}) for _ in range(2)]
    assert [r.status_code for r in by_id] == [201, 200]
    with api.sessions() as session:
        stored = list(session.scalars(select(CustomerEvent).order_by(CustomerEvent.id)))
    assert [(e.idempotency_key, e.name, e.source) for e in stored] == [
        ("k-1", "quote_requested", "api"), ("shop-77", "quote_requested", "api")]
    assert stored[0].properties == {"value": 1200}
    naive = api.call("POST", "/v1/events", json={**event, "occurred_at": "2026-11-24T08:00:00"})
    unknown = api.call("POST", "/v1/events", json={**event, "customer": "nobody"})
    assert (naive.status_code, unknown.status_code) == (422, 422)
    assert api.count("customer_events") == 2


def test_unsubscribe_and_resubscribe(api: Api) -> None:
    asked = {"reason": "too many", "source": "shop_account"}
    off = api.call("POST", "/v1/customers/C1/unsubscribe", json=asked)
    assert off.status_code == 200 and off.json()["suppressed_reason"] == "unsubscribed"
    card = api.call("GET", "/v1/customers/C1").json()
    assert card["subscribed"] is False
    on = api.call("POST", "/v1/customers/C1/resubscribe", json={"source": "shop_account"})
    assert on.status_code == 200 and on.json()["subscribed"] is True
    assert api.count("suppressions") == 0
    with api.sessions.begin() as session:
        session.add(Suppression(email="wang@example.com", address_key="wang@example.com",
                                reason="hard_bounce", created_at=NOW))
    refused = api.call("POST", "/v1/customers/C1/resubscribe", json={})
    assert refused.status_code == 409 and api.count("suppressions") == 1
    assert api.call("POST", "/v1/customers/nobody/unsubscribe", json={}).status_code == 404
    with api.sessions() as session:
        audit = session.scalars(select(ApiAudit).where(ApiAudit.path == "/v1/customers/C1/unsubscribe")).one()
    assert audit.summary is not None and audit.summary["reason"] == "too many"


def test_customer_card_and_campaigns(api: Api) -> None:
    card = api.call("GET", "/v1/customers/C1")
    assert card.status_code == 200
    assert card.json()["external_id"] == "C1" and card.json()["subscribed"] is True
    assert api.call("GET", "/v1/customers/nobody").status_code == 404
    campaigns = api.call("GET", "/v1/campaigns").json()["campaigns"]
    names = {c["name"] for c in campaigns}
    assert "birthday" in names
    one = api.call("GET", "/v1/campaigns/birthday")
    assert one.status_code == 200 and one.json()["last_run"] is None
    assert api.call("GET", "/v1/campaigns/nope").status_code == 404


def test_keys_scopes_and_revocation_write_nothing(api: Api) -> None:
    reader = api.new_key(["customers:read"], "reader")
    assert api.call("PUT", "/v1/customers/Z", key=reader, json=CUSTOMER).status_code == 403
    assert api.call("GET", "/v1/customers/C1", key=reader).status_code == 200
    missing = api.client.put(api.url + "/v1/customers/Z", json=CUSTOMER)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    forged = reader[:-4] + "AAAA"
    assert api.call("GET", "/v1/customers/C1", key=forged).status_code == 401
    from edm.api.auth import revoke_key

    revoke_key(api.sessions, "reader", NOW)
    assert api.call("GET", "/v1/customers/C1", key=reader).status_code == 401
    assert api.count("customers") == 1 and api.count("api_audit") == 0


def test_rate_limit_answers_429_with_retry_after(api: Api) -> None:
    slow = api.new_key(["customers:read"], "slow", rate=2)
    answers = [api.call("GET", "/v1/customers/C1", key=slow) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert api.call("GET", "/v1/customers/C1").status_code == 200  # another key has its own bucket


def test_a_body_over_the_limit_is_413_and_writes_nothing(api: Api) -> None:
    big = {"items": [{"external_id": f"E{n}", **CUSTOMER} for n in range(1000)]}
    assert api.call("POST", "/v1/customers:batch", json=big).status_code == 413
    assert api.count("customers") == 1


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_the_document_and_docs_need_no_key(api: Api, path: str) -> None:
    answer = api.client.get(api.url + path)
    assert answer.status_code == 200


def test_an_api_campaign_is_queued_once_per_idempotency_key(api: Api, tmp_path: Path) -> None:
    (tmp_path / "campaigns" / "order_notice.yaml").write_text(NOTICE, encoding="utf-8")
    sender = api.new_key(["campaigns:send"], "shop-mailer")
    body = {"customer": "C1", "data": {"order_no": "SO-1"}}
    headers = {"Idempotency-Key": "order-SO-1"}
    first = api.call("POST", "/v1/campaigns/order_notice/send", key=sender, json=body, headers=headers)
    again = api.call("POST", "/v1/campaigns/order_notice/send", key=sender, json=body, headers=headers)
    assert first.status_code == 202 and again.status_code == 202, first.text
    assert first.json() == again.json() and api.count("outbox") == 1
    assert api.call("POST", "/v1/campaigns/birthday/send", key=sender, json=body).status_code == 409
    assert api.call("POST", "/v1/campaigns/nope/send", key=sender, json=body).status_code == 404
    unknown = api.call("POST", "/v1/campaigns/order_notice/send", key=sender, json={"customer": "X"})
    assert unknown.status_code == 422 and api.count("outbox") == 1
    reader = api.new_key(["campaigns:read"], "reader")
    refused = api.call("POST", "/v1/campaigns/order_notice/send", key=reader, json=body)
    assert refused.status_code == 403 and api.count("outbox") == 1
