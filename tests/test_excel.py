"""to_excel and report.xlsx, read back with openpyxl as Excel would show them: no formula, typed cells."""

from __future__ import annotations

import datetime as dt
import re
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest

from jmlink_analytics import fetch_links, fetch_stats, to_excel, write_report
from jmlink_analytics.export import _excel

from .conftest import TODAY

HOSTILE = ['=HYPERLINK("http://evil.example","点我")', "+1", "-2", "@SUM(A1:A9)", "=1+1", "\t=cmd", "＝SUM(A1)",
           "http://example.com/a", "1e5", "0012", "TRUE"]
START = TODAY - dt.timedelta(days=27)


def sheet_xml(path):
    """Every worksheet's XML text (to look for formula elements, which openpyxl would hide)."""
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()
                if name.startswith("xl/worksheets/sheet")}


def no_formula_anywhere(path):
    for name, xml in sheet_xml(path).items():
        assert "<f>" not in xml and "<f " not in xml, f"{name} holds a formula"
    workbook = openpyxl.load_workbook(path)
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula: {cell.value!r}"
    return workbook


def mixed_frame():
    return pd.DataFrame({
        "name": pd.array([*HOSTILE, "微信春节活动", None], dtype="string"),
        "channel": pd.Categorical(["微信", "=QQ", *["抖音"] * 11]),
        "click_count": np.arange(13, dtype=np.int64) * 1000,
        "ctr": np.r_[np.linspace(0, 1, 11), np.nan, np.inf],
        "date": pd.date_range("2024-06-01", periods=13),
        "is_partial": [False] * 12 + [True],
    })


def test_hostile_text_is_never_a_formula_and_is_kept_exactly_with_a_quote_prefix(tmp_path):
    path = to_excel({"links": mixed_frame()}, tmp_path / "t.xlsx")
    sheet = no_formula_anywhere(path)["links"]
    cells = [sheet.cell(row=r, column=1) for r in range(2, 15)]
    assert [c.value for c in cells[:11]] == HOSTILE  # the value exactly: no apostrophe added
    assert [c.quotePrefix for c in cells[:11]] == [h[0] in "=+-@\t＝" for h in HOSTILE]  # Excel's own way
    assert cells[11].value == "微信春节活动" and not cells[11].quotePrefix and cells[12].value is None
    assert all(c.data_type == "s" for c in cells[:12])  # "1e5", "TRUE": still text
    assert sheet["B3"].value == "=QQ" and sheet["B3"].quotePrefix


def test_without_sanitize_text_is_still_never_a_formula(tmp_path):
    sheet = no_formula_anywhere(to_excel({"links": mixed_frame()}, tmp_path / "t.xlsx", sanitize=False))["links"]
    assert [sheet.cell(row=r, column=1).value for r in range(2, 13)] == HOSTILE
    assert not any(sheet.cell(row=r, column=1).quotePrefix for r in range(2, 13))


