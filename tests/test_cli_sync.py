"""The command line's file formats (by --out suffix or --format) and `jmlink-analytics sync`, end to end."""

from __future__ import annotations

import datetime as dt
import sys

import openpyxl
import pandas as pd
import pytest

from jmlink_analytics import cli, fetch_stats, read_dataset
from jmlink_analytics._dates import china_today


@pytest.fixture
def use_app(monkeypatch, tmp_path):
    """Point the JMLINK_* variables at a sandbox; the user cache goes under tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))

    def use(sandbox):
        monkeypatch.setenv("JMLINK_APP_KEY", sandbox.app_key)
        monkeypatch.setenv("JMLINK_MASTER_SECRET", sandbox.master_secret)
        monkeypatch.setenv("JMLINK_BASE_URL", sandbox.base_url)
        return sandbox

    return use


def stat_requests(sandbox):
    return [r for r in sandbox.requests if r.path.endswith("/stat")]


# -- links / stats: the format ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["links.txt", "links.xls", "links", "links.csv.bak"])
def test_an_unknown_suffix_is_a_usage_error_before_any_request(sandbox, use_app, tmp_path, capsys, name):
    use_app(sandbox)
    sandbox.clear_requests()
    assert cli.main(["links", "--no-cache", "--out", str(tmp_path / name)]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "must end in one of .csv, .json, .parquet, .pq, .xlsx" in err
    assert sandbox.requests == [] and not (tmp_path / name).exists()


def test_a_suffix_and_a_format_that_disagree_or_binary_on_stdout_are_usage_errors(sandbox, use_app, tmp_path,
                                                                                  capsys):
    use_app(sandbox)
    sandbox.clear_requests()
    assert cli.main(["links", "--no-cache", "--out", str(tmp_path / "a.csv"), "--format", "xlsx"]) == cli.EXIT_USAGE
    assert "names a csv file but --format is xlsx" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:  # argparse's own check: parquet to stdout
        cli.main(["links", "--no-cache", "--format", "parquet"])
    assert stop.value.code == cli.EXIT_USAGE
    assert cli.main(["links", "--no-cache", "--format", "xlsx"]) == cli.EXIT_USAGE
    assert "xlsx is a binary format, not for stdout" in capsys.readouterr().err
    assert sandbox.requests == []


def test_stats_to_xlsx_by_suffix_and_csv_under_any_name_with_format(sandbox, use_app, tmp_path, capsys):
    use_app(sandbox)
    args = ["stats", "--no-cache", "--no-progress", "--start", "2024-06-20", "--end", "2024-06-30"]
    assert cli.main([*args, "--out", str(tmp_path / "s.xlsx")]) == 0
    assert f"as XLSX to {tmp_path / 's.xlsx'}" in capsys.readouterr().out
    sheet = openpyxl.load_workbook(tmp_path / "s.xlsx")["stats"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 12 * 11
    header = [c.value for c in sheet[1]]
    assert isinstance(rows[0][header.index("date")], dt.datetime) and isinstance(rows[0][header.index("click_count")],
                                                                                 int)
    assert cli.main([*args, "--out", str(tmp_path / "s.txt"), "--format", "csv"]) == 0
    assert (tmp_path / "s.txt").read_bytes().startswith(b"\xef\xbb\xbflink_key,name,channel,platform,date,")


def test_the_default_report_has_the_workbook(sandbox, use_app, tmp_path, capsys):
    use_app(sandbox)
    out = tmp_path / "r"
    assert cli.main(["report", "--no-cache", "--no-progress", "--start", "2024-06-17", "--end", "2024-06-30",
                     "--out", str(out)]) == 0
    assert (out / "report.xlsx").is_file() and (out / "daily.csv").is_file() and (out / "index.html").is_file()
    assert "report.xlsx" in (out / "index.html").read_text(encoding="utf-8")
    assert openpyxl.load_workbook(out / "report.xlsx").sheetnames[0] == "daily"


# -- sync -----------------------------------------------------------------------------------------
def test_sync_twice_asks_only_for_the_partial_days_the_second_time(make_sandbox, use_app, tmp_path, capsys):
    today = china_today()
    sandbox = use_app(make_sandbox(links=6, days=20, today=today))
    root = tmp_path / "ds"
    argv = ["sync", "--out", str(root), "--days", "10", "--no-cache", "--no-progress"]
    assert cli.main(argv) == 0
    first_out = capsys.readouterr().out
    first = stat_requests(sandbox)
    start = today - dt.timedelta(days=9)
    assert len(first) == 6 * 2 and {(r.query["start_date"], r.query["end_date"]) for r in first} == {
        (f"{start:%Y-%m-%d}", f"{today:%Y-%m-%d}")}
    assert "asked the API for 120 link-days" in first_out and "rewrote 10 day folder(s)" in first_out
    keys = sorted(link["link_key"] for link in sandbox.app.links)
    with sandbox.client() as client:
        expected = fetch_stats(client, keys, start=start, end=today, platform=["ios", "android"], progress=False)
    held = read_dataset(root)
    pd.testing.assert_frame_equal(held, expected)
    files = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.glob("dt=*/part-0.parquet")}

    sandbox.clear_requests()
    assert cli.main(argv) == 0
    second_out = capsys.readouterr().out
    second = stat_requests(sandbox)
    yesterday = today - dt.timedelta(days=1)
    assert len(second) == 6 * 2
    assert {(r.query["start_date"], r.query["end_date"]) for r in second} == {
        (f"{yesterday:%Y-%m-%d}", f"{today:%Y-%m-%d}")}
    assert "asked the API for 24 link-days (0 not held, 24 held as partial)" in second_out
    assert "rewrote no day folder" in second_out
    pd.testing.assert_frame_equal(read_dataset(root), held)
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.glob("dt=*/part-0.parquet")} == files


def test_sync_of_a_new_link_fetches_its_whole_range_and_rewrites_those_days(make_sandbox, use_app, tmp_path, capsys):
    today = china_today()
    sandbox = use_app(make_sandbox(links=4, days=20, today=today))
    root = tmp_path / "ds"
    argv = ["sync", "--out", str(root), "--days", "5", "--no-cache", "--no-progress", "--platform", "all"]
    assert cli.main(argv) == 0
    new_key = sandbox.add_links(1)[0]["link_key"]
    sandbox.clear_requests()
    assert cli.main(argv) == 0
    asked = {(r.path.split("/")[-2], r.query["start_date"]) for r in stat_requests(sandbox)}
    start = today - dt.timedelta(days=4)
    assert (new_key, f"{start:%Y-%m-%d}") in asked and len(asked) == 5
    held = read_dataset(root)
    assert len(held) == 5 * 5 and not held.duplicated(["link_key", "platform", "date"]).any()
    assert new_key in set(held["link_key"].astype(str))
    assert "rewrote 5 day folder(s)" in capsys.readouterr().out


def test_sync_with_app_writes_under_app_name_and_works_with_the_sandbox(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    argv = ["sync", "--sandbox", "--out", str(tmp_path / "ds"), "--app", "shop", "--days", "3", "--no-progress"]
    assert cli.main(argv) == 0
    first = read_dataset(tmp_path / "ds" / "app=shop")
    assert len(first) == 120 * 2 * 3 and (tmp_path / "ds" / "app=shop" / f"dt={china_today():%Y-%m-%d}").is_dir()
    capsys.readouterr()
    assert cli.main(argv) == 0
    assert "asked the API for 480 link-days (0 not held, 480 held as partial)" in capsys.readouterr().out
    pd.testing.assert_frame_equal(read_dataset(tmp_path / "ds" / "app=shop"), first)
    with pytest.raises(ValueError, match="app=shop"):
        read_dataset(tmp_path / "ds")


@pytest.mark.parametrize("name", ["../up", "a/b", ".", "x" * 65, "空格 名"])
def test_a_bad_app_name_is_a_usage_error(tmp_path, name):
    with pytest.raises(SystemExit) as stop:
        cli.main(["sync", "--sandbox", "--out", str(tmp_path), "--app", name])
    assert stop.value.code == cli.EXIT_USAGE
    assert list(tmp_path.iterdir()) == []


def test_sync_without_pyarrow_names_the_extra_before_any_request(sandbox, use_app, tmp_path, capsys, monkeypatch):
    use_app(sandbox)
    sandbox.clear_requests()
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert cli.main(["sync", "--out", str(tmp_path / "ds"), "--no-cache"]) == cli.EXIT_UNEXPECTED
    assert "pip install 'jmlink-analytics[parquet]'" in capsys.readouterr().err
    assert sandbox.requests == [] and not (tmp_path / "ds").exists()
