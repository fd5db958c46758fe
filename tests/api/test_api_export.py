"""GET /v1/customers/{id}/export and DELETE /v1/customers/{id}: `edm customers export` and `erase`
over HTTP, each behind its own scope, audited."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.api import create_api_app
from edm.api.auth import create_key
from edm.clock import FixedClock
from edm.config import Settings
from edm.consent import forgotten
from edm.store import ApiAudit, AuditEntry, Customer
from edm.tracking import serve_in_background
from tests.api.conftest import NOW, Api, add_customer
from tests.conftest import SECRET_KEY


def test_the_export_is_a_zip_of_the_persons_data_and_is_audited(api: Api) -> None:
    answer = api.call("GET", "/v1/customers/C1/export")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    assert 'filename="edm-export-' in answer.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.content)) as zipped:
        [customer] = json.loads(zipped.read("customer.json"))
        readme = zipped.read("README.txt").decode("utf-8")
    assert (customer["name"], customer["email"]) == ("王芳", "wang@example.com")
    assert "Your personal data" in readme  # the customer's locale is en
    with api.sessions() as session:
        [entry] = session.scalars(select(AuditEntry)).all()
    assert (entry.action, entry.actor, entry.subject) == ("export", "api:all", "customer 1")


def test_the_export_needs_its_scope_and_a_known_customer(api: Api) -> None:
    reader = api.new_key(["customers:read"], "reader")
    refused = api.call("GET", "/v1/customers/C1/export", key=reader)
    assert refused.status_code == 403 and "customers:export" in refused.json()["message"]
    assert api.call("GET", "/v1/customers/nobody/export").status_code == 404
    assert api.count("audit_log") == 0


def test_the_openapi_document_says_the_export_is_a_zip(api: Api) -> None:
    document = api.client.get(api.url + "/openapi.json").json()
    ok = document["paths"]["/v1/customers/{external_id}/export"]["get"]["responses"]["200"]
    assert list(ok["content"]) == ["application/zip"]


def test_delete_forgets_the_customer_and_keeps_no_id_of_theirs(any_sessions: sessionmaker[Session],
                                                                 tmp_path: Path) -> None:
    settings = Settings(campaigns_dir=tmp_path, mail_dir=tmp_path / "mail",
                        secret_keys=(SecretStr(SECRET_KEY),))
    add_customer(any_sessions, "CRM-777", "Wang.Fang@Example.com")
    key = create_key(any_sessions, "crm", ["customers:erase"], NOW)
    reader = create_key(any_sessions, "reader", ["customers:read"], NOW)
    app = create_api_app(any_sessions, settings, FixedClock(NOW))
    with serve_in_background(app) as url, httpx.Client() as client:
        refused = client.delete(f"{url}/v1/customers/CRM-777", headers={"Authorization": f"Bearer {reader}"})
        assert refused.status_code == 403
        done = client.delete(f"{url}/v1/customers/CRM-777", headers={"Authorization": f"Bearer {key}"})
        assert done.status_code == 200 and done.json()["mailboxes"] == 1
        again = client.delete(f"{url}/v1/customers/CRM-777", headers={"Authorization": f"Bearer {key}"})
        assert again.status_code == 404
    with any_sessions() as session:
        [entry] = session.scalars(select(AuditEntry)).all()
        calls = session.scalars(select(ApiAudit)).all()
        remembered = forgotten(session, ["wang.fang@example.com"], [SECRET_KEY.encode()])
        assert remembered == {"wang.fang@example.com"}
        assert session.scalar(select(Customer.name)) == "(erased)"
    assert (entry.action, entry.actor) == ("erase", "api:crm")
    assert [call.path for call in calls] == ["/v1/customers/{external_id}"]
    assert "CRM-777" not in json.dumps([call.summary for call in calls]) + (entry.detail or "")
