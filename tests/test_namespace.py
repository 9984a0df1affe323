"""The public names issue 10 added: join_links, count_once (the platform rule), Store.default."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jmlink_analytics as jm
from tests.helpers_frames import series_frame


def test_join_links_adds_each_links_columns_to_its_rows_and_keeps_the_rows():
    stats = series_frame({"AAAA": [50, 70], "BBBB": [10, 20], "ZZZZ": [30, 30]}, start="2024-06-01")
    links = pd.DataFrame({"id": [1, 2], "link_key": ["AAAA", "BBBB"], "name": ["春节", "=cmd"],
                          "channel": pd.Categorical(["微信", "QQ"])})
    joined = jm.join_links(stats, links)
    assert len(joined) == len(stats) and joined.index.equals(stats.index)
    assert list(joined.columns) == [*stats.columns, "id", "name", "channel"]
    assert joined.loc[joined["link_key"] == "AAAA", "name"].tolist() == ["春节", "春节"]
    assert joined.loc[joined["link_key"] == "BBBB", "channel"].tolist() == ["QQ", "QQ"]
    assert joined.loc[joined["link_key"] == "ZZZZ", "name"].isna().all()  # unknown link: missing, not dropped
    pd.testing.assert_frame_equal(joined[stats.columns], stats)


def test_join_links_refuses_tables_without_link_key():
    stats = series_frame({"AAAA": [10]}, start="2024-06-01")
    with pytest.raises(ValueError, match="link_key"):
        jm.join_links(stats, pd.DataFrame({"name": ["x"]}))
    with pytest.raises(TypeError, match="stats"):
        jm.join_links([1, 2], pd.DataFrame({"link_key": ["x"]}))


def test_count_once_keeps_all_rows_of_a_link_or_its_platform_rows_never_both():
    both = series_frame({"AAAA": [100]}, start="2024-06-01", platform="all")
    split = series_frame({"AAAA": [40], "BBBB": [20]}, start="2024-06-01", platform="ios")
    table = pd.concat([both, split], ignore_index=True)
    counted = jm.count_once(table)
    assert sorted(zip(counted["link_key"], counted["platform"], strict=True)) == [("AAAA", "all"), ("BBBB", "ios")]
    assert counted["click_count"].sum() == jm.summarize(table, by=None)["click_count"].sum() == 12
    assert len(jm.count_once(table, by="platform")) == len(table)  # grouping by platform keeps every row


def test_store_default_is_the_command_lines_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    from jmlink_analytics.cli import build_parser

    expected = tmp_path / "jmlink-analytics" / "cache.sqlite3"
    with jm.Store.default() as store:
        assert Path(store.path) == expected
    helps = [a.help for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction)
             for sub in action.choices.values() for a in sub._actions if "--cache" in a.option_strings]
    assert helps and all(str(expected) in h for h in helps)


def test_vocabulary_is_exported_as_plain_tuples():
    assert jm.COUNTERS == ("exposure_count", "click_count", "open_count", "install_count")
    assert jm.PLATFORMS == ("all", "ios", "android")
    assert (*jm.COUNTERS, *jm.RATES) == jm.METRICS
    assert jm.STATS_COLUMNS[:3] == ("link_key", "platform", "date") and jm.STATS_COLUMNS[-1] == "is_partial"
    assert np.array_equal(list(jm.RATES), ["ctr", "open_rate", "install_rate"])
