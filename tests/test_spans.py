"""An undocumented cap on the date range of a stat request: learned from the sandbox, counted in its log."""

from __future__ import annotations

import argparse
import datetime as dt
import json

import pytest
import requests

from jmlink_analytics import errors as e
from jmlink_analytics.data import fetch_stats
from jmlink_analytics.sandbox.cli import add_arguments

START, END = "2024-06-01", "2024-06-30"


def stat_requests(sb):
    return [r for r in sb.requests if r.path.endswith("/stat")]


# -- fetch_stats learns the cap -----------------------------------------------------
def test_a_capped_range_is_split_learned_once_and_the_numbers_are_right(make_sandbox):
    sb = make_sandbox(links=6, days=400, max_span_days=31)
    keys = sorted(link["link_key"] for link in sb.app.links)
    start, end = dt.date(2023, 7, 1), dt.date(2024, 6, 28)  # 364 days
    with sb.client() as client:
        df = fetch_stats(client, keys, start=start, end=end, max_workers=1, progress=False)
    served = stat_requests(sb)
    per_link = [[r for r in served if r.path == f"/v1/links/{key}/stat"] for key in keys]
    first, rest = per_link[0], per_link[1:]
    assert [r.code for r in first].count(3005) >= 1  # the first link probed
    assert all(r.code == 3000 for link in rest for r in link), "another link probed again"
    assert all(len(link) <= 2 * 12 for link in rest) and all(len(link) == 12 for link in rest[1:])
    for key in keys:
        want = sb.app.stats(key, start, end, "all")
        got = df[df["link_key"] == key]
        assert got["click_count"].sum() == sum(r["click_count"] for r in want)
        assert len(got) == 364
    days = [(dt.date.fromisoformat(r.query["end_date"]) - dt.date.fromisoformat(r.query["start_date"])).days + 1
            for r in served if r.code == 3000]
    assert max(days) == 31


def test_a_one_day_3005_is_a_real_invalid_request_error(make_sandbox):
    sb = make_sandbox(links=2, max_span_days=31)
    with sb.client() as client, pytest.raises(e.InvalidRequestError) as info:
        fetch_stats(client, ["NOSUCHKEY"], start=END, end=END, progress=False)
    assert info.value.code == 3005 and len(stat_requests(sb)) == 1


def test_an_unknown_key_fails_after_a_known_span_without_probing_again(make_sandbox):
    sb = make_sandbox(links=3, days=200, max_span_days=31)
    keys = sorted(link["link_key"] for link in sb.app.links)
    with sb.client() as client, pytest.warns(UserWarning, match="ZZZZ"):
        df = fetch_stats(client, [*keys, "ZZZZ"], start="2024-01-01", end="2024-06-28", max_workers=1,
                         progress=False, errors="warn")
    assert list(df.attrs["failed"]) == ["ZZZZ"] and "3005" in df.attrs["failed"]["ZZZZ"]
    assert len([r for r in stat_requests(sb) if r.path == "/v1/links/ZZZZ/stat"]) == 1



# -- the sandbox's cap ---------------------------------------------------------------------------------------
def test_sandbox_max_span_days_answers_3005_beyond_the_cap(make_sandbox):
    sb = make_sandbox(links=2, days=100, max_span_days=31)
    key = sb.app.links[-1]["link_key"]
    auth = (sb.app_key, sb.master_secret)
    url = f"{sb.base_url}/v1/links/{key}/stat"
    ok = requests.get(url, params={"start_date": "2024-05-31", "end_date": "2024-06-30"}, auth=auth, timeout=10)
    over = requests.get(url, params={"start_date": "2024-05-30", "end_date": "2024-06-30"}, auth=auth, timeout=10)
    assert ok.status_code == 200 and len(json.loads(ok.content)["data"]) == 31
    assert over.status_code == 400 and json.loads(over.content)["error"]["code"] == 3005
    with pytest.raises(ValueError, match="max_span_days must be None or an integer >= 1; got 0"):
        make_sandbox(max_span_days=0)


def test_sandbox_cli_has_a_max_span_days_flag():
    parser = add_arguments(argparse.ArgumentParser())
    assert parser.parse_args(["--max-span-days", "31"]).max_span_days == 31
    assert parser.parse_args([]).max_span_days is None
    with pytest.raises(SystemExit):
        parser.parse_args(["--max-span-days", "0"])

