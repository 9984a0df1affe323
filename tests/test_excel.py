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


def test_hostile_text_is_never_a_formula_and_is_kept_as_text(tmp_path):
    path = to_excel({"links": mixed_frame()}, tmp_path / "t.xlsx")
    sheet = no_formula_anywhere(path)["links"]
    names = [sheet.cell(row=r, column=1).value for r in range(2, 15)]
    assert names[:11] == ["'" + h if h[0] in "=+-@\t＝" else h for h in HOSTILE]
    assert names[11] == "微信春节活动" and names[12] is None
    assert all(sheet.cell(row=r, column=1).data_type == "s" for r in range(2, 14))  # "1e5", "TRUE": still text
    assert sheet["B3"].value == "'=QQ"


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
    assert rate.data_type == "n" and rate.value == pytest.approx(0.5) and rate.number_format == "0.00%"
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
@pytest.fixture(scope="module")
def frames(sandbox):
    with sandbox.client() as client:
        links = fetch_links(client)
        stats = fetch_stats(client, start=START, end=TODAY, platform=["ios", "android"], progress=False)
    links["name"] = links["name"].astype(object)
    for i, name in enumerate(HOSTILE[:4]):
        links.loc[i, "name"] = name
    return stats, links


def test_report_xlsx_has_a_sheet_per_table_typed_and_without_formulas(frames, tmp_path):
    stats, links = frames
    written = write_report(stats, links, tmp_path, formats=("csv", "xlsx"))
    assert written["report.xlsx"] == tmp_path / "report.xlsx"
    workbook = no_formula_anywhere(tmp_path / "report.xlsx")
    assert workbook.sheetnames == ["daily", "by link", "by channel", "by platform", "period comparison",
                                   "anomalies", "links"]
    daily = pd.read_excel(tmp_path / "report.xlsx", sheet_name="daily", engine="openpyxl")
    assert len(daily) == len(stats)
    assert daily["click_count"].sum() == stats["click_count"].sum()
    assert pd.api.types.is_integer_dtype(daily["click_count"]) and pd.api.types.is_datetime64_any_dtype(daily["date"])
    assert {"'" + name for name in HOSTILE[:4]} <= set(daily["name"])
    sheet = workbook["daily"]
    header = [c.value for c in sheet[1]]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    rates = [row[0] for row in sheet.iter_rows(min_row=2, min_col=header.index("ctr") + 1,
                                              max_col=header.index("ctr") + 1) if row[0].value is not None]
    assert rates and all(c.number_format == "0.00%" and c.data_type == "n" for c in rates)
    comparison = workbook["period comparison"]
    header = [c.value for c in comparison[1]]
    changes = [row[0] for row in comparison.iter_rows(min_row=2, min_col=header.index("click_count_rel_change") + 1,
                                                      max_col=header.index("click_count_rel_change") + 1)]
    assert {c.number_format for c in changes if c.value is not None} == {"0.00%"}
    points = [row[0] for row in comparison.iter_rows(min_row=2, min_col=header.index("ctr_change_pp") + 1,
                                                     max_col=header.index("ctr_change_pp") + 1)]
    assert points and {c.number_format for c in points if c.value is not None} == {'+0.00" pp";-0.00" pp";0.00" pp"'}
    assert all(c.data_type == "n" for c in points if c.value is not None)
    assert comparison.cell(row=2, column=header.index("click_count_current") + 1).number_format == "#,##0"
    channels = [c.value for c in workbook["by channel"]["A"][1:]]
    assert set(channels) == set(links["channel"].dropna().astype(str)) | ({"(none)"} & set(channels))


def test_report_xlsx_past_the_row_limit_writes_the_full_daily_table_beside_it(frames, tmp_path, monkeypatch):
    stats, links = frames
    monkeypatch.setattr(_excel, "EXCEL_MAX_ROWS", 100)
    monkeypatch.setattr("jmlink_analytics.report._workbook.EXCEL_MAX_ROWS", 100)
    written = write_report(stats, links, tmp_path, formats=("xlsx", "png"))
    assert "daily.csv" in written and "report.xlsx" in written
    note = openpyxl.load_workbook(tmp_path / "report.xlsx")["daily"]["A1"].value
    assert f"first 98 of {len(stats):,} rows" in note and "daily.csv" in note
    assert len(pd.read_csv(tmp_path / "daily.csv", encoding="utf-8-sig")) == len(stats)


def test_streamed_rows_read_back_exactly_as_xlsxwriter_writes_them(tmp_path, monkeypatch):
    from jmlink_analytics.export import _xlsx_rows

    rows = 300
    texts = [*HOSTILE, " padded ", "tab\tinside", "bell\x07", "_x0041_ literal", "a & <b>", "微信" * 20, ""]
    frame = pd.DataFrame({
        "text": [texts[i % len(texts)] if i % 17 else None for i in range(rows)],
        "count": pd.array([i * 7 if i % 13 else None for i in range(rows)], dtype="Int64"),
        "ctr": [i / 7 if i % 11 else float("nan") for i in range(rows)],
        "day": pd.date_range("2024-01-01", periods=rows, freq="D"),
        "moment": pd.date_range("2024-01-01 08:30", periods=rows, freq="h"),
        "flag": [bool(i % 2) for i in range(rows)],
        "mixed": pd.Series([[1, "x", dt.date(2024, 5, 1), dt.datetime(2024, 5, 1, 9), True, None, 2.5][i % 7]
                            for i in range(rows)], dtype=object),
    })
    monkeypatch.setattr(_excel, "CONSTANT_MEMORY_ROWS", 10)
    fast = to_excel({"t": frame}, tmp_path / "fast.xlsx")
    monkeypatch.setattr(_xlsx_rows, "supported", lambda sheet: False)
    slow = to_excel({"t": frame}, tmp_path / "slow.xlsx")
    no_formula_anywhere(fast)
    a, b = openpyxl.load_workbook(fast)["t"], openpyxl.load_workbook(slow)["t"]
    assert (a.max_row, a.max_column) == (b.max_row, b.max_column) == (rows + 1, 7)
    for row_a, row_b in zip(a.iter_rows(), b.iter_rows(), strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            assert (x.value, x.data_type) == (y.value, y.data_type), x.coordinate
            if x.value is not None:  # streamed empty cells carry their column's format; XlsxWriter leaves them out
                assert x.number_format == y.number_format, x.coordinate
    assert a.freeze_panes == b.freeze_panes and a.auto_filter.ref == b.auto_filter.ref
