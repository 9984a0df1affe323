"""write_dataset / read_dataset: the Hive-partitioned Parquet dataset DuckDB, Spark and BigQuery read."""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jmlink_analytics import fetch_stats, read_dataset, write_dataset
from jmlink_analytics.export import _dataset

from .conftest import TODAY

START = TODAY - dt.timedelta(days=27)
README = Path(__file__).resolve().parent.parent / "README.md"
COUNTERS = ["exposure_count", "click_count", "open_count", "install_count"]


@pytest.fixture(scope="module")
def stats(sandbox):
    """28 days of ios + android stats of the shared test sandbox, as fetch_stats returns them."""
    with sandbox.client() as client:
        return fetch_stats(client, start=START, end=TODAY, platform=["ios", "android"], progress=False)


def readme_duckdb_query() -> str:
    """The DuckDB query of the README's "From a notebook to a warehouse" section, exactly as printed."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## From a notebook to a warehouse"):]
    section = section[section.index("**DuckDB**"):]
    return re.search(r"```sql\n(.*?)```", section, re.S).group(1)


def test_the_dataset_reads_back_as_the_same_typed_frame(stats, tmp_path):
    files = write_dataset(stats, tmp_path / "ds")
    assert files == [tmp_path / "ds" / f"dt={day:%Y-%m-%d}" / "part-0.parquet"
                     for day in pd.date_range(START, TODAY)]
    back = read_dataset(tmp_path / "ds")
    pd.testing.assert_frame_equal(back, stats)
    assert back["link_key"].cat.categories.tolist() == stats["link_key"].cat.categories.tolist()


def test_every_column_is_in_the_files_with_its_type(stats, tmp_path):
    write_dataset(stats, tmp_path)
    schema = pq.read_schema(tmp_path / f"dt={START:%Y-%m-%d}" / "part-0.parquet")
    assert schema.names == ["link_key", "platform", "date", *COUNTERS, "is_partial"]
    assert schema.field("date").type == pa.date32()
    assert all(schema.field(c).type == pa.int64() for c in COUNTERS)
    assert schema.field("is_partial").type == pa.bool_() and schema.field("link_key").type == pa.string()
    one_day = pq.read_table(tmp_path / f"dt={START:%Y-%m-%d}" / "part-0.parquet")
    assert set(one_day.column("date").to_pylist()) == {START}


def test_rewriting_days_replaces_them_and_never_duplicates(stats, tmp_path):
    write_dataset(stats, tmp_path)
    later = stats[stats["date"] >= pd.Timestamp(TODAY - dt.timedelta(days=3))].copy()
    later["click_count"] += 1000
    written = write_dataset(later, tmp_path)
    assert len(written) == 4
    write_dataset(later, tmp_path)  # a plain rerun
    glob = (tmp_path / "dt=*" / "*.parquet").as_posix()
    total, distinct = duckdb.sql(f"SELECT count(*), count(DISTINCT (link_key, platform, date)) "
                                 f"FROM read_parquet('{glob}')").fetchall()[0]
    assert total == distinct == len(stats)
    back = read_dataset(tmp_path)
    assert back["click_count"].sum() == stats["click_count"].sum() + 1000 * len(later)
    # beside the day folders only _jmlink/ with two empty files (the lock, the recorded shape); nothing staged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_jmlink"] + [f"dt={d:%Y-%m-%d}"
                                                                       for d in pd.date_range(START, TODAY)]
    assert all(os.listdir(tmp_path / name) == ["part-0.parquet"] for name in os.listdir(tmp_path) if name != "_jmlink")
    assert sorted(os.listdir(tmp_path / "_jmlink")) == ["lock", "version=1,layout=days,platforms=split,partition=dt"]
    assert all(p.stat().st_size == 0 for p in (tmp_path / "_jmlink").iterdir())
    assert [p.name for p in tmp_path.parent.iterdir() if "staging" in p.name] == []


def test_only_the_days_asked_for_are_opened(stats, tmp_path):
    write_dataset(stats, tmp_path)
    (tmp_path / f"dt={START:%Y-%m-%d}" / "part-0.parquet").write_bytes(b"not parquet at all")
    week = read_dataset(tmp_path, start=TODAY - dt.timedelta(days=6), end=TODAY)
    pd.testing.assert_frame_equal(week, stats[stats["date"] >= pd.Timestamp(TODAY - dt.timedelta(days=6))]
                                  .reset_index(drop=True), check_categorical=False)
    with pytest.raises(pa.ArrowInvalid):
        read_dataset(tmp_path)  # the broken day is opened only when asked for


def test_link_keys_and_empty_ranges(stats, tmp_path):
    write_dataset(stats, tmp_path)
    keys = stats["link_key"].cat.categories[:2].tolist()
    two = read_dataset(tmp_path, link_keys=keys)
    assert two["link_key"].cat.categories.tolist() == keys and len(two) == 2 * 2 * 28
    assert two["click_count"].sum() == stats.loc[stats["link_key"].isin(keys), "click_count"].sum()
    empty = read_dataset(tmp_path, start="2020-01-01", end="2020-01-31")
    assert empty.empty and list(empty.columns) == list(stats.columns)
    assert [type(d) for d in empty.dtypes] == [type(d) for d in stats.dtypes]
    assert empty["platform"].dtype == stats["platform"].dtype and empty["date"].dtype == stats["date"].dtype


def test_a_failed_write_leaves_every_day_whole_and_no_staging(stats, tmp_path, monkeypatch):
    write_dataset(stats, tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.glob("dt=*/part-0.parquet")}
    real_replace, calls = os.replace, []

    def fail_on_the_third(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(_dataset.os, "replace", fail_on_the_third)
    changed = stats.assign(click_count=stats["click_count"] + 1)
    with pytest.raises(OSError, match="disk full"):
        write_dataset(changed, tmp_path)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert [p.name for p in tmp_path.parent.iterdir() if "staging" in p.name] == []  # staged outside, cleaned
    for path, content in before.items():  # each day is the old file or the whole new one
        assert path.read_bytes() == content or len(pq.read_table(path)) == len(stats) // 28
    assert len(read_dataset(tmp_path)) == len(stats)


def test_several_apps_share_a_root_and_reading_the_root_says_so(stats, tmp_path):
    write_dataset(stats, tmp_path / "app=a")
    write_dataset(stats, tmp_path / "app=b")
    with pytest.raises(ValueError, match=r"pass the folder of one app, e\.g\. .*app=a"):
        read_dataset(tmp_path)
    assert len(read_dataset(tmp_path / "app=b")) == len(stats)


def test_bad_tables_and_arguments_are_refused(stats, tmp_path):
    with pytest.raises(ValueError, match="only fetch_stats' columns.*ctr"):
        write_dataset(stats.assign(ctr=0.5), tmp_path)
    with pytest.raises(ValueError, match="duplicate"):
        write_dataset(pd.concat([stats, stats.iloc[:1]]), tmp_path)
    with pytest.raises(ValueError, match="lacks the column"):
        write_dataset(stats.drop(columns="is_partial"), tmp_path)
    with pytest.raises(ValueError, match="partition must be"):
        write_dataset(stats, tmp_path, partition="date")
    with pytest.raises(ValueError, match="start must not be after end"):
        read_dataset(tmp_path, start="2024-06-02", end="2024-06-01")
    with pytest.raises(FileNotFoundError, match="no dataset at"):
        read_dataset(tmp_path / "missing")
    assert list(tmp_path.iterdir()) == []


def test_without_pyarrow_the_error_names_the_extra(stats, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"write_dataset needs pyarrow: pip install 'jmlink-analytics\[parquet\]'"):
        write_dataset(stats, tmp_path)
    with pytest.raises(ImportError, match=r"read_dataset needs pyarrow"):
        read_dataset(tmp_path)
