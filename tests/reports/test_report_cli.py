"""`edm report engagement|uplift|lifecycle|frequency` end to end: a real SQLite file, files read back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from edm.cli import main
from edm.reports.uplift import TOO_FEW, UNCLEAR
from edm.store import create_schema, make_engine, session_factory
from tests.reports.history import seed
from tests.reports.holdouts import seed_holdouts


def store(tmp_path: Path) -> dict[str, str]:
    return _seeded(tmp_path, seed, "{}\n")


def _seeded(tmp_path: Path, fill: Callable[[sessionmaker[Session]], object], settings: str) -> dict[str, str]:
    """A working folder (edm.yaml holding `settings`) whose store `fill` wrote; the command's environment."""
    url = f"sqlite:///{tmp_path / 'edm.db'}"
    engine = make_engine(url)
    create_schema(engine)
    fill(session_factory(engine))
    engine.dispose()
    (tmp_path / "edm.yaml").write_text(settings, encoding="utf-8")
    return {"EDM_CONFIG": str(tmp_path / "edm.yaml"), "EDM_DATABASE_URL": url}


def test_engagement_to_xlsx_with_combined_groupings(tmp_path: Path) -> None:
    env = store(tmp_path)
    out = tmp_path / "march.xlsx"
    result = CliRunner().invoke(main, ["report", "engagement", "--by", "campaign,tier+stage", "--since",
                                       "2024-03-01", "--until", "2024-04-01", "--format", "xlsx",
                                       "--out", str(out)], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "sent 7, delivered 6, opened 4 (66.7%), clicked 3 (50.0%)" in result.output
    assert "orders 5, revenue 440.00" in result.output
    sheets = pd.read_excel(out, sheet_name=None)
    assert list(sheets) == ["summary", "engagement-campaign", "engagement-tier-stage", "uplift",
                            "uplift-tier", "uplift-stage", "uplift-variant"]
    assert sheets["engagement-campaign"].iloc[:, 0].tolist() == ["spring", "winback", "Total"]


def test_engagement_attribution_days_come_from_settings(tmp_path: Path) -> None:
    env = store(tmp_path) | {"EDM_REPORTS__ATTRIBUTION_DAYS": "3"}
    result = CliRunner().invoke(main, ["report", "engagement", "--by", "campaign", "--format", "csv",
                                       "--out", str(tmp_path / "e.csv")], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "orders 3, revenue 310.00" in result.output


def test_bad_grouping_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "engagement", "--by", "region"], env=store(tmp_path))
    assert result.exit_code == 1
    assert "cannot group the report by 'region'" in result.output and "Traceback" not in result.output


def test_lifecycle_and_frequency_write_their_pages(tmp_path: Path) -> None:
    env = store(tmp_path)
    for name in ("lifecycle", "frequency"):
        out = tmp_path / f"{name}.html"
        result = CliRunner().invoke(main, ["report", name, "--since", "2024-03-01", "--until", "2024-04-01",
                                           "--out", str(out)], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert f"wrote {out}" in result.output
        assert out.read_text(encoding="utf-8").count("data:image/png;base64,") >= 2


def _holdout_store(tmp_path: Path) -> dict[str, str]:
    return _seeded(tmp_path, seed_holdouts, "reports: {min_group: 2}\n")


def test_uplift_report_in_csv_xlsx_and_html(tmp_path: Path) -> None:
    env = _holdout_store(tmp_path)
    runner = CliRunner()
    for fmt in ("csv", "xlsx", "html"):
        out = tmp_path / f"u.{fmt}"
        result = runner.invoke(main, ["report", "uplift", "--format", fmt, "--out", str(out)], env=env,
                               catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert "Campaigns with a holdout 有对照组的活动: 1" in result.stdout
        assert "promo: order rate uplift 下单率提升: 10.00% [" in result.stdout  # 3/6 - 2/5
    tiers = pd.read_csv(tmp_path / "u-uplift-tier.csv", encoding="utf-8-sig")
    assert tiers["tier"].tolist() == ["high", "medium", "low", "unknown"]
    assert tiers[["mailed", "holdout"]].values.tolist() == [[2, 2], [1, 0], [3, 2], [0, 1]]
    assert tiers["reading"].tolist() == [UNCLEAR, TOO_FEW, UNCLEAR, TOO_FEW]  # medium, unknown: one arm empty
    sheets = pd.read_excel(tmp_path / "u.xlsx", sheet_name=None)
    assert list(sheets) == ["summary", "uplift", "uplift-tier", "uplift-stage", "uplift-variant"]
    assert sheets["uplift-variant"]["Variant 版本"].tolist() == ["A", "B"]
    page = (tmp_path / "u.html").read_text(encoding="utf-8")
    assert '<section id="uplift">' in page and 'id="uplift-chart-tier"' in page


def test_uplift_report_min_group_comes_from_settings(tmp_path: Path) -> None:
    env = _holdout_store(tmp_path) | {"EDM_REPORTS__MIN_GROUP": "6"}
    out = tmp_path / "u.csv"
    result = CliRunner().invoke(main, ["report", "uplift", "--format", "csv", "--out", str(out)], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "promo: order rate uplift 下单率提升: too few 样本太少 (6 / 5)" in result.stdout


def test_uplift_report_without_holdouts_says_so(tmp_path: Path) -> None:
    env = store(tmp_path)
    out = tmp_path / "u.html"
    result = CliRunner().invoke(main, ["report", "uplift", "--until", "2024-03-01", "--out", str(out)],
                                env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Campaigns with a holdout 有对照组的活动: 0" in result.stdout
    assert "No campaign had a holdout group in the period" in out.read_text(encoding="utf-8")
