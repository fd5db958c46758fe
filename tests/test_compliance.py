"""Issue 19.3: campaign kinds and advertising marks, through `edm init`, `edm import`, `edm classify`,
`edm campaign run` / `validate` and a real aiosmtpd relay.

`kind: marketing` subjects start with 【广告】 / 【廣告】 / "AD: " when `compliance.mark_ads` is on
(`edm init --profile cn`); greetings, surveys and service mail never do. Service mail carries
List-Unsubscribe without RFC 8058's List-Unsubscribe-Post, skips the frequency rules and goes out
before marketing mail queued earlier. The old `kind: transactional` still works, as service.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from edm.campaigns.schema import KINDS
from edm.cli import main
from edm.compliance import ad_prefix, marked_subject
from edm.config import AD_PREFIXES, load_settings
from tests.conftest import SECRET_KEY, SmtpServer

CAMPAIGN = """name: {name}
description: a test campaign of kind {kind}
kind: {kind}
respect_frequency: false
template: re_permission
subject: {subject}
links: {{stay: "https://www.example.com/stay"}}
"""
NEWS = '{en: "News for {{ greeting_name }}", zh-Hans: "新闻", zh-Hant: "新聞"}'
CUSTOMERS = ("external_id,name,kind,email,locale\n"
             "C1,Ann,person,ann@example.com,en\n"
             "C2,Bo,person,bo@example.com,zh-CN\n"
             "C3,Cai,person,cai@example.com,zh-TW\n"
             "C4,Dai,person,dai@example.com,\n")  # no locale: the profile's default


def _edm(folder: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, [*args, "--config", str(folder / "edm.yaml")], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def _campaign(folder: Path, name: str, kind: str, subject: str = NEWS, **extra: str) -> Path:
    path = folder / "campaigns" / f"{name}.yaml"
    text = CAMPAIGN.format(name=name, kind=kind, subject=subject)
    path.write_text(text + "".join(f"{key}: {value}\n" for key, value in extra.items()), encoding="utf-8")
    return path


def _working_folder(tmp_path: Path, *profile: str) -> Path:
    folder = tmp_path / "work"
    result = CliRunner().invoke(main, ["init", *profile, str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (folder / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    _edm(folder, "import", "customers", str(folder / "customers.csv"))
    _edm(folder, "classify")
    return folder


def _subjects(smtp_server: SmtpServer) -> dict[str, str]:
    subjects = {m["To"].addresses[0].addr_spec: str(m["Subject"]) for m in smtp_server.handler.messages}
    smtp_server.handler.messages.clear()
    return subjects


def _one_mail(smtp_server: SmtpServer) -> EmailMessage:
    mails = smtp_server.handler.to("ann@example.com")
    smtp_server.handler.messages.clear()
    assert len(mails) == 1
    return mails[0]


@pytest.fixture(autouse=True)
def _relay(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDM_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("EDM_POLICY__DEFAULT_HOLDOUT_PERCENT", "0")  # no control group: everyone is mailed
    monkeypatch.setenv("EDM_SMTP__HOST", smtp_server.host)
    monkeypatch.setenv("EDM_SMTP__PORT", str(smtp_server.port))


def test_the_cn_profile_marks_marketing_subjects_in_their_language_and_nothing_else(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDM_POLICY__ONE_PER_DAY", "false")  # several campaigns to the same people today
    folder = _working_folder(tmp_path, "--profile", "cn")
    settings = load_settings(folder / "edm.yaml")
    assert settings.compliance.mark_ads and settings.daemon.timezone == "Asia/Shanghai"
    assert "locale zh-Hans" in _edm(folder, "customers", "show", "C4")  # imported without one
    assert "Asia/Shanghai" in _edm(folder, "customers", "show", "C4")
    _campaign(folder, "promo", "marketing")
    _edm(folder, "campaign", "run", "promo")
    assert _subjects(smtp_server) == {
        "ann@example.com": "AD: News for Ann", "bo@example.com": "【广告】新闻",
        "cai@example.com": "【廣告】新聞", "dai@example.com": "【广告】新闻",
    }
    # a subject that carries a mark already (any language's, any case) is not marked twice
    marked = '{en: "ad: Sale", zh-Hans: "【广告】特卖", zh-Hant: " 【广告】特賣"}'
    _campaign(folder, "marked", "marketing", marked)
    _edm(folder, "campaign", "run", "marked")
    assert _subjects(smtp_server) == {"ann@example.com": "ad: Sale", "bo@example.com": "【广告】特卖",
                                      "cai@example.com": "【广告】特賣", "dai@example.com": "【广告】特卖"}
    for kind in ("greeting", "survey", "service"):
        _campaign(folder, kind, kind)
        _edm(folder, "campaign", "run", kind)
        assert _subjects(smtp_server) == {"ann@example.com": "News for Ann", "bo@example.com": "新闻",
                                          "cai@example.com": "新聞", "dai@example.com": "新闻"}, kind


def test_the_default_profile_marks_no_subject(tmp_path: Path, smtp_server: SmtpServer) -> None:
    folder = _working_folder(tmp_path)
    assert not load_settings(folder / "edm.yaml").compliance.mark_ads
    _campaign(folder, "promo", "marketing")
    _edm(folder, "campaign", "run", "promo")
    assert _subjects(smtp_server) == {"ann@example.com": "News for Ann", "bo@example.com": "新闻",
                                      "cai@example.com": "新聞", "dai@example.com": "News for Dai"}


def test_one_click_unsubscribe_for_all_but_service_mail(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDM_POLICY__ONE_PER_DAY", "false")
    folder = _working_folder(tmp_path)
    for kind in KINDS:
        _campaign(folder, kind, kind)
        _edm(folder, "campaign", "run", kind)
        mail = _one_mail(smtp_server)
        assert "/u/" in str(mail["List-Unsubscribe"]), kind  # RFC 2369: a way out, on every kind
        if kind == "service":
            assert mail["List-Unsubscribe-Post"] is None  # RFC 8058 one-click: bulk mail only
        else:
            assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click", kind


def test_an_old_transactional_campaign_validates_and_is_service_mail(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _working_folder(tmp_path, "--profile", "cn")
    old = _campaign(folder, "receipt", "transactional")
    checked = _edm(folder, "campaign", "validate", str(old))
    assert "ok (receipt); note: kind: transactional is read as kind: service; write that instead" in checked
    current = _edm(folder, "campaign", "validate", str(_campaign(folder, "greet", "greeting")))
    assert "ok (greet)" in current and "note" not in current
    # one mail a day (policy.one_per_day, on by default): a greeting after a promotion waits,
    # service mail does not; it is not marked as advertising, nor offered one-click unsubscribe
    _campaign(folder, "promo", "marketing")
    _edm(folder, "campaign", "run", "promo")
    assert _subjects(smtp_server)["ann@example.com"] == "AD: News for Ann"
    assert "sent 0" in _edm(folder, "campaign", "run", "greet")
    assert not smtp_server.handler.messages
    _edm(folder, "campaign", "run", "receipt")
    mail = _one_mail(smtp_server)
    assert mail["Subject"] == "News for Ann" and mail["List-Unsubscribe-Post"] is None


def test_service_mail_goes_out_before_marketing_mail_queued_earlier(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDM_SMTP__BATCH_SIZE", "5")
    monkeypatch.setenv("EDM_SMTP__CONCURRENCY", "1")  # one connection: mail arrives in the order sent
    folder = tmp_path / "work"
    assert CliRunner().invoke(main, ["init", str(folder)]).exit_code == 0
    rows = "".join(f"C{n:02},Customer {n},person,c{n:02}@example.com,{'fr' if n == 49 else 'en'}\n"
                   for n in range(50))
    (folder / "customers.csv").write_text("external_id,name,kind,email,locale\n" + rows, encoding="utf-8")
    _edm(folder, "import", "customers", str(folder / "customers.csv"))
    _edm(folder, "classify")
    _campaign(folder, "promo", "marketing", '{en: "Sale"}', priority="10")  # planned (queued) first
    _campaign(folder, "closure", "service", '{en: "We close for the holiday"}',
              audience="{locale: fr}")  # one customer, the last
    _edm(folder, "campaign", "run", "promo", "closure")
    subjects = [str(m["Subject"]) for m in smtp_server.handler.messages]
    assert len(subjects) == 51 and subjects.count("We close for the holiday") == 1
    assert subjects.index("We close for the holiday") < 5, subjects[:10]  # in the first batch of five


@settings(derandomize=True, max_examples=300)
@given(
    subject=st.text(max_size=40) | st.sampled_from(sorted(AD_PREFIXES.values())).map(lambda m: m + "Sale"),
    kind=st.sampled_from(KINDS),
    prefix=st.sampled_from(sorted(AD_PREFIXES.values())) | st.text(min_size=1, max_size=8),
)
def test_the_mark_is_for_marketing_only_added_once_and_idempotent(
    subject: str, kind: str, prefix: str
) -> None:
    marks = list(AD_PREFIXES.values())
    once = marked_subject(subject, kind, prefix, marks)
    assert marked_subject(once, kind, prefix, marks) == once  # idempotent
    if kind != "marketing" or not prefix.strip():
        assert once == subject
        return
    start = subject.lstrip().casefold()
    already = any(start.startswith(mark.strip().casefold()) for mark in (prefix, *marks))
    assert once == (subject if already else prefix + subject)  # never a second mark
    assert once.lstrip().casefold().startswith(
        tuple(mark.strip().casefold() for mark in (prefix, *marks)))


def test_the_mark_follows_the_subjects_language() -> None:
    languages = ("zh-Hans", "zh-CN", "zh-TW", "zh-Hant", "fr", "en")
    assert [ad_prefix(language, AD_PREFIXES) for language in languages] == [
        "【广告】", "【广告】", "【廣告】", "【廣告】", "AD: ", "AD: "]


@pytest.mark.parametrize(("setting", "said"), [
    ("compliance:\n  mark_ads: true\n  ad_prefix: {zh-Hans: 【广告】}\n", "ad_prefix needs an 'en' prefix"),
    ("compliance:\n  ad_prefix: {en: '  '}\n", "ad_prefix en: give the mark on one line"),
    ("imports:\n  default_timezone: Beijing\n", "default_timezone: 'Beijing' is not an IANA name"),
    ("imports:\n  default_locale: chinese\n", "default_locale: 'chinese' is not a locale like en"),
])
def test_unusable_compliance_and_import_defaults_are_named_in_one_line(
    tmp_path: Path, setting: str, said: str
) -> None:
    (tmp_path / "edm.yaml").write_text(setting, encoding="utf-8")
    result = CliRunner().invoke(main, ["classify", "--config", str(tmp_path / "edm.yaml")])
    assert result.exit_code == 1 and said in result.output, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 2
