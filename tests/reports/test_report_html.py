"""The HTML page and the CSV file, read back the way a browser and Excel would."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from edm.reports import tabulate, write_csv, write_html

EVIL = "<script>alert(1)</script>"
GENERATED = datetime(2024, 4, 1, 8, 30, tzinfo=UTC)


class Page(HTMLParser):
    """Collects what matters: every tag's attributes, every table's cells, all visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: list[list[list[str]]] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def tables() -> dict[str, pd.DataFrame]:
    by_campaign = tabulate(["campaign"], [
        (("新春问候",), [3, 1, 2, 1, 0]),
        ((EVIL,), [7, 0, 1, 3, 1]),
    ])
    by_tier_stage = tabulate(["tier", "stage"], [
        (("low", "churned"), [4, 0, 0, 1, 0]),
        (("high", "mature"), [6, 1, 3, 3, 1]),
    ])
    return {"By campaign 按活动": by_campaign, "By tier and stage 按等级和阶段": by_tier_stage}


def cells(table: pd.DataFrame) -> list[list[str]]:
    """How each row should read in the page: counts as integers, rates as percentages."""
    shown = []
    for record in table.to_dict("records"):
        row = [str(value) for key, value in record.items() if not str(key).endswith("rate")]
        row += [f"{record['open_rate']:.2%}", f"{record['click_rate']:.2%}"]
        shown.append(row)
    return shown


def parse(path: Path) -> tuple[str, Page]:
    source = path.read_text(encoding="utf-8")
    page = Page()
    page.feed(source)
    page.close()
    return source, page


def test_html_holds_every_value_of_every_table(tmp_path: Path) -> None:
    reports = tables()
    path = write_html(tmp_path / "out" / "report.html", title="Q1 engagement 第一季度",
                      tables=reports, generated_at=GENERATED)
    source, page = parse(path)
    assert '<meta charset="utf-8">' in source
    assert [rows[1:] for rows in page.tables] == [cells(table) for table in reports.values()]
    text = " ".join(page.text)
    for heading in [*reports, "Q1 engagement 第一季度", "Open rate 打开率", "Click rate 点击率"]:
        assert heading in text
    assert "2024-04-01 08:30 UTC" in text


def test_html_summary_comes_from_the_first_tables_total(tmp_path: Path) -> None:
    _, page = parse(write_html(tmp_path / "r.html", title="t", tables=tables(),
                               generated_at=GENERATED))
    values = [data.strip() for data in page.text if data.strip()]
    # first table's Total: sent 10, opened 3, clicked 4, unsubscribed 1
    summary = values[values.index("Total sent 发送总数"):][:8]
    assert summary == [
        "Total sent 发送总数", "10", "Open rate 打开率", "30.00%",
        "Click rate 点击率", "40.00%", "Unsubscribes 退订数", "1",
    ]


def test_html_is_self_contained_and_escaped(tmp_path: Path) -> None:
    source, page = parse(write_html(tmp_path / "r.html", title=EVIL, tables=tables(),
                                    generated_at=GENERATED))
    assert EVIL not in source
    assert [tag for tag, _ in page.tags if tag in ("script", "link", "img", "iframe")] == []
    for _, attrs in page.tags:
        for name in ("src", "href"):
            assert attrs.get(name) is None, f"external resource {attrs}"
    assert "://" not in source and "url(" not in source and "@import" not in source
    assert sum(EVIL in data for data in page.text) == 4  # <title>, <h1>, chart label, table cell


def test_csv_reads_back_equal_with_a_bom(tmp_path: Path) -> None:
    table = tables()["By campaign 按活动"]
    path = write_csv(tmp_path / "report.csv", table)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, encoding="utf-8-sig")
    pd.testing.assert_frame_equal(back, table)
