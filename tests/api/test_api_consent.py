"""`PUT /v1/customers/{external_id}/consent` and the consent in `GET /v1/customers/{external_id}`, over real
HTTP on SQLite and PostgreSQL; a direct send of marketing mail honours it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.api import create_api_app
from edm.api.auth import SCOPES, create_key
from edm.clock import FixedClock
from edm.config import Settings
from edm.consent import forget
from edm.store import ApiAudit, Consent, ConsentHistory
from edm.tracking import serve_in_background
from tests.api.conftest import NOW, Api
from tests.conftest import SECRET_KEY
from tests.test_reactions import NOTICE

OFFER = NOTICE.replace("name: order_notice", "name: offer").replace("kind: service", "kind: marketing")


def test_consent_is_recorded_shown_and_audited(api: Api) -> None:
    before = api.call("GET", "/v1/customers/C1").json()["consent"]
    assert before == {"recorded": False, "basis": "existing_customer", "status": None, "source": None,
                      "recorded_at": None, "wording_version": None, "basis_now": "existing_customer",
                      "marketing_allowed": True, "reason": before["reason"]}
    assert before["reason"].startswith("existing customer, customer since 2026-11-24 (0 months ago")

    withdrawn = api.call("PUT", "/v1/customers/C1/consent", json={"basis": "explicit", "status": "withdrawn",
                                                                    "wording_version": "2026-11"})

    assert withdrawn.status_code == 200, withdrawn.text
    shown = withdrawn.json()
    recorded = [shown[name] for name in ("recorded", "basis", "status", "source", "wording_version")]
    assert recorded == [True, "explicit", "withdrawn", "api", "2026-11"]
    assert (shown["basis_now"], shown["marketing_allowed"]) == ("none", False)
    assert shown["reason"] == "no consent for marketing: consent withdrawn 2026-11-24 (api)"
    assert api.call("GET", "/v1/customers/C1").json()["consent"] == shown
    with api.sessions() as session:
        row = session.get(Consent, "wang@example.com")
        assert row is not None and (row.basis, row.status, row.recorded_at) == ("explicit", "withdrawn", NOW)
        audit = session.scalars(select(ApiAudit.path)).all()
    assert audit == ["/v1/customers/C1/consent"]

    granted = api.call("PUT", "/v1/customers/C1/consent", json={"basis": "explicit"})
    assert granted.json()["status"] == "granted" and granted.json()["marketing_allowed"] is True
    with api.sessions() as session:
        history = session.execute(select(ConsentHistory.status, ConsentHistory.source)
                                  .order_by(ConsentHistory.id)).all()
    assert history == [("withdrawn", "api"), ("granted", "api")]


def test_a_bad_consent_names_the_field_and_writes_nothing(api: Api) -> None:
    bad = api.call("PUT", "/v1/customers/C1/consent", json={"basis": "opt_in", "status": "yes"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"basis", "status"}
    missing = api.call("PUT", "/v1/customers/NOPE/consent", json={"basis": "explicit"})
    assert missing.status_code == 404
    reader = api.new_key(["customers:read"], "reader")
    refused = api.call("PUT", "/v1/customers/C1/consent", key=reader, json={"basis": "explicit"})
    assert refused.status_code == 403
    assert api.count("consents") == 0 and api.count("consent_history") == 0 and api.count("api_audit") == 0


def test_a_direct_send_of_marketing_needs_consent_and_service_mail_does_not(api: Api, tmp_path: Path) -> None:
    (tmp_path / "campaigns" / "order_notice.yaml").write_text(NOTICE, encoding="utf-8")
    (tmp_path / "campaigns" / "offer.yaml").write_text(OFFER, encoding="utf-8")
    api.call("PUT", "/v1/customers/C1/consent", json={"basis": "none"})
    body = {"customer": "C1", "data": {"order_no": "SO-1"}}

    held = api.call("POST", "/v1/campaigns/offer/send", json=body)
    service = api.call("POST", "/v1/campaigns/order_notice/send", json=body)

    assert held.status_code == 409 and held.json()["error"] == "no_consent"
    assert "no consent for marketing: no lawful basis recorded (api)" in held.json()["message"]
    assert service.status_code == 202 and api.count("outbox") == 1
    api.call("PUT", "/v1/customers/C1/consent", json={"basis": "explicit"})
    assert api.call("POST", "/v1/campaigns/offer/send", json=body).status_code == 202
    assert api.count("outbox") == 2


def test_an_erased_address_created_again_over_the_api_is_held(any_sessions: sessionmaker[Session],
                                                              tmp_path: Path) -> None:
    with any_sessions.begin() as session:
        forget(session, ["Erased@Example.com"], [SECRET_KEY.encode()], NOW - timedelta(days=3))
    key = create_key(any_sessions, "all", list(SCOPES), NOW)
    person = {"name": "Back", "kind": "person", "email": "erased@example.com"}
    keyless = create_api_app(any_sessions, Settings(campaigns_dir=tmp_path), FixedClock(NOW))
    with_key = Settings(campaigns_dir=tmp_path, secret_keys=(SecretStr(SECRET_KEY),))
    keyed = create_api_app(any_sessions, with_key, FixedClock(NOW))
    headers = {"Authorization": f"Bearer {key}"}
    with serve_in_background(keyless) as url, httpx.Client(timeout=30) as client:
        refused = client.put(f"{url}/v1/customers/E-1", json=person, headers=headers)
        assert refused.status_code == 503 and "EDM_SECRET_KEY" in refused.json()["message"]
    with serve_in_background(keyed) as url, httpx.Client(timeout=30) as client:
        assert client.put(f"{url}/v1/customers/E-1", json=person, headers=headers).status_code == 201
        consent = client.get(f"{url}/v1/customers/E-1", headers=headers).json()["consent"]
        assert (consent["basis"], consent["status"], consent["source"]) == ("none", "withdrawn", "erased")
        assert consent["marketing_allowed"] is False
        client.put(f"{url}/v1/customers/E-1/consent", json={"basis": "explicit"}, headers=headers)
        assert client.put(f"{url}/v1/customers/E-1", json={**person, "name": "Back again"},
                          headers=headers).status_code == 200
        consent = client.get(f"{url}/v1/customers/E-1", headers=headers).json()["consent"]
        assert [consent[n] for n in ("basis", "source", "marketing_allowed")] == ["explicit", "api", True]
