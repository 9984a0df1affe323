"""The dataset records its shape once (layout, platform mode, version) and refuses a write that would bend it.

And the links table it keeps beside the stats, joinable in DuckDB without disturbing the stats globs.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pytest

from jmlink_analytics import cli, fetch_links, fetch_stats, read_dataset, write_dataset
from jmlink_analytics._dates import china_today
from jmlink_analytics.errors import DatasetShapeError
from jmlink_analytics.export._links_table import read_links_table

from .conftest import TODAY

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture
def use_app(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))

    def use(sandbox):
        monkeypatch.setenv("JMLINK_APP_KEY", sandbox.app_key)
        monkeypatch.setenv("JMLINK_MASTER_SECRET", sandbox.master_secret)
        monkeypatch.setenv("JMLINK_BASE_URL", sandbox.base_url)
        sandbox.clear_requests()
        return sandbox

    return use


@pytest.fixture(scope="module")
def split_stats(sandbox):
    with sandbox.client() as client:
        return fetch_stats(client, start=TODAY - dt.timedelta(days=4), end=TODAY, platform=["ios", "android"],
                           progress=False)


@pytest.fixture(scope="module")
def all_stats(sandbox):
    with sandbox.client() as client:
        return fetch_stats(client, start=TODAY - dt.timedelta(days=4), end=TODAY, platform="all", progress=False)


def sync(root, *extra):
    return cli.main(["sync", "--out", str(root), "--no-cache", "--no-progress", "--days", "3", *extra])


# -- platform modes ---------------------------------------------------------------------------------
def test_sync_all_into_a_split_dataset_is_a_usage_error_naming_both_before_any_request(
        make_sandbox, use_app, tmp_path, capsys):
    sandbox = use_app(make_sandbox(links=3, days=10, today=china_today()))
    root = tmp_path / "ds"
    assert sync(root, "--platform", "ios") == 0
    assert sync(root, "--platform", "android") == 0  # ios beside android: one mode, "split"
    capsys.readouterr()
    before = sorted(p.stat().st_mtime_ns for p in root.glob("dt=*/*.parquet"))
    sandbox.clear_requests()
    assert sync(root, "--platform", "all") == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "'ios' and 'android' rows" in err and "platform 'all' rows" in err and str(root) in err
    assert sandbox.requests == []
    assert sorted(p.stat().st_mtime_ns for p in root.glob("dt=*/*.parquet")) == before
    held = read_dataset(root)
    assert set(held["platform"].astype(str)) == {"ios", "android"} and len(held) == 3 * 2 * 3


def test_sync_split_into_an_all_dataset_is_refused_too(make_sandbox, use_app, tmp_path, capsys):
    sandbox = use_app(make_sandbox(links=3, days=10, today=china_today()))
    assert sync(tmp_path / "ds", "--platform", "all") == 0
    sandbox.clear_requests()
    capsys.readouterr()
    assert sync(tmp_path / "ds", "--platform", "split") == cli.EXIT_USAGE
    assert "holds dt=YYYY-MM-DD folders without apps, platform 'all' rows" in capsys.readouterr().err
    assert sandbox.requests == []


def test_write_dataset_refuses_mixed_modes_in_one_frame_and_across_writes(split_stats, all_stats, tmp_path):
    with pytest.raises(DatasetShapeError, match="mix platform 'all' with android, ios"):
        write_dataset(pd.concat([split_stats, all_stats], ignore_index=True), tmp_path / "a")
    assert not (tmp_path / "a").exists()
    write_dataset(split_stats, tmp_path / "b")
    with pytest.raises(DatasetShapeError, match=r"holds .*'ios' and 'android' rows; the write would add .*'all'"):
        write_dataset(all_stats, tmp_path / "b")
    pd.testing.assert_frame_equal(read_dataset(tmp_path / "b"), split_stats)


def test_a_dataset_written_before_shapes_were_recorded_is_read_from_its_files(split_stats, all_stats, tmp_path):
    write_dataset(all_stats, tmp_path)
    shutil.rmtree(tmp_path / "_jmlink")  # as an older version left it
    with pytest.raises(DatasetShapeError, match="platform 'all' rows"):
        write_dataset(split_stats, tmp_path)
    write_dataset(all_stats, tmp_path)
    assert [p.name for p in (tmp_path / "_jmlink").iterdir() if p.name != "lock"] == [
        "version=1,layout=days,platforms=all,partition=dt"]


def test_a_newer_version_or_two_shapes_are_refused(split_stats, tmp_path):
    write_dataset(split_stats, tmp_path)
    (tmp_path / "_jmlink" / "version=1,layout=days,platforms=split,partition=dt").rename(
        tmp_path / "_jmlink" / "version=2,layout=days,platforms=split,partition=dt")
    with pytest.raises(DatasetShapeError, match="version 2, written by a newer jmlink-analytics"):
        write_dataset(split_stats, tmp_path)
    (tmp_path / "_jmlink" / "version=1,layout=days,platforms=all,partition=dt").touch()
    with pytest.raises(DatasetShapeError, match="records 2 shapes"):
        write_dataset(split_stats, tmp_path)


# -- layouts ----------------------------------------------------------------------------------------
def test_sync_with_app_into_a_root_of_day_folders_is_refused_before_any_request(make_sandbox, use_app, tmp_path,
                                                                               capsys):
    sandbox = use_app(make_sandbox(links=3, days=10, today=china_today()))
    root = tmp_path / "ds"
    assert sync(root) == 0
    sandbox.clear_requests()
    capsys.readouterr()
    assert sync(root, "--app", "shop") == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "holds dt=YYYY-MM-DD folders without apps" in err and "app=NAME/dt=YYYY-MM-DD folders" in err
    assert sandbox.requests == [] and not (root / "app=shop").exists()


def test_sync_without_app_into_a_root_of_apps_is_refused_before_any_request(make_sandbox, use_app, tmp_path, capsys):
    sandbox = use_app(make_sandbox(links=3, days=10, today=china_today()))
    root = tmp_path / "ds"
    assert sync(root, "--app", "shop") == 0
    assert sync(root, "--app", "games") == 0
    sandbox.clear_requests()
    capsys.readouterr()
    assert sync(root) == cli.EXIT_USAGE
    assert "holds app=NAME/dt=YYYY-MM-DD folders" in capsys.readouterr().err
    assert sandbox.requests == [] and [p.name for p in root.iterdir() if p.name.startswith("dt=")] == []
    glob = (root / "app=*" / "dt=*" / "*.parquet").as_posix()
    apps = duckdb.sql(f"SELECT DISTINCT app FROM read_parquet('{glob}', hive_partitioning = true) ORDER BY app")
    assert apps.fetchall() == [("games",), ("shop",)]


def test_write_dataset_into_an_app_folder_beside_day_folders_is_refused(split_stats, tmp_path):
    write_dataset(split_stats, tmp_path)
    with pytest.raises(DatasetShapeError, match="would add app=NAME/dt=YYYY-MM-DD folders"):
        write_dataset(split_stats, tmp_path / "app=a")
    with pytest.raises(DatasetShapeError, match="would add app=NAME"):
        write_dataset(split_stats, tmp_path, app="a")
    assert not (tmp_path / "app=a").exists()


@pytest.mark.parametrize("name", ["001", "1e3", "12", "1.5", "inf", "NaN", "true", "null", "-x", "_x", "a.b",
                                  "2024-06-01", "a b", "../up"])
def test_app_names_engines_read_as_numbers_or_unsafe_folders_are_refused(tmp_path, capsys, name, split_stats):
    with pytest.raises(SystemExit) as stop:
        cli.main(["sync", "--sandbox", "--out", str(tmp_path / "ds"), f"--app={name}"])
    assert stop.value.code == cli.EXIT_USAGE
    assert "starting with a letter and not a number" in capsys.readouterr().err
    with pytest.raises(ValueError, match="app must be a name"):
        write_dataset(split_stats, tmp_path / "ds", app=name)
    assert list(tmp_path.iterdir()) == []


def test_a_polars_and_spark_safe_app_name_reads_back_as_text(split_stats, tmp_path):
    write_dataset(split_stats, tmp_path, app="shop_cn")
    write_dataset(split_stats, tmp_path / "app=x1")
    frame = pl.scan_parquet(tmp_path, hive_partitioning=True).select("app").unique().sort("app").collect()
    assert frame["app"].to_list() == ["shop_cn", "x1"] and frame["app"].dtype == pl.String
    pd.testing.assert_frame_equal(read_dataset(tmp_path, app="x1"), split_stats)


# -- the links table ------------------------------------------------------------------------------------
def readme_duckdb_queries() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## From a notebook to a warehouse"):]
    section = section[section.index("**DuckDB**"):section.index("**Spark SQL**")]
    return re.findall(r"```sql\n(.*?)```", section, re.S)


def test_sync_keeps_the_links_table_and_the_readme_query_joins_it(make_sandbox, use_app, tmp_path, capsys):
    sandbox = use_app(make_sandbox(links=5, days=40, today=china_today()))
    warehouse = tmp_path / "warehouse"
    assert cli.main(["sync", "--out", str(warehouse / "jmlink_stats"), "--no-cache", "--no-progress",
                     "--days", "30"]) == 0
    assert f"kept 5 link(s) in the links table {warehouse / 'jmlink_stats_links'}" in capsys.readouterr().out
    links = read_links_table(warehouse / "jmlink_stats")
    assert sorted(links["link_key"]) == sorted(link["link_key"] for link in sandbox.app.links)
    assert {"name", "channel", "create_time", "listed_at"} <= set(links.columns)
    stats = read_dataset(warehouse / "jmlink_stats")
    glob = (warehouse / "jmlink_stats" / "**" / "*.parquet").as_posix()  # the links table is not in the stats' tree
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = true)").fetchall()[0][0] == \
        len(stats)

    query = readme_duckdb_queries()[0]
    assert "jmlink_stats_links" in query and "JOIN" in query
    result = duckdb.sql(query.replace("warehouse/", f"{warehouse.as_posix()}/")).df()
    with sandbox.client() as client:
        names = fetch_links(client)[["link_key", "name", "channel"]]
    merged = stats.assign(link_key=stats["link_key"].astype(str)).merge(
        names.assign(link_key=names["link_key"].astype(str)), on="link_key")
    last = merged["date"].max()
    month = merged[merged["date"] > last - pd.Timedelta(days=30)]
    expected = month.groupby(["date", "channel"], observed=True)[["click_count", "install_count"]].sum()
    assert len(result) == len(expected) > 0
    got = {(pd.Timestamp(d), c): (k, i) for d, c, k, i in
           result[["dt", "channel", "clicks", "installs"]].itertuples(index=False)}
    assert got == {(d, str(c)): (k, i) for (d, c), (k, i) in expected.iterrows()}


def test_a_link_deleted_since_keeps_its_row_and_two_apps_keep_their_own(split_stats, sandbox, tmp_path):
    with sandbox.client() as client:
        links = fetch_links(client)
    write_dataset(split_stats, tmp_path / "ds", app="a", links=links)
    write_dataset(split_stats.iloc[:0], tmp_path / "ds", app="a", links=links.iloc[1:])
    write_dataset(split_stats, tmp_path / "ds", app="b", links=links.iloc[:2])
    a = read_links_table(tmp_path / "ds", app="a")
    assert sorted(a["link_key"]) == sorted(links["link_key"].astype(str))
    assert len(read_links_table(tmp_path / "ds" / "app=b")) == 2
    glob = (tmp_path / "ds_links" / "app=*" / "*.parquet").as_posix()
    per_app = duckdb.sql(f"SELECT app, count(*) FROM read_parquet('{glob}', hive_partitioning = true) "
                         "GROUP BY app ORDER BY app").fetchall()
    assert per_app == [("a", len(links)), ("b", 2)]
