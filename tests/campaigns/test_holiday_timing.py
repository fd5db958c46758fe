"""Holiday and life-event mail at a humane hour in the customer's own zone, and the policy judged for the
moment it goes out: the pure timing rules, then the real planner on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.planner import PlanResult, plan_campaign
from edm.campaigns.schema import Campaign
from edm.campaigns.timing import Timing
from edm.campaigns.triggers import occasion, timing_for
from edm.cli import main
from edm.config import EngagementSettings, PolicySettings, SendWindow
from edm.store import Customer, CustomerProfile, OutboxMessage

RULES = EngagementSettings()
Sessions = sessionmaker[Session]
D = date(2027, 2, 3)  # three days before the Spring Festival of 2027
LA = "America/Los_Angeles"


def _campaign(**changes: Any) -> Campaign:
    base: dict[str, Any] = {"name": "spring", "template": "holiday_greeting", "subject": {"en": "Hi"},
                            "holiday": {"name": "spring_festival", "days_before": 3}}
    return Campaign.model_validate({**base, **changes})


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- the rules, pure ---------------------------------------------------------------------------


def test_the_moment_is_at_on_the_customers_day_or_now_once_that_has_passed() -> None:
    early = Timing(utc(2027, 2, 3, 8), at=time(9))  # 00:00 in Los Angeles on the 3rd
    assert early.local_day(LA) == D and early.moment(LA) == utc(2027, 2, 3, 17)  # 09:00 PST
    late = Timing(utc(2027, 2, 3, 20), at=time(9))  # 12:00 in Los Angeles: past 09:00, still the day
    assert late.moment(LA) == utc(2027, 2, 3, 20)
    fixed = Timing(utc(2027, 2, 2, 16, 30), at=time(9), zone="Asia/Shanghai")  # the trigger's zone
    assert fixed.local_day(LA) == D and fixed.moment(LA) == utc(2027, 2, 3, 1)
    assert Timing(utc(2027, 2, 3, 20)).moment(LA) == utc(2027, 2, 3, 20)  # untimed: at once
    preview = Timing(utc(2027, 2, 3, 23), at=time(9), day=D)  # a whole day, whatever the hour
    assert preview.local_day("Asia/Shanghai") == D and preview.moment("Asia/Shanghai") == utc(2027, 2, 3, 1)


def test_waiting_for_the_next_day_keeps_the_hour() -> None:
    timed = Timing(utc(2027, 2, 3, 8), at=time(9))
    assert timed.next_day(utc(2027, 2, 3, 17), LA) == utc(2027, 2, 4, 17)  # 09:00 PST on the 4th
    assert Timing(utc(2027, 2, 3, 8)).next_day(utc(2027, 2, 3, 17), LA) == utc(2027, 2, 4, 8)  # midnight


def test_a_holiday_in_each_customers_zone_is_planned_from_the_utc_day_before_to_the_day_after() -> None:
    spring = _campaign()
    assert occasion(spring, utc(2027, 2, 1, 23)) is None
    for moment in (utc(2027, 2, 2, 0), utc(2027, 2, 3, 12), utc(2027, 2, 4, 23, 59)):
        assert occasion(spring, moment) == D  # the occurrence is the campaign's day throughout
    assert occasion(spring, utc(2027, 2, 5, 0)) is None
    shanghai = _campaign(holiday={"name": "spring_festival", "days_before": 3, "timezone": "Asia/Shanghai"})
    assert occasion(shanghai, utc(2027, 2, 2, 15, 59)) is None  # 23:59 on the 2nd in Shanghai
    assert occasion(shanghai, utc(2027, 2, 2, 16)) == D
    assert timing_for(shanghai, utc(2027, 2, 2, 16), due=True) == Timing(utc(2027, 2, 2, 16), time(9),
                                                                         "Asia/Shanghai")
    assert timing_for(shanghai, utc(2027, 2, 2, 16), due=False).at is None  # run by hand another day


# --- the planner -------------------------------------------------------------------------------


def _customer(session: Session, name: str, timezone: str, *, locale: str = "en", country: str | None = None,
              interval: float = 0.1, paused_until: datetime | None = None) -> int:
    # a customer since 2026: within the soft opt-in (edm.consent) when the 2027 greetings go out
    customer = Customer(external_id=name, name=name, email=f"{name}@example.com", kind="person",
                        locale=locale, timezone=timezone, country=country, created_at=utc(2026, 1, 1),
                        paused_until=paused_until)
    session.add(customer)
    session.flush()
    session.add(CustomerProfile(customer_id=customer.id, value_tier="high", lifecycle_stage="mature",
                                order_count=3, revenue=Decimal("100"), computed_at=utc(2027, 1, 1),
                                contact_interval_days=interval))
    return customer.id


def _mail(session: Session, customer_id: int, campaign: str, at: datetime, state: str = "queued") -> None:
    session.add(OutboxMessage(key=f"{campaign}-{customer_id}-{at:%Y%m%d%H}", campaign=campaign, step=0,
                              customer_id=customer_id, occurrence=at.date(), state=state, attempts=0,
                              to_address=f"c{customer_id}@x.com", next_attempt_at=at,
                              created_at=at - timedelta(days=1), sent_at=at if state == "sent" else None))


def _plan(sessions: sessionmaker[Session], campaign: Campaign, now: datetime,
          policy: PolicySettings | None = None) -> PlanResult:
    due = occasion(campaign, now)
    assert due is not None
    return plan_campaign(sessions, campaign, occurrence=due, now=now, rules=RULES,
                         policy=policy or PolicySettings(one_per_day=True),
                         timing=timing_for(campaign, now, due=True))


def _queued(sessions: sessionmaker[Session], campaign: str) -> dict[str, datetime]:
    with sessions() as session:
        rows = session.execute(select(Customer.external_id, OutboxMessage.next_attempt_at)
                               .join(OutboxMessage, OutboxMessage.customer_id == Customer.id)
                               .where(OutboxMessage.campaign == campaign))
        return {name: at if at.tzinfo else at.replace(tzinfo=UTC) for name, at in rows}


def test_one_mail_a_day_is_judged_on_the_day_the_greeting_goes_out(any_sessions: Sessions) -> None:
    """Planned at 00:00 Shanghai (16:00 on the 2nd in London) for 09:00 Shanghai: 01:00 on the 3rd in London.
    A newsletter queued for London's 3rd makes that customer busy then; one for the 2nd does not."""
    with any_sessions.begin() as session:
        busy = _customer(session, "busy", "Europe/London", locale="en-GB")
        free = _customer(session, "free", "Europe/London", locale="en-GB")
        _mail(session, busy, "newsletter", utc(2027, 2, 3, 12))
        _mail(session, free, "newsletter", utc(2027, 2, 2, 12), state="sent")
    spring = _campaign(holiday={"name": "spring_festival", "days_before": 3, "timezone": "Asia/Shanghai",
                                "only_where_observed": False})
    result = _plan(any_sessions, spring, utc(2027, 2, 2, 16, 5))
    assert (result.queued, result.busy) == (1, 1)
    assert _queued(any_sessions, "spring") == {"free": utc(2027, 2, 3, 1)}


