"""What a rate is over: mail too recent to judge left out, campaigns without links read "no links",
rows over too few judged mails marked and left out of the charts; the campaign's title shown; the
report's own time real and its period written out. Counted by hand from tests/reports/history.py."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from edm.cli import main
from edm.config import ReportSettings
from edm.reports import engagement_report, render_html, satisfaction_report
from edm.reports.build import NO_ANSWERS, NO_LINKS
from edm.reports.campaigns import CampaignFacts, read_facts
from edm.reports.engagement import TOO_FEW, TOO_RECENT, Judging, engagement_table
from edm.resources import bundled_config_dir
from edm.store import create_schema, make_engine, session_factory
from tests.reports.history import MARCH, seed

# March 18th on is too recent: of winback's March mail #7 (03-15, a machine's open only) is judged and
# #9 (03-20, opened and clicked) is not; all of spring's delivered March mail (#1 #2 #3 #14) is judged
RECENT_SINCE = datetime(2024, 3, 18, tzinfo=UTC)
WINBACK = CampaignFacts(titles={"winback": ("Win them back", "挽回老客户")}, unlinked=frozenset({"winback"}))


def test_rates_leave_out_recent_mail_and_clicks_of_campaigns_without_links(
    any_sessions: sessionmaker[Session],
) -> None:
    seed(any_sessions)
    judging = Judging(RECENT_SINCE, unlinked={"winback"}, min_n=2)
    with any_sessions() as session:
        table = engagement_table(session, ["campaign"], judging=judging, **MARCH).set_index("campaign")
    spring, winback, total = table.loc["spring"], table.loc["winback"], table.loc["Total"]
    assert (spring["judged"], spring["too_recent"], spring["judged_linked"]) == (4, 0, 4)
    assert (spring["open_rate"], spring["click_rate"], spring["judgement"]) == (0.75, 0.5, "")
    # winback: the counts are all its March mail's; the rates only #7's, and no click rate at all
    assert (winback["delivered"], winback["opened"], winback["clicked"]) == (2, 1, 1)
    assert (winback["judged"], winback["too_recent"], winback["judged_linked"]) == (1, 1, 0)
    assert winback["open_rate"] == 0.0 and math.isnan(winback["click_rate"])
    assert math.isnan(winback["click_to_open"]) and winback["judgement"] == TOO_FEW  # 1 judged < 2
    # the total's click rate is spring's alone: winback's mail cannot be clicked
    bases = ("judged", "too_recent", "judged_linked", "opened_linked")
    assert tuple(total[name] for name in bases) == (5, 1, 4, 3)
    assert (total["open_rate"], total["click_rate"], total["unsubscribe_rate"]) == (0.6, 0.5, 0.2)


def test_a_row_of_only_recent_mail_reads_too_recent(sessions: sessionmaker[Session]) -> None:
    seed(sessions)
    with sessions() as session:
        table = engagement_table(session, ["campaign"], judging=Judging(datetime(2024, 3, 15, tzinfo=UTC)),
                                 since=datetime(2024, 3, 15, tzinfo=UTC), until=MARCH["until"])
    winback = table.set_index("campaign").loc["winback"]  # #7 (03-15 12:00) and #9 (03-20)
    assert (winback["judged"], winback["too_recent"], winback["judgement"]) == (0, 2, TOO_RECENT)
    assert math.isnan(winback["open_rate"])


def engagement(sessions: sessionmaker[Session], **changes: object) -> str:
    settings = ReportSettings(judge_after_days=3, min_rate_n=2, min_group=1).model_copy(update=changes)
    report = engagement_report(sessions, [["campaign"]], now=datetime(2024, 3, 21, tzinfo=UTC),
                               settings=settings, campaigns=WINBACK, **MARCH)
    return render_html(report)


def test_the_page_says_no_links_too_few_and_too_recent(sessions: sessionmaker[Session]) -> None:
    seed(sessions)
    page = engagement(sessions)
    row = page[page.index('title="winback"'):]
    row = row[:row.index("</tr>")]
    assert "Win them back 挽回老客户" in row and row.count(NO_LINKS) == 2  # click rate, click-to-open
    assert TOO_FEW in row
    assert page[:page.index('title="winback"')].endswith('<tr class="pinned"><td class="text" ')
    card = '<div class="label">Too recent to judge (last 3 days) 太新未计</div><div class="value">1</div>'
    assert card in page
    assert '75.00%<span class="n">n 4</span>' in page  # spring's open rate: over its 4 judged mails


def test_too_few_rows_are_left_out_of_the_chart(sessions: sessionmaker[Session]) -> None:
    seed(sessions)
    few = engagement_report(sessions, [["campaign"]], now=datetime(2024, 4, 1, tzinfo=UTC),
                            settings=ReportSettings(min_rate_n=5), campaigns=WINBACK, **MARCH)
    [section] = [s for s in few.sections if s.title.startswith("By campaign")]
    assert section.charts == ()  # spring: 4 judged, winback 2: both too few for 5, no chart at all
    assert "2 row(s) with fewer than 5 judged mails" in section.note
    enough = engagement_report(sessions, [["campaign"]], now=datetime(2024, 4, 1, tzinfo=UTC),
                               settings=ReportSettings(min_rate_n=3), campaigns=WINBACK, **MARCH)
    [section] = [s for s in enough.sections if s.title.startswith("By campaign")]
    assert len(section.charts) == 1 and "1 row(s)" in section.note  # spring drawn, winback not


def test_generated_at_is_the_real_time_and_the_period_is_written_out(sessions: sessionmaker[Session]) -> None:
    seed(sessions)
    simulated = datetime(2030, 6, 1, 9, 30, tzinfo=UTC)
    before = datetime.now(UTC)
    report = engagement_report(sessions, [["campaign"]], now=simulated, since=MARCH["since"])
    assert before - timedelta(seconds=1) <= report.generated_at <= datetime.now(UTC)
    assert report.as_of == simulated
    assert report.period == "2024-03-01 00:00 UTC – 2030-06-01 09:30 UTC"  # an open end: the report's time
    page = render_html(report)
    assert f"Generated 生成时间:\n{report.generated_at:%Y-%m-%d %H:%M} UTC" in page
    assert "Figures as of 数据截至:\n2030-06-01 09:30 UTC" in page
    whole = engagement_report(sessions, [["campaign"]], now=simulated)
    assert whole.period == "the first record 最早记录 – 2030-06-01 09:30 UTC"


def test_empty_satisfaction_tables_say_no_answers_yet(sessions: sessionmaker[Session]) -> None:
    page = render_html(satisfaction_report(sessions, now=datetime(2024, 4, 1, tzinfo=UTC)))
    assert page.count(NO_ANSWERS) == 6  # NPS and CSAT by tier, industry and manager
    assert "No comments yet 尚无留言" in page


def test_bundled_campaigns_facts() -> None:
    facts = read_facts(bundled_config_dir() / "campaigns")
    assert "key_account_greeting" in facts.unlinked  # a personal letter: nothing to click
    assert "nps_key_accounts" not in facts.unlinked  # a survey's answers are clicks
    assert facts.names["key_account_greeting"] == "Year-end thank-you to key accounts 大客户年终致谢"
    assert read_facts(Path("/nonexistent/campaigns")) == CampaignFacts()


def test_the_command_reads_titles_and_links_from_the_campaign_files(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'edm.db'}"
    engine = make_engine(url)
    create_schema(engine)
    seed(session_factory(engine))
    engine.dispose()
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "winback.yaml").write_text(
        "name: winback\ntitle: {en: Win them back, zh-Hans: 挽回老客户}\nkind: greeting\ntemplate: win_back\n"
        "subject: {en: We miss you, zh-Hans: 好久不见}\n", encoding="utf-8")
    (tmp_path / "edm.yaml").write_text("reports: {min_rate_n: 1}\n", encoding="utf-8")
    env = {"EDM_CONFIG": str(tmp_path / "edm.yaml"), "EDM_DATABASE_URL": url}
    for fmt in ("html", "csv"):
        result = CliRunner().invoke(main, [
            "report", "engagement", "--by", "campaign", "--since", "2024-03-01", "--until", "2024-04-01",
            "--format", fmt, "--out", str(tmp_path / f"e.{fmt}")], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    page = (tmp_path / "e.html").read_text(encoding="utf-8")
    assert "Win them back 挽回老客户" in page and NO_LINKS in page
    table = pd.read_csv(tmp_path / "e-engagement-campaign.csv", encoding="utf-8-sig").set_index("campaign")
    assert table.loc["winback", "judged_linked"] == 0 and pd.isna(table.loc["winback", "click_rate"])
    assert table.loc["spring", "judged"] == 4  # files keep the n columns the page folds into its cells
