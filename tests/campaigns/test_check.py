"""Template errors are caught before anything is queued: `edm campaign validate` renders every message a
campaign can send, and `edm campaign run` and the daemon refuse to plan a campaign whose messages fail,
while the other campaigns in the folder are planned and sent."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from edm.campaigns.check import Checker
from edm.campaigns.schema import Campaign
from edm.cli import main
from edm.clock import FixedClock
from edm.config import load_settings
from edm.customers.profiles import recompute_profiles
from edm.daemon import jobs
from edm.daemon.metrics import DaemonState
from edm.resources import bundled_config_dir
from edm.runner import open_store, plan_campaigns
from edm.store import Customer, CustomerEvent, Order, OutboxMessage
from tests.conftest import SECRET_KEY, SmtpServer

KEY = SECRET_KEY
GOOD = """\
name: {name}
kind: transactional
template: re_engagement
subject:
  en: "Hello {{{{ greeting_name }}}}"
  zh-Hant: "{subject}"
links: {{catalog: "https://www.example.com/c", feedback: "https://www.example.com/f"}}
params: {{discount: "5%"}}
schedule: {{cron: "0 9 * * *"}}
"""
# (subject in zh-Hant, what validate says, with the campaign file's line and column)
SUBJECTS = {
    "typo": ("{{ greeting_nmae }}", ":6:12: subject.zh-Hant: 'greeting_nmae' is undefined"),
    "syntax": ("{% if %}x{% endif %}", ":6:12: subject.zh-Hant: syntax error: Expected an expression"),
    "filter": ("{{ greeting_name|shout }}", ":6:12: subject.zh-Hant: syntax error: No filter named 'shout'"),
    "sandbox": ("{{ ''.__class__.__mro__ }}",
                ":6:12: subject.zh-Hant: access to attribute '__class__' of 'str'"),
    "sandbox_view": ("{{ customer.__class__ }}",
                     ":6:12: subject.zh-Hant: access to attribute '__class__' of 'RecipientView'"),
    "include": ("{% include 'missing.j2' %}", ":6:12: subject.zh-Hant: template file 'missing.j2' not found"),
    "link": ("{{ link('offer') }}", ":6:12: subject.zh-Hant: campaign 'bad' has no link 'offer'"),
}
# the shipped template re_engagement calls link('feedback'): a campaign without that link
NO_FEEDBACK_LINK = ': template re_engagement/en.html.j2 line 19: campaign \'bad\' has no link \'feedback\''


def _campaign(name: str, subject: str = "Hi") -> str:
    return GOOD.format(name=name, subject=subject)


def _bad_campaign(case: str) -> tuple[str, str]:
    if case == "template_link":
        return _campaign("bad").replace(', feedback: "https://www.example.com/f"', ""), NO_FEEDBACK_LINK
    subject, expected = SUBJECTS[case]
    return _campaign("bad", subject), expected


def _folder(tmp_path: Path, smtp: SmtpServer, **files: str) -> Path:
    """A working folder: settings, the campaign files given, and three customers with a first order."""
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    for name, text in files.items():
        (campaigns / name).write_text(text, encoding="utf-8")
    config = tmp_path / "edm.yaml"
    config.write_text(f"database_url: sqlite:///edm.db\nsmtp: {{host: {smtp.host}, port: {smtp.port}}}\n",
                      encoding="utf-8")
    now = datetime.now(UTC)
    with open_store(load_settings(config, {})).begin() as session:
        for n, locale in enumerate(["en", "zh-Hans", "zh-Hant"]):
            customer = Customer(external_id=f"c{n}", name=f"Customer {n}", email=f"c{n}@example.com",
                                kind="person", locale=locale, timezone="UTC", created_at=now)
            session.add(customer)
            session.flush()
            session.add(Order(external_id=f"o{n}", customer_id=customer.id,
                              ordered_at=now - timedelta(days=10), amount=Decimal("10")))
    return config


def _outbox(config: Path) -> dict[str, int]:
    with open_store(load_settings(config, {}))() as session:
        rows = session.execute(select(OutboxMessage.campaign, func.count()).group_by(OutboxMessage.campaign))
        return {campaign: count for campaign, count in rows}


def _cli(*args: str) -> Result:
    return CliRunner(env={"EDM_SECRET_KEY": KEY}).invoke(main, list(args), catch_exceptions=False)


def test_every_shipped_campaign_validates_clean() -> None:
    shipped = sorted(str(p) for p in (bundled_config_dir() / "campaigns").glob("*.yaml"))
    result = _cli("campaign", "validate", *shipped)
    assert result.exit_code == 0, result.output
    assert result.output.count(": ok (") == len(shipped) >= 17


@pytest.mark.parametrize("case", [*sorted(SUBJECTS), "template_link"])
def test_a_template_error_is_caught_at_validate_and_nothing_of_it_is_queued(
    tmp_path: Path, smtp_server: SmtpServer, case: str
) -> None:
    text, expected = _bad_campaign(case)
    config = _folder(tmp_path, smtp_server, **{"bad.yaml": text, "good.yaml": _campaign("good")})
    bad = tmp_path / "campaigns" / "bad.yaml"

    validated = _cli("campaign", "validate", str(bad))
    assert validated.exit_code == 1
    assert f"{bad}{expected}" in validated.output, validated.output
    assert ": ok" not in validated.output and "Traceback" not in validated.output

    dry = _cli("campaign", "run", "--all", "--dry-run", "--config", str(config))
    assert dry.exit_code == 1 and "1 campaign would not be planned" in dry.output and expected in dry.output

    run = _cli("campaign", "run", "--all", "--config", str(config))
    assert run.exit_code == 1, run.output
    assert "1 campaign not planned" in run.output and f"{bad}{expected}" in run.output
    assert "good " in run.output and "queued 3" in run.output
    assert _outbox(config) == {"good": 3}  # nothing of "bad", not even failed rows
    received = sorted(m["To"].addresses[0].addr_spec for m in smtp_server.handler.messages)
    assert received == ["c0@example.com", "c1@example.com", "c2@example.com"]

    bad.write_text(_campaign("bad"), encoding="utf-8")  # fixed: it plans like any other campaign
    again = _cli("campaign", "run", "--all", "--config", str(config))
    assert again.exit_code == 0, again.output
    assert _outbox(config) == {"good": 3, "bad": 3}


BOMB = "".join(
    [_campaign("bomb"), 'lol: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n']
    + [f"l{n}: &{chr(98 + n)} [{','.join([f'*{chr(97 + n)}'] * 9)}]\n" for n in range(8)]
)
DUPLICATE = _campaign("twice").replace("template:", "audience: {stages: [new]}\ntemplate:") \
    + "audience: {stages: [churned]}\n"


def test_a_billion_laughs_file_fails_at_once_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB, encoding="utf-8")
    started = datetime.now(UTC)
    result = _cli("campaign", "validate", str(path))
    assert (datetime.now(UTC) - started).total_seconds() < 1
    assert result.exit_code == 1
    expected = f"{path}:15:5: this value holds more than 100000 values once its aliases are expanded"
    assert expected in result.output


def test_a_duplicate_key_is_an_error_naming_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text(DUPLICATE, encoding="utf-8")
    result = _cli("campaign", "validate", str(path))
    assert result.exit_code == 1
    assert f"{path}:11:1: duplicate key 'audience' (first at line 3)" in result.output


def test_run_all_plans_the_good_campaign_and_reports_the_broken_files(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = _folder(tmp_path, smtp_server, **{
        "bomb.yaml": BOMB, "twice.yaml": DUPLICATE, "good.yaml": _campaign("good"),
    })
    result = _cli("campaign", "run", "--all", "--config", str(config))
    assert result.exit_code == 1, result.output
    assert "2 campaigns not planned" in result.output
    assert "bomb.yaml:15:5: this value holds" in result.output
    assert "twice.yaml:11:1: duplicate key 'audience'" in result.output
    assert "good " in result.output and "queued 3" in result.output
    assert _outbox(config) == {"good": 3} and len(smtp_server.handler.messages) == 3


def test_the_daemons_planner_skips_a_failing_campaign_logs_why_and_counts_it(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    text, expected = _bad_campaign("typo")
    config = _folder(tmp_path, smtp_server, **{"bad.yaml": text, "good.yaml": _campaign("good")})
    settings = load_settings(config, {"EDM_SECRET_KEY": KEY})
    state = DaemonState(started_at=datetime.now(UTC))
    monkeypatch.setattr(jobs, "_context", None)
    jobs.install(jobs.JobContext(settings, open_store(settings), FixedClock(datetime.now(UTC)), state))
    with caplog.at_level(logging.INFO, logger="edm.daemon.jobs"):
        jobs.plan()
    assert _outbox(config) == {"good": 3}
    assert any("not planned" in r.message and expected in r.message for r in caplog.records)
    assert any("queued=3 not_planned=1" in r.message for r in caplog.records)
    assert state.job_failures == {"plan": 1}


def test_a_message_that_fails_at_send_time_is_recorded_failed_with_the_reason(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = _folder(tmp_path, smtp_server, **{"good.yaml": _campaign("good")})
    settings = load_settings(config, {"EDM_SECRET_KEY": KEY})
    plan_campaigns(settings, open_store(settings), FixedClock(datetime.now(UTC)), ["good"])
    broken = _campaign("good").replace("Hello {{ greeting_name }}", "Hello {{ greeting_nmae }}")
    (tmp_path / "campaigns" / "good.yaml").write_text(broken, encoding="utf-8")  # changed after planning
    result = _cli("send", "--no-wait", "--config", str(config))
    assert result.exit_code == 2, result.output  # some rows failed: loud
    assert "2 failed" in result.output and "--retry-failed --campaign good" in result.output
    with open_store(settings)() as session:
        query = select(OutboxMessage.to_address, OutboxMessage.state, OutboxMessage.last_reply)
        rows = {address: (state, reply) for address, state, reply in session.execute(query)}
    reason = "good subject (en): <string> line 1: 'greeting_nmae' is undefined"
    for address in ("c0@example.com", "c1@example.com"):  # en, and zh-Hans (whose subject is the en one)
        assert rows[address][0] == "failed" and reason in str(rows[address][1])
    assert rows["c2@example.com"][0] == "sent"  # its zh-Hant subject is fine
    assert [m["To"].addresses[0].addr_spec for m in smtp_server.handler.messages] == ["c2@example.com"]


TEMPLATE = """\
{% if customer.birthday is defined %}{{ customer.birthday }}{% endif %}
{% if nothing is defined %}{{ nothing.at.all }}{% endif %}
<p>Dear {{ greeting_name }}, {{ link('offer') }}</p>
{}
"""
FILE_ERRORS = {
    "undefined": ("{{ greeting_nmae }}", "'greeting_nmae' is undefined"),
    "syntax": ("{% if %}{% endif %}", "syntax error: Expected an expression"),
    "filter": ("{{ greeting_name|shout }}", "syntax error: No filter named 'shout'"),
    "sandbox": ("{{ customer.__class__ }}",
                "access to attribute '__class__' of 'RecipientView' object is unsafe"),
    "include": ("{% include 'missing.j2' %}", "template file 'missing.j2' not found"),
    "link": ("{{ link('nope') }}", "campaign 'spring' has no link 'nope' (links: offer)"),
}


@pytest.mark.parametrize("case", sorted(FILE_ERRORS))
def test_an_error_in_a_template_file_names_the_file_and_its_own_line(tmp_path: Path, case: str) -> None:
    line, message = FILE_ERRORS[case]
    (tmp_path / "greeting").mkdir()
    (tmp_path / "greeting" / "en.html.j2").write_text(TEMPLATE.replace("{}", ""), encoding="utf-8")
    (tmp_path / "greeting" / "zh-Hans.html.j2").write_text(TEMPLATE.replace("{}", line), encoding="utf-8")
    campaign = Campaign.model_validate({"name": "spring", "template": "greeting", "subject": {"en": "Hi"},
                                        "links": {"offer": "https://example.com/o"}})
    problems = Checker(templates_dir=tmp_path).check(campaign, [], datetime.now(UTC))
    assert len(problems) == 1
    assert str(problems[0]).startswith(f"template greeting/zh-Hans.html.j2 line 4: {message}")


def test_optional_values_guarded_by_is_defined_are_not_errors(tmp_path: Path) -> None:
    (tmp_path / "greeting").mkdir()
    (tmp_path / "greeting" / "en.html.j2").write_text(TEMPLATE.replace("{}", ""), encoding="utf-8")
    campaign = Campaign.model_validate({"name": "spring", "template": "greeting", "subject": {"en": "Hi"},
                                        "links": {"offer": "https://example.com/o"}})
    assert Checker(templates_dir=tmp_path).check(campaign, [], datetime.now(UTC)) == []


def test_validate_also_renders_for_real_customers_from_the_store(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    # fails only for a name seven characters long: no synthetic customer has one, "Bob Ray" has
    # (the store lends the first customer of each locale and kind: the only zh-Hant company)
    subject = "{{ 100 // (customer.name|length - 7) }}"
    config = _folder(tmp_path, smtp_server, **{"odd.yaml": _campaign("odd", subject)})
    with open_store(load_settings(config, {})).begin() as session:
        session.add(Customer(external_id="bob", name="Bob Ray", email="bob@example.com", kind="company",
                             locale="zh-Hant", timezone="UTC", created_at=datetime.now(UTC)))
    assert _cli("classify", "--config", str(config)).exit_code == 0  # profiles: whom campaigns can reach
    path = tmp_path / "campaigns" / "odd.yaml"
    assert _cli("campaign", "validate", str(path)).exit_code == 0  # synthetic customers only: fine
    result = _cli("campaign", "validate", "--config", str(config), str(path))
    assert result.exit_code == 1
    assert f"{path}:6:12: subject.zh-Hant: ZeroDivisionError: integer division or modulo by zero" \
           " (with customer bob)" in result.output


def test_mail_queued_before_its_file_broke_is_sent_as_planned_not_failed(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = _folder(tmp_path, smtp_server, **{"good.yaml": _campaign("good")})
    settings = load_settings(config, {"EDM_SECRET_KEY": KEY})
    plan_campaigns(settings, open_store(settings), FixedClock(datetime.now(UTC)), ["good"])  # queued, unsent
    broken = _campaign("good") + "kind: marketing\n"  # a second 'kind': the file no longer loads
    (tmp_path / "campaigns" / "good.yaml").write_text(broken, encoding="utf-8")
    (tmp_path / "campaigns" / "other.yaml").write_text(_campaign("other"), encoding="utf-8")
    result = _cli("campaign", "run", "--all", "--config", str(config))
    assert result.exit_code == 1 and "good.yaml:10:1: duplicate key 'kind' (first at line 2)" in result.output
    assert "sent 6," in result.output and "failed 0" in result.output
    with open_store(settings)() as session:
        states = session.execute(select(OutboxMessage.campaign, OutboxMessage.state)).all()
    assert sorted(states) == [("good", "sent")] * 3 + [("other", "sent")] * 3


def test_a_broken_file_does_not_stop_send_or_preview_of_the_other_campaigns(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = _folder(tmp_path, smtp_server, **{"good.yaml": _campaign("good")})
    settings = load_settings(config, {"EDM_SECRET_KEY": KEY})
    plan_campaigns(settings, open_store(settings), FixedClock(datetime.now(UTC)), ["good"])
    (tmp_path / "campaigns" / "bomb.yaml").write_text(BOMB, encoding="utf-8")  # dropped in after planning

    sent = _cli("send", "--no-wait", "--config", str(config))
    assert sent.exit_code == 0, sent.output
    assert "sent 3," in sent.stdout
    assert len(smtp_server.handler.messages) == 3
    preview = _cli("campaign", "preview", "good", "--config", str(config))
    assert preview.exit_code == 0 and "good on " in preview.stdout, preview.output
    due = _cli("campaign", "due", "--config", str(config))
    assert due.exit_code == 0 and "good: due" in due.stdout and "bomb.yaml" in due.stderr, due.output


def test_the_daemons_react_job_skips_an_event_campaign_that_fails_the_check(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def on_quote(name: str, subject: str) -> str:
        return _campaign(name, subject).replace('schedule: {cron: "0 9 * * *"}',
                                                "event: {name: quote_requested, within_hours: 24}")

    broken, _ = SUBJECTS["typo"]
    config = _folder(tmp_path, smtp_server, **{"bad.yaml": on_quote("bad", broken),
                                              "good.yaml": on_quote("good", "Hi")})
    settings = load_settings(config, {"EDM_SECRET_KEY": KEY})
    sessions = open_store(settings)
    for name, value in (("_context", None), ("_cursor", None), ("_checked", {})):
        monkeypatch.setattr(jobs, name, value)
    now = datetime.now(UTC)
    recompute_profiles(sessions, settings.classification, FixedClock(now))  # the audience has profiles
    jobs.install(jobs.JobContext(settings, sessions, FixedClock(now), DaemonState(started_at=now)))
    jobs.react()  # the first run notes where the store is
    with sessions.begin() as session:
        customer = session.scalars(select(Customer).where(Customer.external_id == "c0")).one()
        session.add(CustomerEvent(customer_id=customer.id, name="quote_requested", occurred_at=now,
                                  received_at=now, idempotency_key="q-1", source="api"))
    jobs.react()
    assert _outbox(config) == {"good": 1}
