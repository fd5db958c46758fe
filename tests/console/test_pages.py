"""Every page in three languages; customers and the account manager's limits; the language switch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from edm.config import load_settings
from edm.console.texts import LANGUAGES, TEXTS
from edm.reports.html import SORT_SCRIPT_HASH
from edm.runner import open_store
from edm.store import Customer, ProfileTransition
from tests.console.conftest import Console, client, signed_in

PAGES = ("/", "/campaigns", "/campaigns/spring_sale", "/customers", "/customers?q=a", "/customers/C001",
         "/reports")
WORDS = {"en": ("Today", "Campaigns", "Customers"), "zh-Hans": ("今日", "营销活动", "客户"),
         "zh-Hant": ("今日", "行銷活動", "客戶")}


def test_every_language_has_every_text() -> None:
    keys = set(TEXTS["en"])
    for language in LANGUAGES:
        assert set(TEXTS[language]) == keys, language


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_page_renders_in_the_browsers_language(console: Console, language: str) -> None:
    http = signed_in(console, "ada")
    for path in PAGES:
        page = http.get(path, headers={"Accept-Language": f"{language},en;q=0.5"})
        assert page.status_code == 200, (path, page.text)
        assert f'<html lang="{language}">' in page.text
        assert all(word in page.text for word in WORDS[language]), (path, language)
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert page.headers["x-content-type-options"] == "nosniff"


def test_the_switch_overrides_the_browser_and_stays_on_this_site(console: Console) -> None:
    http = signed_in(console, "ana")
    switched = http.get("/language/zh-Hant", params={"next": "/campaigns"})
    assert switched.status_code == 303 and switched.headers["location"] == "/campaigns"
    page = http.get("/campaigns", headers={"Accept-Language": "en"})
    assert '<html lang="zh-Hant">' in page.text and "行銷活動" in page.text
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"):
        answer = http.get("/language/en", params={"next": target})
        assert answer.headers["location"] == "/", target


def test_customers_are_found_by_name_email_company_and_id(console: Console) -> None:
    http = signed_in(console, "mia")
    for query, found in (("Alice", "C001"), ("bob@", "C002"), ("Carol", "C003"), ("C002", "C002")):
        page = http.get("/customers", params={"q": query}).text
        assert f"/customers/{found}" in page, query
    assert "No customer matches." in http.get("/customers", params={"q": "%"}).text  # a wildcard is a letter
    card = http.get("/customers/C001").text
    assert "Alice Zhang" in card and "Timeline" in card and "value_tier" in card


def test_a_manager_sees_only_their_own_customers(console: Console) -> None:
    max_ = signed_in(console, "max")  # Max@Example.com: C001 and C002 (whatever the capitals)
    assert "Alice Zhang" in max_.get("/customers/C001").text
    assert "Bob Li" in max_.get("/customers/C002").text
    refused = max_.get("/customers/C003")
    assert refused.status_code == 403
    assert "Carol" not in refused.text and "corp.example.com" not in refused.text
    found = max_.get("/customers", params={"q": "C"}).text  # every customer id starts with C
    assert "C001" in found and "C002" in found and "C003" not in found and "Carol" not in found
    mine = max_.get("/customers").text  # their customers by churn risk
    assert "/customers/C001" in mine and "/customers/C003" not in mine

    meg = signed_in(console, "meg")
    assert meg.get("/customers/C001").status_code == 403 and meg.get("/customers/C003").status_code == 200
    assert signed_in(console, "ana").get("/customers/C003").status_code == 200  # an analyst sees all


def test_nothing_is_shown_before_signing_in(console: Console) -> None:
    with client(console) as http:
        for path in PAGES:
            answer = http.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/login", path


def test_the_reports_open_as_their_html_and_download_as_workbooks(console: Console) -> None:
    http = signed_in(console, "ana")
    listed = http.get("/reports", params={"since": "2026-01-01", "until": "2026-02-01"})
    assert listed.status_code == 200
    assert "/reports/engagement?since=2026-01-01&amp;until=2026-02-01" in listed.text
    for name in ("engagement", "lifecycle", "frequency", "satisfaction", "deliverability"):
        report = http.get(f"/reports/{name}")
        assert report.status_code == 200 and report.text.startswith("<!DOCTYPE html>"), name
        # no script but the reports' own table sorting, allowed by its hash
        assert f"script-src '{SORT_SCRIPT_HASH}';" in report.headers["content-security-policy"]
    workbook = http.get("/reports/lifecycle", params={"format": "xlsx", "since": "2026-01-01"})
    assert workbook.status_code == 200 and workbook.content.startswith(b"PK")
    assert 'filename="lifecycle-20260101-' in workbook.headers["content-disposition"]
    assert http.get("/reports/engagement", params={"since": "yesterday"}).status_code == 400
    assert http.get("/reports/nope").status_code == 404


def test_a_manager_gets_no_reports_of_every_customer(console: Console) -> None:
    http = signed_in(console, "max")
    assert "/reports" not in http.get("/").text
    assert http.get("/reports").status_code == 403 and http.get("/reports/engagement").status_code == 403


def test_a_manager_sees_this_weeks_alerts_of_their_own_customers(console: Console) -> None:
    with open_store(load_settings(console.folder / "edm.yaml")).begin() as session:
        for external_id in ("C001", "C003"):  # Max's Alice, Meg's Carol
            customer_id = session.scalar(select(Customer.id).where(Customer.external_id == external_id))
            session.add(ProfileTransition(customer_id=customer_id, dimension="lifecycle_stage", old="active",
                                          new="at_risk", computed_at=datetime.now(UTC) - timedelta(days=1)))
    page = signed_in(console, "max").get("/customers", headers={"Accept-Language": "en"}).text
    alerts = page[page.index("Alerts of the last 7 days"):page.index("Your customers by churn risk")]
    assert "Alice Zhang" in alerts and "At risk" in alerts and "Carol" not in alerts
    assert "Alerts of the last 7 days" not in signed_in(console, "ana").get("/customers").text


def test_the_card_shows_what_the_customer_chose_on_the_preference_page(console: Console) -> None:
    http = signed_in(console, "mia")
    assert "none, every topic on" in http.get("/customers/C001").text
    with open_store(load_settings(console.folder / "edm.yaml")).begin() as session:
        customer = session.scalars(select(Customer).where(Customer.external_id == "C001")).one()
        customer.topics_off, customer.personalised = "offers, surveys", False
        customer.frequency_preference, customer.paused_until = "less", datetime(2027, 3, 1, tzinfo=UTC)
    card = http.get("/customers/C001").text
    preferences = card[card.index("Preferences"):card.index("Classes")]
    for shown in ("offers, surveys", "Personalised mail</th><td>no", "less", "2027-03-01"):
        assert shown in preferences, shown