def test_cells_are_typed_header_frozen_and_filtered(tmp_path):
    sheet = openpyxl.load_workbook(to_excel(mixed_frame(), tmp_path / "t.xlsx"))["Sheet1"]
    assert [c.value for c in sheet[1]] == ["name", "channel", "click_count", "ctr", "date", "is_partial"]
    assert all(c.font.b for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:F14"
    counts = [sheet.cell(row=r, column=3) for r in range(2, 15)]
    assert [c.value for c in counts] == list(range(0, 13000, 1000))
    assert all(isinstance(c.value, int) and c.number_format == "#,##0" for c in counts)
    rate = sheet["D7"]
    assert rate.data_type == "n" and rate.value == pytest.approx(0.5) and rate.number_format == "0.0%"
    assert sheet["D13"].value is None and sheet["D14"].value is None  # NaN and inf: empty, never text
    day = sheet["E2"]
    assert day.is_date and day.value == dt.datetime(2024, 6, 1) and day.number_format == "yyyy-mm-dd"
    assert sheet["F14"].value is True and sheet["F14"].data_type == "b"


def test_columns_are_as_wide_as_their_chinese_text(tmp_path):
    frame = pd.DataFrame({"a": ["abcdefghijklmnop"], "b": ["微信公众号推广活动春节版本"], "c": [1]})
    sheet = openpyxl.load_workbook(to_excel(frame, tmp_path / "w.xlsx"))["Sheet1"]
    width = {k: v.width for k, v in sheet.column_dimensions.items()}
    assert width["B"] >= 2 * 13  # 13 wide characters take 26 columns
    assert 16 <= width["A"] < width["B"]
    assert _excel.display_width("微信ab") == 6


def test_sheets_in_order_and_a_named_index_is_written(tmp_path):
    grouped = mixed_frame().groupby("channel", observed=True)["click_count"].sum()
    path = to_excel({"by channel": grouped.to_frame(), "all": mixed_frame()}, tmp_path / "s.xlsx")
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["by channel", "all"]
    assert [c.value for c in workbook["by channel"][1]] == ["channel", "click_count"]


@pytest.mark.parametrize("name", ["", "a" * 32, "a/b", "x[1]", "'quoted'", "History"])
def test_bad_sheet_names_are_refused_before_writing(tmp_path, name):
    with pytest.raises(ValueError, match="sheet names must be"):
        to_excel({name: mixed_frame()}, tmp_path / "x.xlsx")
    with pytest.raises(ValueError, match="twice"):
        to_excel({"Daily": mixed_frame(), "daily": mixed_frame()}, tmp_path / "x.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_a_long_table_without_a_full_table_is_refused_not_cut(tmp_path, monkeypatch):
    monkeypatch.setattr(_excel, "EXCEL_MAX_ROWS", 10)
    with pytest.raises(ValueError, match="13 rows, more than Excel's 10"):
        to_excel({"daily": mixed_frame()}, tmp_path / "x.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_a_long_table_says_where_the_full_table_is(tmp_path, monkeypatch):
    monkeypatch.setattr(_excel, "EXCEL_MAX_ROWS", 10)
    path = to_excel({"daily": mixed_frame()}, tmp_path / "x.xlsx", full_tables={"daily": "daily.csv"})
    sheet = openpyxl.load_workbook(path)["daily"]
    assert "first 8 of 13 rows" in sheet["A1"].value and "daily.csv" in sheet["A1"].value
    assert [c.value for c in sheet[2]][:2] == ["name", "channel"]
    assert sheet.freeze_panes == "A3" and sheet.max_row == 10


@pytest.mark.slow
def test_a_table_past_excels_real_row_limit(tmp_path):
    n = _excel.EXCEL_MAX_ROWS + 5
    frame = pd.DataFrame({"n": np.arange(n, dtype=np.int64), "t": pd.Categorical(["x"] * n)})
    path = to_excel({"daily": frame}, tmp_path / "big.xlsx", full_tables={"daily": "daily.parquet"})
    xml = next(iter(sheet_xml(path).values()))
    assert re.search(r'<dimension ref="A1:B1048576"/>', xml)
    assert "<is><t>" in xml  # constant-memory mode: inline strings, no shared-string table in memory
    sheet = openpyxl.load_workbook(path, read_only=True)["daily"]
    first = [[c.value for c in row] for row in sheet.iter_rows(max_row=3)]
    assert f"first 1,048,574 of {n:,} rows" in first[0][0] and "daily.parquet" in first[0][0]
    assert first[1] == ["n", "t"] and first[2] == [0, "x"]


def test_large_sheets_use_constant_memory_mode(tmp_path, monkeypatch):
    monkeypatch.setattr(_excel, "CONSTANT_MEMORY_ROWS", 5)
    path = to_excel({"a": mixed_frame()}, tmp_path / "c.xlsx")
    assert "<is><t>" in sheet_xml(path)["xl/worksheets/sheet1.xml"]
    sheet = no_formula_anywhere(path)["a"]
    assert sheet["A13"].value == "微信春节活动" and sheet["C14"].value == 12000


# -- report.xlsx --------------------------------------------------------------------------------
#: Names as users give them (issue 20): each starts like a formula and must stay exactly itself.
NAMES = ["=新人礼包", "@小红书达人合作", "-50%限时折扣", "+8613800000000"]


@pytest.fixture(scope="module")
def frames(sandbox):
    """The sandbox's stats and links, the first four links named like formulas (two of them have anomalies)."""
    with sandbox.client() as client:
        links = fetch_links(client)
        stats = fetch_stats(client, start=START - dt.timedelta(days=28), end=TODAY, platform=["ios", "android"],
                            progress=False)  # the 28 days before: the period comparison's previous window
    links["name"] = links["name"].astype(object)
    for i, name in enumerate(NAMES):
        links.loc[i, "name"] = name
    return stats, links


def in_period(stats):
    """The rows of the report's period (the fixture also holds the 28 days before it)."""
    return stats[stats["date"] >= pd.Timestamp(START)]


def headers(sheet, row=1):
    return [c.value for c in sheet[row]]


def column(sheet, label, row=1):
    """The cells under the header ``label`` (header in ``row``)."""
    at = headers(sheet, row).index(label) + 1
    return [r[0] for r in sheet.iter_rows(min_row=row + 1, min_col=at, max_col=at)]


@pytest.fixture(scope="module")
def report_book(frames, tmp_path_factory):
    stats, links = frames
    out = tmp_path_factory.mktemp("report")
    written = write_report(stats, links, out, formats=("csv", "xlsx"), period=(START, TODAY))
    assert written["report.xlsx"] == out / "report.xlsx"
    return no_formula_anywhere(out / "report.xlsx"), out


def test_report_xlsx_keeps_every_name_exactly_with_a_quote_prefix(report_book):
    workbook, _ = report_book
    for title in ("daily", "by link", "period comparison", "anomalies"):
        names = column(workbook[title], "Name")
        shown = {c.value for c in names}
        assert len(set(NAMES) & shown) == (2 if title == "anomalies" else 4), title
        assert not any(isinstance(v, str) and v.startswith("'") for v in shown), title  # no apostrophe in the data
        assert all(c.quotePrefix == (c.value in NAMES) for c in names if c.value is not None), title
    assert set(NAMES) <= {c.value for c in column(workbook["links"], "Name")}


def test_report_xlsx_headers_are_the_pages_labels_with_the_key_joined_to_name_and_channel(report_book):
    workbook, _ = report_book
    assert workbook.sheetnames == ["daily", "by link", "by channel", "by platform", "period comparison",
                                   "anomalies", "links"]
    assert headers(workbook["daily"]) == [
        "Date", "Link key", "Name", "Channel", "Exposures", "Exposures iOS", "Exposures Android", "Clicks",
        "Clicks iOS", "Clicks Android", "Opens", "Opens iOS", "Opens Android", "Installs", "Installs iOS",
        "Installs Android", "CTR", "Open rate", "Install rate", "Partial day"]
    comparison = headers(workbook["period comparison"])
    assert comparison[:7] == ["Link key", "Name", "Channel", "Exposures previous", "Exposures current",
                              "Exposures difference", "Exposures change (%)"]
    assert "Install rate change (pp)" in comparison and "exposure_count" not in comparison
    assert headers(workbook["anomalies"])[:3] == ["Link key", "Name", "Channel"]
    assert {"Expected clicks", "Clicks", "Change (%)", "Score"} <= set(headers(workbook["anomalies"]))
    assert headers(workbook["by link"])[:4] == ["Link key", "Name", "Channel", "Exposures"]


def test_report_xlsx_daily_sheet_is_one_row_per_day_and_link_with_the_platforms_side_by_side(frames, report_book):
    stats = in_period(frames[0])
    daily = pd.read_excel(report_book[1] / "report.xlsx", sheet_name="daily", engine="openpyxl")
    assert len(daily) == len(stats.drop_duplicates(["link_key", "date"]))  # half the tidy table's rows
    assert daily["Clicks"].sum() == stats["click_count"].sum()
    for platform, label in (("ios", "iOS"), ("android", "Android")):
        assert daily[f"Installs {label}"].sum() == stats.loc[stats["platform"] == platform, "install_count"].sum()
    assert (daily["Clicks"] == daily["Clicks iOS"] + daily["Clicks Android"]).all()
    assert pd.api.types.is_integer_dtype(daily["Clicks"]) and pd.api.types.is_datetime64_any_dtype(daily["Date"])


def test_report_xlsx_numbers_are_formatted_as_on_the_page(report_book):
    workbook, _ = report_book
    sheet = workbook["period comparison"]
    counts = [c for c in column(sheet, "Clicks current") if c.value is not None]
    assert counts and all(isinstance(c.value, int) and c.number_format == "#,##0" for c in counts)
    changes = [c for c in column(sheet, "Clicks change (%)") if c.value is not None]
    assert {c.number_format for c in changes} == {"+#,##0.0%;-#,##0.0%;0.0%"}
    points = [c for c in column(sheet, "CTR change (pp)") if c.value is not None]
    assert points and {c.number_format for c in points} == {'+0.0" pp";-0.0" pp";0.0" pp"'}
    assert all(c.data_type == "n" for c in points)
    rates = [c for c in column(workbook["daily"], "CTR") if c.value is not None]
    assert rates and {c.number_format for c in rates} == {"0.0%"} and all(c.data_type == "n" for c in rates)
    anomalies = workbook["anomalies"]
    actual = [c for c in column(anomalies, "Clicks") if c.value is not None]
    assert actual and all(isinstance(c.value, int) and c.number_format == "#,##0" for c in actual)  # never 2,464.00
    ratio = [c for c in column(anomalies, "Change (%)") if c.value is not None]
    assert ratio and {c.number_format for c in ratio} == {"+#,##0.0%;-#,##0.0%;0.0%"}  # +531.9%, never 5.32
    assert {c.number_format for c in column(anomalies, "Score") if c.value is not None} == {"+0.0;-0.0;0.0"}
    assert all(c.is_date for c in column(anomalies, "From") if c.value is not None)


def test_report_xlsx_prints_landscape_one_page_wide_with_the_header_repeated_and_a_title(report_book):
    workbook, _ = report_book
    for sheet in workbook.worksheets:
        assert sheet.page_setup.orientation == "landscape", sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
        assert sheet.page_setup.fitToWidth in (None, 1) and sheet.page_setup.fitToHeight == 0  # None: the default, 1
        assert sheet.print_title_rows.replace("$", "") == "1:1", sheet.title
        assert f"JMLink report {START:%Y-%m-%d} to {TODAY:%Y-%m-%d}" in sheet.oddHeader.left.text
        assert sheet.title in sheet.oddHeader.left.text and "&P" in sheet.oddFooter.left.text


def test_report_xlsx_daily_sheet_per_channel_for_many_link_days_points_to_the_full_table(frames, tmp_path,
                                                                                      monkeypatch):
    from jmlink_analytics.report import _workbook

    stats, links = frames
    monkeypatch.setattr(_workbook, "DAILY_BY_LINK_ROWS", 100)
    written = write_report(stats, links, tmp_path, formats=("xlsx",), period=(START, TODAY))
    assert sorted(written) == ["daily.csv", "report.xlsx"]  # the full table, beside the workbook
    sheet = no_formula_anywhere(tmp_path / "report.xlsx")["daily"]
    assert "One row per day and channel" in sheet["A1"].value and "daily.csv" in sheet["A1"].value
    assert headers(sheet, 2)[:4] == ["Date", "Channel", "Links", "Exposures"]
    assert sheet.print_title_rows.replace("$", "") == "2:2" and sheet.freeze_panes == "A3"
    table = pd.read_excel(tmp_path / "report.xlsx", sheet_name="daily", header=1, engine="openpyxl")
    assert table["Clicks"].sum() == in_period(stats)["click_count"].sum()
    assert len(table) == len(table[["Date", "Channel"]].drop_duplicates()) < len(in_period(stats)) // 2
    assert len(pd.read_csv(tmp_path / "daily.csv", encoding="utf-8-sig")) == len(in_period(stats))


def test_report_xlsx_past_the_row_limit_writes_the_full_daily_table_beside_it(frames, tmp_path, monkeypatch):
    stats, links = frames
    monkeypatch.setattr(_excel, "EXCEL_MAX_ROWS", 100)
    written = write_report(stats, links, tmp_path, formats=("xlsx", "png"), period=(START, TODAY))
    assert "daily.csv" in written and "report.xlsx" in written
    note = openpyxl.load_workbook(tmp_path / "report.xlsx")["daily"]["A1"].value
    link_days = len(in_period(stats).drop_duplicates(["link_key", "date"]))
    assert f"first 98 of {link_days:,} rows" in note and "daily.csv" in note
    assert len(pd.read_csv(tmp_path / "daily.csv", encoding="utf-8-sig")) == len(in_period(stats))


def test_constant_memory_mode_writes_the_same_cells_as_the_in_memory_mode(tmp_path, monkeypatch):
    rows = 300
    texts = [*HOSTILE, " padded ", "tab\tinside", "bell\x07", "a & <b>", "微信" * 20, ""]
    frame = pd.DataFrame({
        "text": [texts[i % len(texts)] if i % 17 else None for i in range(rows)],
        "count": pd.array([i * 7 if i % 13 else None for i in range(rows)], dtype="Int64"),
        "ctr": [i / 7 if i % 11 else float("nan") for i in range(rows)],
        "day": pd.date_range("2024-01-01", periods=rows, freq="D"),
        "moment": pd.date_range("2024-01-01 08:30", periods=rows, freq="h"),
        "flag": [bool(i % 2) for i in range(rows)],
        "mixed": pd.Series([[1, "x", dt.date(2024, 5, 1), dt.datetime(2024, 5, 1, 9), True, None, "=x"][i % 7]
                            for i in range(rows)], dtype=object),
    })
    monkeypatch.setattr(_excel, "CONSTANT_MEMORY_ROWS", 10)
    streamed = to_excel({"t": frame}, tmp_path / "streamed.xlsx")
    assert "<is><t" in sheet_xml(streamed)["xl/worksheets/sheet1.xml"]
    monkeypatch.setattr(_excel, "CONSTANT_MEMORY_ROWS", 10_000)
    in_memory = to_excel({"t": frame}, tmp_path / "in_memory.xlsx")
    no_formula_anywhere(streamed)
    a, b = openpyxl.load_workbook(streamed)["t"], openpyxl.load_workbook(in_memory)["t"]
    assert (a.max_row, a.max_column) == (b.max_row, b.max_column) == (rows + 1, 7)
    for row_a, row_b in zip(a.iter_rows(), b.iter_rows(), strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            assert (x.value, x.data_type, x.number_format, x.quotePrefix) == \
                (y.value, y.data_type, y.number_format, y.quotePrefix), x.coordinate
    assert a.freeze_panes == b.freeze_panes and a.auto_filter.ref == b.auto_filter.ref
    assert a["A2"].value is None and a["A3"].value == HOSTILE[1] and a["A3"].quotePrefix


def test_the_writer_uses_only_xlsxwriters_public_api():
    import ast
    import inspect

    from jmlink_analytics.export import _xlsx_rows

    for module in (_excel, _xlsx_rows):
        tree = ast.parse(inspect.getsource(module))
        private = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                   and node.attr.startswith("_") and not node.attr.startswith("__")
                   and isinstance(node.value, ast.Name) and node.value.id in ("sheet", "workbook", "fmt", "worksheet")}
        assert not private, f"{module.__name__} uses XlsxWriter's private {sorted(private)}"


# -- files: a full disk, a cell too long ---------------------------------------------------------
@pytest.mark.parametrize("how", ["tmpfs", "rlimit"])
def test_a_full_disk_names_the_users_file_and_leaves_no_temporary_file(tmp_path, how):
    import errno

    from .test_csv import write_until_the_disk_is_full

    target, error, left = write_until_the_disk_is_full("xlsx", tmp_path / "disk", how)
    assert error is not None, "the write was expected to fail"
    assert error["errno"] == (errno.ENOSPC if how == "tmpfs" else errno.EFBIG)
    assert str(target) in error["message"] and error["filename"] == str(target)
    assert left == []  # neither our temporary file nor XlsxWriter's row and part files


def test_a_cell_past_excels_limit_is_cut_with_a_note_and_a_warning(tmp_path, caplog):
    long = "长" * 40_000
    frame = pd.DataFrame({"name": [long, "short", long], "n": [1, 2, 3]})
    with caplog.at_level("WARNING", logger="jmlink_analytics"):
        sheet = openpyxl.load_workbook(to_excel({"links": frame}, tmp_path / "a.xlsx"))["links"]
    cut = sheet["A2"].value
    assert len(cut) == 32_767 and cut.startswith("长" * 32_000)
    assert cut.endswith("[…cut: 40,000 characters, Excel holds 32,767 per cell]")
    assert sheet["A3"].value == "short" and sheet["A4"].value == cut
    assert "2 cell(s) of column 'name' of sheet 'links'" in caplog.text
