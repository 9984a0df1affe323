"""The dataset's files in one order (link, platform, day), whatever order the table comes in, and read back typed."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jmlink_analytics import fetch_stats, read_dataset, write_dataset

from .conftest import TODAY

START = TODAY - dt.timedelta(days=9)
PLATFORM_ORDER = {"all": 0, "ios": 1, "android": 2}


@pytest.fixture(scope="module")
def stats(sandbox):
    with sandbox.client() as client:
        return fetch_stats(client, start=START, end=TODAY, platform=["ios", "android"], progress=False)


def file_order(path) -> list[tuple[str, int, dt.date]]:
    table = pq.read_table(path)
    return list(zip(table.column("link_key").to_pylist(),
                    [PLATFORM_ORDER[p] for p in table.column("platform").to_pylist()],
                    table.column("date").to_pylist(), strict=True))


def test_each_day_file_is_sorted_by_link_then_platform_whatever_the_rows_order(stats, tmp_path):
    shuffled = stats.sample(frac=1.0, random_state=3).reset_index(drop=True)
    files = write_dataset(shuffled, tmp_path)
    assert len(files) == 10
    for path in files:
        rows = file_order(path)
        assert rows == sorted(rows) and len(rows) == len(stats) // 10
    pd.testing.assert_frame_equal(read_dataset(tmp_path), stats)


def test_link_categories_in_any_order_are_written_in_text_order(stats, tmp_path):
    keys = stats["link_key"].cat.categories
    reordered = stats.assign(link_key=stats["link_key"].cat.reorder_categories(keys[::-1]))
    write_dataset(reordered, tmp_path)
    rows = file_order(tmp_path / f"dt={START:%Y-%m-%d}" / "part-0.parquet")
    assert [key for key, _, _ in rows] == sorted(key for key, _, _ in rows)
    pd.testing.assert_frame_equal(read_dataset(tmp_path), stats)


def test_a_year_with_holes_and_a_file_of_another_tool_read_back_in_order(stats, tmp_path):
    keys = stats["link_key"].cat.categories
    holes = stats[~((stats["link_key"] == keys[0]) & (stats["date"] < pd.Timestamp(TODAY)))]  # a link of one day
    write_dataset(holes, tmp_path)
    pd.testing.assert_frame_equal(read_dataset(tmp_path), holes.reset_index(drop=True), check_categorical=False)
    # another tool adds rows of the first link to a day, in its own order, as part-1.parquet
    day = tmp_path / f"dt={START:%Y-%m-%d}"
    extra = stats[(stats["link_key"] == keys[0]) & (stats["date"] == pd.Timestamp(START))].iloc[::-1]
    table = pa.table({"link_key": extra["link_key"].astype(str).tolist(), "platform": extra["platform"].astype(str)
                      .tolist(), "date": pa.array(extra["date"].dt.date.tolist(), pa.date32()),
                      **{c: extra[c].to_numpy() for c in ["exposure_count", "click_count", "open_count",
                                                            "install_count"]},
                      "is_partial": extra["is_partial"].to_numpy()})
    pq.write_table(table, day / "part-1.parquet")
    back = read_dataset(tmp_path)
    expected = pd.concat([holes, extra]).sort_values(["link_key", "platform", "date"], ignore_index=True)
    pd.testing.assert_frame_equal(back, expected, check_categorical=False)
    # a rewrite of that day merges part-1 into part-0, in order
    write_dataset(holes[holes["date"] == pd.Timestamp(START)].iloc[:1], tmp_path)
    assert [p.name for p in day.iterdir()] == ["part-0.parquet"]
    rows = file_order(day / "part-0.parquet")
    assert rows == sorted(rows) and len(rows) == len(stats) // 10


def test_duplicates_are_found_in_any_order(stats, tmp_path):
    twice = pd.concat([stats, stats.iloc[[5]]]).sample(frac=1.0, random_state=1)
    with pytest.raises(ValueError, match=r"1 duplicate \(link_key, platform, date\) row"):
        write_dataset(twice, tmp_path)
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_a_day_file_holds_the_texts_of_its_own_rows_only(stats, tmp_path):
    keys = stats["link_key"].cat.categories
    one_link_on_the_last_day = stats[(stats["date"] < pd.Timestamp(TODAY)) | (stats["link_key"] == keys[0])]
    write_dataset(one_link_on_the_last_day, tmp_path)
    last = pq.read_table(tmp_path / f"dt={TODAY:%Y-%m-%d}" / "part-0.parquet", read_dictionary=["link_key"])
    assert last.column("link_key").chunk(0).dictionary.to_pylist() == [keys[0]]
    assert pq.read_schema(tmp_path / f"dt={TODAY:%Y-%m-%d}" / "part-0.parquet").field("link_key").type == pa.string()
