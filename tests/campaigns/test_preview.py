"""`edm campaign preview`: who gets what on a date, each variant and language rendered, nothing queued."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from edm.cli import main
from edm.config import load_settings
from edm.runner import open_store
from edm.store import Customer, CustomerProfile, OutboxMessage

NOW = datetime(2026, 11, 24, 2, tzinfo=UTC)
CAMPAIGN = """name: spring_greeting
audience: {tiers: [high, medium]}
template: holiday_greeting
subject: {en: "Happy Spring Festival, {{ greeting_name }}", zh-Hans: "{{ greeting_name }}，新春快乐",
          zh-Hant: "{{ greeting_name }}，新春快樂"}
links: {card: "https://www.example.com/card"}
params: {holiday_en: Spring Festival, holiday_zh: 春节, holiday_zh_hant: 春節}
holiday: {name: spring_festival, days_before: 3, timezone: Asia/Shanghai, only_where_observed: false}
holdout_percent: 10
variants:
  - {name: warm}
  - {name: short, subject: {en: "Spring greetings", zh: "新春问候"}}  # a legacy `zh` key: Simplified
"""


def test_preview_shows_counts_samples_and_every_variant_and_language(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path / "p")]).exit_code == 0
    config = tmp_path / "p" / "edm.yaml"
    (tmp_path / "p" / "campaigns" / "spring.yaml").write_text(CAMPAIGN, encoding="utf-8")
    sessions = open_store(load_settings(config, {}))
    with sessions.begin() as session:
        for n in range(30):
            chinese = n % 2 == 1
            customer = Customer(external_id=f"C{n:02d}", name=f"客户{n}" if chinese else f"Client {n}",
                                email=f"c{n}@example.com", kind="company", timezone="Asia/Shanghai",
                                locale=("zh-CN" if n % 4 == 1 else "zh-HK") if chinese else "en-GB",
                                created_at=NOW)
            session.add(customer)
            session.flush()
            session.add(CustomerProfile(customer_id=customer.id, value_tier=["high", "medium", "low"][n % 3],
                                        lifecycle_stage="mature", order_count=5, revenue=Decimal("100"),
                                        computed_at=NOW))
    result = runner.invoke(main, ["campaign", "preview", "spring_greeting", "--date", "2027-02-03",
                                  "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "spring_greeting on 2027-02-03: due" in out
    assert "audience 20: would send" in out  # high and medium: 20 of 30
    assert "e.g. C00: Client 0 <c0@example.com>" in out
    assert re.search(r"--- variant warm, zh-Hans: 客户\d+，新春快乐", out), out  # zh-CN
    assert re.search(r"--- variant warm, zh-Hant: 客户\d+，新春快樂", out), out  # zh-HK
    for subject in ("Happy Spring Festival, Client", "--- variant short, en: Spring greetings",
                    "--- variant short, zh-Hans: 新春问候",
                    "--- variant short, zh-Hant: 新春问候"):  # no Traditional subject: the Simplified one
        assert subject in out, out
    held = int(re.search(r"hold out (\d+)", out).group(1))  # type: ignore[union-attr]
    sent = int(re.search(r"would send (\d+)", out).group(1))  # type: ignore[union-attr]
    assert held + sent == 20 and ("holdout" in out) == (held > 0)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0  # nothing queued


def test_preview_of_an_unknown_campaign_says_which_exist(tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(main, ["init", str(tmp_path / "p")])
    config = str(tmp_path / "p" / "edm.yaml")
    result = runner.invoke(main, ["campaign", "preview", "nope", "--config", config])
    assert result.exit_code == 1 and "no campaign named 'nope'" in result.output
    assert "win_back" in result.output
