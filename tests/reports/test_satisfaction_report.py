"""The satisfaction report against the hand-counted answers in tests/reports/answers.py, on SQLite and
PostgreSQL; the files it writes read back; `edm report satisfaction` end to end."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from edm.cli import main
from edm.errors import EdmError
from edm.reports import Report, satisfaction_report, write_report
from edm.reports.html import LABELS, SORT_SCRIPT
from edm.reports.satisfaction import ALL, period_labels, satisfaction_table, score_of
from edm.store import create_schema, make_engine, session_factory
from edm.surveys.scores import SCALES, SURVEYS, Survey, csat, nps, satisfaction_of
from tests.reports.answers import FORMULA, SCRIPT, WINDOW, seed_answers

GENERATED = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)
# period, group, answers, promoters, passives, detractors, score, mean score
NPS_BY_TIER = [
    ["2024-03", "high", 2, 1, 0, 1, 0.0, 8.0],
    ["2024-03", "low", 3, 2, 1, 0, 66.7, 8.67],
    ["2024-03", ALL, 5, 3, 1, 1, 40.0, 8.4],
    ["2024-04", "high", 1, 0, 1, 0, 0.0, 7.0],
    ["2024-04", "low", 1, 1, 0, 0, 100.0, 10.0],
    ["2024-04", "(unclassified)", 1, 0, 0, 1, -100.0, 0.0],
    ["2024-04", ALL, 3, 1, 1, 1, 0.0, 5.67],
]
CSAT_BY_TIER = [
    ["2024-03", "high", 2, 1, 0, 1, 50.0, 3.5],
    ["2024-03", "low", 1, 1, 0, 0, 100.0, 4.0],
    ["2024-03", ALL, 3, 2, 0, 1, 66.7, 3.67],
    ["2024-04", "low", 2, 1, 1, 0, 50.0, 4.0],
    ["2024-04", ALL, 2, 1, 1, 0, 50.0, 4.0],
]
NPS_BY_INDUSTRY = [
    ["2024-03", "manufacturing", 1, 1, 0, 0, 100.0, 10.0],
    ["2024-03", "services", 2, 1, 0, 1, 0.0, 7.5],
    ["2024-03", "trade", 2, 1, 1, 0, 50.0, 8.5],
    ["2024-03", ALL, 5, 3, 1, 1, 40.0, 8.4],
    ["2024-04", "manufacturing", 1, 0, 1, 0, 0.0, 7.0],
    ["2024-04", "trade", 1, 1, 0, 0, 100.0, 10.0],
    ["2024-04", "(unclassified)", 1, 0, 0, 1, -100.0, 0.0],
    ["2024-04", ALL, 3, 1, 1, 1, 0.0, 5.67],
]
CSAT_BY_INDUSTRY = [
    ["2024-03", "manufacturing", 1, 1, 0, 0, 100.0, 5.0],
    ["2024-03", "services", 2, 1, 0, 1, 50.0, 3.0],
    ["2024-03", ALL, 3, 2, 0, 1, 66.7, 3.67],
    ["2024-04", "trade", 2, 1, 1, 0, 50.0, 4.0],
    ["2024-04", ALL, 2, 1, 1, 0, 50.0, 4.0],
]
NPS_BY_MANAGER = [
    ["2024-03", "Alice", 2, 2, 0, 0, 100.0, 9.5],
    ["2024-03", "Bob", 2, 0, 1, 1, -50.0, 7.0],
    ["2024-03", "(none)", 1, 1, 0, 0, 100.0, 9.0],
    ["2024-03", ALL, 5, 3, 1, 1, 40.0, 8.4],
    ["2024-04", "Alice", 1, 0, 1, 0, 0.0, 7.0],
    ["2024-04", "Bob", 2, 1, 0, 1, 0.0, 5.0],
    ["2024-04", ALL, 3, 1, 1, 1, 0.0, 5.67],
]
CSAT_BY_MANAGER = [
    ["2024-03", "Alice", 1, 1, 0, 0, 100.0, 5.0],
    ["2024-03", "Bob", 1, 0, 0, 1, 0.0, 2.0],
    ["2024-03", "(none)", 1, 1, 0, 0, 100.0, 4.0],
    ["2024-03", ALL, 3, 2, 0, 1, 66.7, 3.67],
    ["2024-04", "Alice", 1, 0, 1, 0, 0.0, 3.0],
    ["2024-04", "Bob", 1, 1, 0, 0, 100.0, 5.0],
    ["2024-04", ALL, 2, 1, 1, 0, 50.0, 4.0],
]
COMMENTS = [
    ["2024-03-05", "a2", "Alice", "nps", 9, "Great service"],
    ["2024-03-10", "b1", "Bob", "nps", 6, SCRIPT],
    ["2024-03-20", "n1", "(none)", "nps", 9, "Fine 还行"],
    ["2024-04-08", "b2", "Bob", "nps", 10, FORMULA],
]
TABLE_NAMES = [
    "satisfaction-nps-tier", "satisfaction-csat-tier", "satisfaction-nps-industry",
    "satisfaction-csat-industry", "satisfaction-nps-manager", "satisfaction-csat-manager",
    "satisfaction-comments",
]


def built(sessions: sessionmaker[Session], **options: object) -> Report:
    seed_answers(sessions)
    return satisfaction_report(sessions, now=GENERATED, **WINDOW, **options)  # type: ignore[arg-type]


def tables(report: Report) -> dict[str, pd.DataFrame]:
    """The hand-counted figures: without the judgement column (none is too few under min_answers 1)."""
    frames = {table.name: table.frame for table in report.tables()}
    for name, frame in frames.items():
        if "judgement" in frame:
            assert (frame["judgement"] == "").all(), name
            frames[name] = frame.drop(columns="judgement")
    return frames


def test_every_figure_by_tier_industry_and_manager(any_sessions: sessionmaker[Session]) -> None:
    report = built(any_sessions)
    found = tables(report)
    assert list(found) == TABLE_NAMES
    expected = {
        "satisfaction-nps-tier": NPS_BY_TIER, "satisfaction-csat-tier": CSAT_BY_TIER,
        "satisfaction-nps-industry": NPS_BY_INDUSTRY, "satisfaction-csat-industry": CSAT_BY_INDUSTRY,
        "satisfaction-nps-manager": NPS_BY_MANAGER, "satisfaction-csat-manager": CSAT_BY_MANAGER,
    }
    for name, rows in expected.items():
        survey, by = name.split("-")[1:]
        assert list(found[name].columns) == ["period", by, "answers", "promoters", "passives",
                                             "detractors", survey, "mean_score"], name
        assert found[name].values.tolist() == rows, name
    assert found["satisfaction-comments"].values.tolist() == COMMENTS
    assert dict(report.summary) == {
        "NPS 净推荐值": "25", "NPS answers 答卷": "8", "CSAT 满意度": "60.00%", "CSAT answers 答卷": "5",
        "Comments 留言": "4",
    }
    assert report.figures == {"comments": 4, "nps": 25.0, "nps_answers": 8, "csat": 60.0, "csat_answers": 5}
    assert len(report.charts()) == 2  # NPS and CSAT over time, for the first grouping (tier) only
    assert [chart.png[:4] for chart in report.charts()] == [b"\x89PNG"] * 2
    assert any("CURRENT value tier" in note for note in report.notes)


def test_groupings_and_quarters(any_sessions: sessionmaker[Session]) -> None:
    report = built(any_sessions, groupings=["manager"], period="quarter")
    found = tables(report)
    assert list(found) == ["satisfaction-nps-manager", "satisfaction-csat-manager", "satisfaction-comments"]
    assert found["satisfaction-nps-manager"].values.tolist() == [
        ["2024-Q1", "Alice", 2, 2, 0, 0, 100.0, 9.5],
        ["2024-Q1", "Bob", 2, 0, 1, 1, -50.0, 7.0],
        ["2024-Q1", "(none)", 1, 1, 0, 0, 100.0, 9.0],
        ["2024-Q1", ALL, 5, 3, 1, 1, 40.0, 8.4],
        ["2024-Q2", "Alice", 1, 0, 1, 0, 0.0, 7.0],
        ["2024-Q2", "Bob", 2, 1, 0, 1, 0.0, 5.0],
        ["2024-Q2", ALL, 3, 1, 1, 1, 0.0, 5.67],
    ]
    assert [chart.title for chart in report.charts()] == [
        "NPS 净推荐值 over time by account manager", "CSAT 满意度 over time by account manager"]


def test_weeks_are_iso_weeks_across_the_year_end() -> None:
    moments = pd.Series(pd.to_datetime(
        ["2024-03-03 23:59", "2024-03-04 00:00", "2024-12-30 12:00", "2021-01-03 12:00"], utc=True))
    assert period_labels(moments, "week").tolist() == ["2024-W09", "2024-W10", "2025-W01", "2020-W53"]
    assert period_labels(moments, "month").tolist() == ["2024-03", "2024-03", "2024-12", "2021-01"]
    assert period_labels(moments, "quarter").tolist() == ["2024-Q1", "2024-Q1", "2024-Q4", "2021-Q1"]


def test_no_answers_is_an_empty_report_not_an_error(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    report = satisfaction_report(sessions, now=GENERATED, since=WINDOW["since"], until=WINDOW["until"])
    assert all(table.frame.empty for table in report.tables())
    assert report.charts() == []
    assert dict(report.summary)["NPS 净推荐值"] == "–" and dict(report.summary)["CSAT answers 答卷"] == "0"
    for fmt in ("html", "csv", "xlsx"):
        assert write_report(report, tmp_path / f"empty.{fmt}", fmt)


@pytest.mark.parametrize(("options", "message"), [
    ({"groupings": ["region"]}, "cannot group the satisfaction report by 'region'"),
    ({"groupings": ["tier", "tier"]}, "each grouping may appear once"),
    ({"groupings": []}, "choose at least one grouping"),
    ({"period": "day"}, "no satisfaction report per 'day'"),
])
def test_bad_options_are_the_users_error(
    sessions: sessionmaker[Session], options: dict[str, object], message: str
) -> None:
    with pytest.raises(EdmError, match=message):
        satisfaction_report(sessions, now=GENERATED, **options)  # type: ignore[arg-type]


def test_html_escapes_comments_and_csv_and_xlsx_hold_every_table(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    report = built(sessions)
    [page] = write_report(report, tmp_path / "s.html", "html")
    source = page.read_text(encoding="utf-8")
    assert SCRIPT not in source and "&lt;script&gt;x&lt;/script&gt;" in source
    assert source.count("<script") == 1 and f"<script>{SORT_SCRIPT}</script>" in source  # sorting only
    assert source.count("data:image/png;base64,") == 2
    assert LABELS["nps"] in source and "Fine 还行" in source

    csvs = write_report(report, tmp_path / "s.csv", "csv")
    assert [path.name for path in csvs] == [f"s-{name}.csv" for name in TABLE_NAMES]
    for path, table in zip(csvs, report.tables(), strict=True):
        back = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False)
        if table.name == "satisfaction-comments":  # a formula-looking comment is kept as inert text
            assert ("'" + FORMULA) in set(back["comment"])
            back["comment"] = back["comment"].str.replace("'" + FORMULA, FORMULA, regex=False)
        pd.testing.assert_frame_equal(back, table.frame, check_dtype=False)

    [book] = write_report(report, tmp_path / "s.xlsx", "xlsx")
    sheets = pd.read_excel(book, sheet_name=None)
    assert list(sheets) == ["summary", *TABLE_NAMES]
    for table in report.tables():
        back = sheets[table.name]
        back.columns = table.frame.columns
        if "judgement" in back:  # an empty cell (judged as usual) reads back as NaN
            back["judgement"] = back["judgement"].astype(object).fillna("")
        pd.testing.assert_frame_equal(back, table.frame, check_dtype=False)
    cells = [cell for row in openpyxl.load_workbook(book)["satisfaction-comments"].iter_rows()
             for cell in row]
    [formula] = [cell for cell in cells if cell.value == FORMULA]
    assert formula.data_type == "s"  # a customer's text, never a formula Excel would run


def test_cli_writes_the_report(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'edm.db'}"
    engine = make_engine(url)
    create_schema(engine)
    seed_answers(session_factory(engine))
    engine.dispose()
    (tmp_path / "edm.yaml").write_text("{}\n", encoding="utf-8")  # the working folder holding edm.db
    env = {"EDM_CONFIG": str(tmp_path / "edm.yaml"), "EDM_DATABASE_URL": url}
    out = tmp_path / "s.html"
    result = CliRunner().invoke(main, ["report", "satisfaction", "--since", "2024-03-01", "--until",
                                       "2024-05-01", "--out", str(out)], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "NPS 净推荐值: 25" in result.output and "CSAT 满意度: 60.00%" in result.output
    assert f"wrote {out}" in result.output and out.exists()
    book = tmp_path / "q.xlsx"
    result = CliRunner().invoke(main, ["report", "satisfaction", "--by", "manager,tier", "--period",
                                       "quarter", "--format", "xlsx", "--out", str(book)], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    sheets = pd.read_excel(book, sheet_name=None)
    assert list(sheets)[1:3] == ["satisfaction-nps-manager", "satisfaction-csat-manager"]
    # no window: #14 (nps 0) and #15 (csat 1) count too: NPS (4 - 3) / 9, CSAT 3 / 6
    assert ("NPS 净推荐值: 11.1\nNPS answers 答卷: 9\nCSAT 满意度: 50.00%\nCSAT answers 答卷: 6\n"
            in result.output)
    result = CliRunner().invoke(main, ["report", "satisfaction", "--by", "region"], env=env)
    assert result.exit_code == 1
    assert "cannot group the satisfaction report by 'region'" in result.output
    assert "Traceback" not in result.output


@given(st.sampled_from(SURVEYS).flatmap(
    lambda survey: st.tuples(st.just(survey), st.lists(st.sampled_from(list(SCALES[survey])), min_size=1))))
def test_score_from_counts_is_the_score_of_the_answers(case: tuple[Survey, list[int]]) -> None:
    survey, scores = case
    classes = [satisfaction_of(survey, score) for score in scores]
    counted = score_of(survey, len(scores), classes.count("promoter"), classes.count("detractor"))
    assert counted == pytest.approx(nps(scores) if survey == "nps" else csat(scores))


ANSWER = st.tuples(
    st.sampled_from(["nps", "csat"]), st.integers(0, 10),
    st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2025, 12, 31), timezones=st.just(UTC)),
    st.sampled_from(["high", "low", "(unclassified)"]),
)


@given(st.lists(ANSWER, max_size=40), st.sampled_from(["month", "week", "quarter"]))
def test_groups_add_up_to_all_customers(answers: list[tuple[str, int, datetime, str]], period: str) -> None:
    frame = pd.DataFrame(answers, columns=["survey", "score", "answered_at", "tier"])
    frame["answered_at"] = pd.to_datetime(frame["answered_at"], utc=True)
    for survey in SURVEYS:
        table = satisfaction_table(frame, survey, "tier", period)
        on_scale = frame[(frame["survey"] == survey) & frame["score"].isin(SCALES[survey])]
        assert table.loc[table["tier"] == ALL, "answers"].sum() == len(on_scale)
        for label, rows in table.groupby("period"):
            groups, total = rows[rows["tier"] != ALL], rows[rows["tier"] == ALL].iloc[0]
            assert rows["tier"].iloc[-1] == ALL
            for column in ("answers", "promoters", "passives", "detractors"):
                assert groups[column].sum() == total[column]
            assert total["promoters"] + total["passives"] + total["detractors"] == total["answers"]
            scores = on_scale.loc[period_labels(on_scale["answered_at"], period) == label, "score"].tolist()
            expected = nps(scores) if survey == "nps" else csat(scores)
            assert total[survey] == pytest.approx(round(expected or 0.0, 1))


def test_scores_over_too_few_answers_are_marked_and_not_drawn(sessions: sessionmaker[Session]) -> None:
    seed_answers(sessions)

    def report(min_answers: int) -> Report:
        return satisfaction_report(sessions, ["tier"], now=GENERATED, min_answers=min_answers, **WINDOW)

    few = report(4)
    frames = {table.name: table.frame for table in few.tables()}
    nps, csat = frames["satisfaction-nps-tier"], frames["satisfaction-csat-tier"]
    # NPS_BY_TIER: only March's all-customers row has 4 answers or more (5); CSAT_BY_TIER: none (3 at most)
    assert nps.loc[nps["judgement"] == "", ["period", "tier"]].values.tolist() == [["2024-03", ALL]]
    assert (nps.loc[nps["answers"] < 4, "judgement"] == "too few to judge 样本太少").all()
    assert (csat["judgement"] != "").all()
    assert [chart.title for chart in few.charts()] == ["NPS 净推荐值 over time by value tier"]
    assert "score(s) over fewer than 4 answers" in few.sections[0].note
    assert len(report(3).charts()) == 2 and report(6).charts() == []
