"""GET /v1/customers/{id}/export: the same zip as `edm customers export`, behind its own scope, audited."""

from __future__ import annotations

import io
import json
import zipfile

from sqlalchemy import select

from edm.store import AuditEntry
from tests.api.conftest import Api


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