def test_when_busy_wait_goes_the_next_day_at_the_hour(any_sessions: Sessions) -> None:
    with any_sessions.begin() as session:
        busy = _customer(session, "busy", LA, country="TW")
        _mail(session, busy, "newsletter", utc(2027, 2, 3, 20))  # 12:00 on the 3rd in Los Angeles
    result = _plan(any_sessions, _campaign(when_busy="wait"), utc(2027, 2, 3, 8, 5))
    assert (result.queued, result.waiting) == (1, 1)
    assert _queued(any_sessions, "spring") == {"busy": utc(2027, 2, 4, 17)}  # 09:00 PST on the 4th


def test_the_interval_and_a_pause_are_judged_at_the_moment_of_sending(any_sessions: Sessions) -> None:
    """Planned at midnight in Los Angeles for 09:00: a mail 22 hours before midnight is 31 hours before
    09:00, enough for a 1.2-day interval; a pause ending at 08:00 is over by then."""
    with any_sessions.begin() as session:
        mailed = _customer(session, "mailed", LA, country="CN", interval=1.2)
        _mail(session, mailed, "newsletter", utc(2027, 2, 2, 10), state="sent")
        _customer(session, "paused", LA, country="CN", paused_until=utc(2027, 2, 3, 16))
        _customer(session, "still_paused", LA, country="CN", paused_until=utc(2027, 2, 3, 18))
    result = _plan(any_sessions, _campaign(), utc(2027, 2, 3, 8))
    assert (result.queued, result.too_soon, result.paused) == (2, 0, 1)
    assert set(_queued(any_sessions, "spring")) == {"mailed", "paused"}


def test_the_send_window_moves_the_hour_and_the_busy_day_with_it(any_sessions: Sessions) -> None:
    """`at: "21:00"` with a window closing at 20:00: it goes at 09:00 the next day, so the day checked
    for one mail a day is that one."""
    with any_sessions.begin() as session:
        busy = _customer(session, "busy", "Asia/Shanghai")
        _customer(session, "free", "Asia/Shanghai")
        _mail(session, busy, "newsletter", utc(2027, 2, 4, 5))  # 13:00 on the 4th in Shanghai
    window = PolicySettings(one_per_day=True, send_window=SendWindow(start=time(9), end=time(20)))
    evening = _campaign(holiday={"name": "spring_festival", "days_before": 3, "at": "21:00"})
    result = _plan(any_sessions, evening, utc(2027, 2, 2, 16, 5), window)
    assert (result.queued, result.busy) == (1, 1)
    assert _queued(any_sessions, "spring") == {"free": utc(2027, 2, 4, 1)}  # 09:00 on the 4th


def test_customers_whose_country_does_not_keep_the_holiday_are_skipped(any_sessions: Sessions) -> None:
    with any_sessions.begin() as session:
        _customer(session, "riyadh", "Asia/Riyadh")  # SA, from the zone
        _customer(session, "berlin", "Europe/Berlin", locale="de-DE")
        _customer(session, "tokyo", "Asia/Tokyo", locale="ja-JP")
        _customer(session, "hong_kong", "Asia/Hong_Kong", locale="zh-HK")
        _customer(session, "unknown", "UTC")
    christmas = _campaign(name="christmas", holiday={"name": "christmas"})
    result = _plan(any_sessions, christmas, utc(2026, 12, 25, 12))  # the 25th in all five zones
    assert (result.audience, result.queued, result.not_observed) == (5, 3, 2)  # not Riyadh, not Tokyo
    assert set(_queued(any_sessions, "christmas")) == {"berlin", "hong_kong", "unknown"}
    spring = _plan(any_sessions, _campaign(), utc(2027, 2, 3, 12))
    assert set(_queued(any_sessions, "spring")) == {"hong_kong", "unknown"}
    assert spring.not_observed == 3  # Riyadh, Berlin, Tokyo
    everyone = _campaign(name="everyone", holiday={"name": "spring_festival", "days_before": 3,
                                                   "only_where_observed": False})
    result = _plan(any_sessions, everyone, utc(2027, 2, 3, 12))
    assert (result.queued, result.busy, result.not_observed) == (3, 2, 0)  # two already greeted today
    assert set(_queued(any_sessions, "everyone")) == {"riyadh", "berlin", "tokyo"}


def test_each_customer_gets_their_own_countrys_national_day(any_sessions: Sessions) -> None:
    with any_sessions.begin() as session:
        _customer(session, "beijing", "Asia/Shanghai", locale="zh-CN")
        _customer(session, "taipei", "Asia/Taipei", locale="zh-Hant-TW")
        _customer(session, "seattle", LA, locale="en-US")
        _customer(session, "paris", "Europe/Paris", country="FR")
        _customer(session, "london", "Europe/London", locale="en-GB")  # no national public holiday
        _customer(session, "unknown", "UTC")
    fixed = _campaign(name="china", holiday={"name": "national_day", "country": "CN"})
    now = utc(2027, 10, 1, 12)
    result = plan_campaign(any_sessions, fixed, occurrence=now.date(), now=now, rules=RULES, dry_run=True)
    assert (result.queued, result.not_observed) == (2, 4)  # Beijing, and the unknown; not Taipei's
    own = _campaign(name="own", holiday={"name": "national_day", "country": "customer"})
    day = date(2027, 1, 1)
    while day.year == 2027:  # the daemon's noon run, every day of the year
        if occasion(own, utc(day.year, day.month, day.day, 12)) is not None:
            _plan(any_sessions, own, utc(day.year, day.month, day.day, 12))
        day += timedelta(days=1)
    with any_sessions() as session:
        planned = dict(session.execute(select(Customer.external_id, OutboxMessage.occurrence)
                                       .join(OutboxMessage, OutboxMessage.customer_id == Customer.id)).all())
    assert planned == {"beijing": date(2027, 10, 1), "taipei": date(2027, 10, 10),
                       "seattle": date(2027, 7, 4), "paris": date(2027, 7, 14)}


def test_a_birthday_goes_at_9_in_the_customers_zone(any_sessions: Sessions) -> None:
    with any_sessions.begin() as session:
        _customer(session, "la", LA)
        session.flush()
        for customer in session.scalars(select(Customer)):
            customer.birthday = date(1980, 2, 3)
    birthday = Campaign.model_validate({"name": "birthday", "template": "birthday", "subject": {"en": "Hi"},
                                        "life_event": {"name": "birthday", "at": "10:30"}})
    plan_campaign(any_sessions, birthday, occurrence=D, now=utc(2027, 2, 3, 8, 5), rules=RULES)
    assert _queued(any_sessions, "birthday") == {"la": utc(2027, 2, 3, 18, 30)}


def test_the_shipped_spring_festival_says_when_and_where_it_goes(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path / "p")]).exit_code == 0
    result = runner.invoke(main, ["campaign", "due", "--date", "2027-02-03",
                                  "--config", str(tmp_path / "p" / "edm.yaml")], catch_exceptions=False)
    # each campaign by its title with the name to type (the shipped files have titles)
    assert ("Spring Festival greeting (spring_festival): due on 2027-02-03; next 2028-01-23 (3 days before "
            "the Spring Festival, 09:00 each customer's time, where observed)") in result.output
    assert ("Spring Festival closure notice (spring_festival_closure): not due on 2027-02-03; "
            "next 2028-01-01") in result.output
    assert ("New Year greeting (holiday_greeting): not due on 2027-02-03; next 2027-12-28 "
            "(4 days before New Year's Day") in result.output
    assert ("Birthday wishes (birthday): due on 2027-02-03; next 2027-02-04 (each customer's birthday, "
            "09:00 their time)") in (
        result.output)


def test_a_preview_shows_the_whole_day_in_every_zone(any_sessions: Sessions) -> None:
    """At 23:00 UTC on the 3rd Shanghai's 3rd is over and Los Angeles' is on: the preview of the 3rd
    shows both (a dry run at that moment would show only Los Angeles)."""
    from edm.campaigns.preview import preview_campaign
    from edm.config import Settings

    with any_sessions.begin() as session:
        _customer(session, "shanghai", "Asia/Shanghai", locale="zh-CN")
        _customer(session, "la", LA, country="TW")
    spring = _campaign(links={"card": "https://www.example.com/card"})
    shown = preview_campaign(Settings(), any_sessions, spring, utc(2027, 2, 3, 23))
    assert shown.due and shown.plan.queued == 2
    assert {email for _, _, email in shown.customers} == {"shanghai@example.com", "la@example.com"}
    assert _plan(any_sessions, spring, utc(2027, 2, 3, 23)).queued == 1  # the run at that moment: LA only
