"""fetch_links / fetch_stats: dtypes and columns, the documented examples, filled days, platforms,
link selection, argument checks before any request, errors raise/warn, concurrency, progress bars."""

from __future__ import annotations

import contextlib
import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

import jmlink_analytics.data._fetch as fetch_module
from jmlink_analytics import errors as e
from jmlink_analytics.client import DataClient, LinksPage
from jmlink_analytics.data import fetch_links, fetch_stats
from jmlink_analytics.data._frames import (
    counters_from_rows,
    empty_links_frame,
    links_frame,
    stats_frame_from_records,
)
from jmlink_analytics.schema import COUNTERS, LINK_COLUMNS, STATS_COLUMNS
from tests.conftest import TODAY

# The documented examples of jmlink-api.md, as valid JSON would carry them.
DOC_RECORDS = [
    {"id": 1, "link_key": "AAAA", "name": "test001", "channel": "QQ",
     "app_domain": "xxxxxx.jmlk.co", "share_title": "商品详情", "share_desc": "产品介绍、说明",
     "android_uri": "androidUri", "ios_uri": "iosUri", "jump_link_type": "DOWNLOAD",
     "landing_page": "https://www.jiguang.cn", "create_time": "2020-08-03", "update_time": "2020-08-04"},
    {"id": 2, "link_key": "AAAB", "name": "test001", "channel": "微信",
     "app_domain": "xxxxxx.jmlk.co", "share_title": None, "share_desc": None,
     "android_uri": "test001", "ios_uri": "test001", "jump_link_type": "DOWNLOAD",
     "landing_page": "", "create_time": "2020-08-01", "update_time": "2020-08-02"},
]
DOC_ROWS = [
    {"iday": "2020-08-01", "exposure_count": 100000, "click_count": 100000, "open_count": 100000,
     "install_count": 100000},
    {"iday": "2020-08-02", "exposure_count": 200000, "click_count": 200000, "open_count": 200000,
     "install_count": 200000},
]
FAST = {"links": (1000, 60.0), "stats": (1000, 60.0)}  # limits no test here comes near
START, END = dt.date(2024, 6, 1), dt.date(2024, 6, 20)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    """The data layer's "today" (UTC+8) is the sandbox's fixed today."""
    monkeypatch.setattr("jmlink_analytics.data._fetch.china_today", lambda: TODAY)


def stat_requests(sb):
    return [r for r in sb.requests if r.path.startswith("/v1/links/") and r.path.endswith("/stat")]


def assert_stats_dtypes(df: pd.DataFrame) -> None:
    assert list(df.columns) == list(STATS_COLUMNS)
    assert isinstance(df.index, pd.RangeIndex)
    assert isinstance(df["link_key"].dtype, pd.CategoricalDtype)
    assert list(df["platform"].cat.categories) == ["all", "ios", "android"]
    assert df["date"].dtype == "datetime64[ns]"
    for name in COUNTERS:
        assert df[name].dtype == np.int64, name
    assert df["is_partial"].dtype == bool


def truth(sb, keys, platforms, start=START, end=END) -> pd.DataFrame:
    """The sandbox app's own numbers, every day filled, built with plain pandas."""
    frames = []
    for key in keys:
        for platform in platforms:
            rows = pd.DataFrame(sb.app.stats(key, start, end, platform), columns=["iday", *COUNTERS])
            rows = rows.astype(dict.fromkeys(COUNTERS, "int64"))
            days = pd.DataFrame({"iday": pd.date_range(start, end).strftime("%Y-%m-%d")})
            full = days.merge(rows, on="iday", how="left").fillna(0)
            full.insert(0, "platform", platform)
            full.insert(0, "link_key", key)
            frames.append(full)
    table = pd.concat(frames, ignore_index=True)
    table["date"] = pd.to_datetime(table.pop("iday")).astype("datetime64[ns]")
    return table.astype(dict.fromkeys(COUNTERS, "int64"))


def same_numbers(df: pd.DataFrame, expected: pd.DataFrame) -> None:
    """``df`` holds exactly the numbers of ``expected``, in (link_key, platform all/ios/android, date) order."""
    got = df.astype({"link_key": str, "platform": str})[["link_key", "platform", "date", *COUNTERS]]
    rank = expected["platform"].map({"all": 0, "ios": 1, "android": 2})
    want = (expected.assign(rank=rank).sort_values(["link_key", "rank", "date"])
            .reset_index(drop=True)[list(got.columns)].astype({"link_key": str, "platform": str}))
    pd.testing.assert_frame_equal(got, want)


# -- records -> frames (the documented examples) ---------------------------------------------
def test_links_frame_of_the_documented_records():
    df = links_frame(DOC_RECORDS)
    assert list(df.columns) == list(LINK_COLUMNS)
    assert df["id"].tolist() == [1, 2] and df["id"].dtype == np.int64
    for name in ("channel", "app_domain", "jump_link_type"):
        assert isinstance(df[name].dtype, pd.CategoricalDtype), name
    for name in ("link_key", "name", "share_title", "share_desc", "android_uri", "ios_uri", "landing_page"):
        assert isinstance(df[name].dtype, pd.StringDtype), name
    assert df["channel"].tolist() == ["QQ", "微信"]
    assert df["share_title"].isna().tolist() == [False, True]  # JSON null -> missing
    assert df.loc[1, "landing_page"] == ""                     # "" stays ""
    assert df.loc[0, "share_desc"] == "产品介绍、说明"
    assert df["create_time"].dtype == "datetime64[ns]"
    assert df["create_time"].tolist() == [pd.Timestamp("2020-08-03"), pd.Timestamp("2020-08-01")]


def test_link_times_accept_date_and_date_time_and_empty_text():
    records = [dict(DOC_RECORDS[0], create_time="2020-08-03 12:34:56", update_time=None),
               dict(DOC_RECORDS[1], id=3, create_time="2020-08-01", update_time="")]
    df = links_frame(records)
    assert df.loc[0, "create_time"] == pd.Timestamp("2020-08-03 12:34:56")
    assert df.loc[1, "create_time"] == pd.Timestamp("2020-08-01")
    assert df["update_time"].isna().all()


def test_empty_links_frame_has_the_same_columns_and_dtypes():
    empty, full = empty_links_frame(), links_frame(DOC_RECORDS)
    assert list(empty.columns) == list(full.columns) and len(empty) == 0
    for name in full.columns:
        assert type(empty[name].dtype) is type(full[name].dtype), name
        if name not in ("channel", "app_domain", "jump_link_type"):
            assert empty[name].dtype == full[name].dtype, name
    assert links_frame([]).dtypes.equals(empty.dtypes)


def test_stats_frame_of_the_documented_rows_fills_missing_days():
    start, end = dt.date(2020, 8, 1), dt.date(2020, 8, 3)
    df = stats_frame_from_records({("AAAA", "all"): DOC_ROWS, ("AAAA", "ios"): DOC_ROWS[1:]}, start, end,
                                  today=dt.date(2020, 8, 3))
    assert_stats_dtypes(df)
    assert len(df) == 6
    assert df["platform"].astype(str).tolist() == ["all"] * 3 + ["ios"] * 3
    assert df["date"].dt.strftime("%Y-%m-%d").tolist() == ["2020-08-01", "2020-08-02", "2020-08-03"] * 2
    assert df["exposure_count"].tolist() == [100000, 200000, 0, 0, 200000, 0]
    assert df["install_count"].tolist() == [100000, 200000, 0, 0, 200000, 0]
    assert df["is_partial"].tolist() == [False, True, True] * 2  # yesterday and today (UTC+8)


def test_parse_stat_rows_fills_the_days_left_out_with_zeros():
    out = counters_from_rows(DOC_ROWS[1:], dt.date(2020, 8, 2), 2)
    assert out.dtype == np.int64 and out.shape == (4, 2)
    assert out[:, 0].tolist() == [200000] * 4 and out[:, 1].tolist() == [0] * 4


def test_parse_stat_rows_refuses_a_day_outside_the_range_naming_link_platform_and_day():
    # deliberately changed: a day outside the range asked used to be dropped (and logged at DEBUG)
    with pytest.raises(e.ResponseFormatError, match=r"link 'AAAA', platform 'ios'.*'2020-08-01' is outside"):
        counters_from_rows(DOC_ROWS, dt.date(2020, 8, 2), 2, link_key="AAAA", platform="ios")


@pytest.mark.parametrize(("change", "needle"), [
    ({"iday": "20200802"}, "'20200802'"),
    ({"iday": "2020-08"}, "'2020-08'"),
    ({"iday": "2020-08-02T00:00:00+08:00"}, "'2020-08-02T00:00:00+08:00'"),
    ({"click_count": 2**63}, str(2**63)),
    ({"click_count": -1}, "-1"),
    ({"click_count": 7.0}, "7.0"),
    ({"click_count": "7"}, "'7'"),
    ({"click_count": True}, "True"),
    ({"click_count": None}, "None"),
])
def test_parse_stat_rows_refuses_off_contract_rows_instead_of_guessing(change, needle):
    row = {**DOC_ROWS[1], **change}
    with pytest.raises(e.ResponseFormatError, match=r"link 'AAAA', platform 'all'") as info:
        counters_from_rows([row], dt.date(2020, 8, 2), 2, link_key="AAAA", platform="all")
    assert needle in str(info.value)


def test_parse_stat_rows_refuses_a_missing_counter_and_a_day_twice():
    renamed = {k: v for k, v in DOC_ROWS[1].items() if k != "click_count"} | {"clickCount": 5}
    with pytest.raises(e.ResponseFormatError, match="lacks 'click_count'"):
        counters_from_rows([renamed], dt.date(2020, 8, 2), 2)
    with pytest.raises(e.ResponseFormatError, match="'2020-08-02' was sent twice"):
        counters_from_rows([DOC_ROWS[1], DOC_ROWS[1]], dt.date(2020, 8, 2), 2)


class DocumentedApp:
    """A stand-in client that answers with the documented examples (no HTTP)."""

    app_key, base_url = "7d431e42dfa6a6d693ac2d04", "https://api.jmlk.co"

    def __init__(self):
        self.asked: list[tuple[str, dt.date, dt.date, str]] = []
        self.reserved: list[int] = []

    def get_links_page(self, page_index: int = 1, page_size: int = 20) -> LinksPage:
        return LinksPage(total=len(DOC_RECORDS), records=DOC_RECORDS[(page_index - 1) * page_size:][:page_size])

    def iter_links(self, page_size: int = 500):
        yield from DOC_RECORDS

    def reserve(self, workers: int) -> None:
        self.reserved.append(workers)

    def observing_waits(self, listener):
        return contextlib.nullcontext()

    def get_link_stats(self, link_key, start_date, end_date, platform="all"):
        self.asked.append((link_key, start_date, end_date, platform))
        return [dict(row) for row in DOC_ROWS] if link_key == "AAAA" else []


def test_the_documented_examples_through_fetch_links_and_fetch_stats():
    api = DocumentedApp()
    links = fetch_links(api)
    assert links.equals(links_frame(DOC_RECORDS))
    stats = fetch_stats(api, start="2020-08-01", end="2020-08-03", progress=False)  # None: every listed link
    assert_stats_dtypes(stats)
    assert sorted(api.asked) == [("AAAA", dt.date(2020, 8, 1), dt.date(2020, 8, 3), "all"),
                                 ("AAAB", dt.date(2020, 8, 1), dt.date(2020, 8, 3), "all")]
    assert stats["link_key"].astype(str).tolist() == ["AAAA"] * 3 + ["AAAB"] * 3
    assert stats["click_count"].tolist() == [100000, 200000, 0, 0, 0, 0]
    assert not stats["is_partial"].any()  # 2020 is long final


def test_a_stand_in_client_implements_the_data_client_protocol_and_is_reserved_for_its_workers():
    api = DocumentedApp()
    assert isinstance(api, DataClient)
    fetch_stats(api, start="2020-08-01", end="2020-08-03", progress=False, max_workers=5)
    assert api.reserved == [2]  # two links: two requests at most in flight


def test_an_object_that_is_not_a_client_is_refused_naming_what_it_lacks():
    class OnlyStats:
        app_key = base_url = "x"

        def get_link_stats(self, *args):
            raise AssertionError("never called")

    with pytest.raises(TypeError, match=r"DataClient; got OnlyStats without get_links_page, iter_links, reserve"):
        fetch_stats(OnlyStats(), ["AAAA"], start="2020-08-01", end="2020-08-03")


def test_each_stat_answer_is_checked_once_on_its_way_to_the_frame(make_sandbox, monkeypatch):
    import jmlink_analytics.client._responses as responses

    checks = []
    real = responses.check_stat_rows
    monkeypatch.setattr(responses, "check_stat_rows", lambda *a, **kw: (checks.append(a[1]), real(*a, **kw))[1])
    sb = make_sandbox(links=6, rate_limits=FAST)
    with sb.client() as client:
        df = fetch_stats(client, [link["link_key"] for link in sb.app.links], start=START, end=END,
                         platform=["ios", "android"], progress=False)
    assert len(stat_requests(sb)) == 12 and len(checks) == 12  # was 24: the client and the data layer
    assert len(df) == 6 * 2 * 20


# -- fetch_links --------------------------------------------------------------------------------
def test_fetch_links_one_row_per_link_in_the_api_order(make_sandbox):
    sb = make_sandbox(links=15, rate_limits=FAST)
    with sb.client() as client:
        df = fetch_links(client)
    assert df["id"].tolist() == [link["id"] for link in sb.app.links]
    assert df["link_key"].tolist() == [link["link_key"] for link in sb.app.links]
    assert list(df.columns) == list(LINK_COLUMNS)
    assert df["id"].is_unique and df["id"].dtype == np.int64
    assert df.dtypes.drop(["channel", "app_domain", "jump_link_type"]).equals(
        empty_links_frame().dtypes.drop(["channel", "app_domain", "jump_link_type"]))
    names = [link["name"] for link in sb.app.links]
    assert [None if pd.isna(v) else v for v in df["name"]] == names


def test_fetch_links_of_an_app_without_links_is_empty_but_typed(make_sandbox):
    sb = make_sandbox(links=0, rate_limits=FAST)
    with sb.client() as client:
        df = fetch_links(client)
    assert len(df) == 0
    assert list(df.columns) == list(LINK_COLUMNS)
    assert df["id"].dtype == np.int64 and df["create_time"].dtype == "datetime64[ns]"


# -- fetch_stats: shape and values ------------------------------------------------------------
def test_fetch_stats_every_day_every_link_sorted_and_typed(make_sandbox):
    sb = make_sandbox(links=6, rate_limits=FAST)
    keys = [link["link_key"] for link in sb.app.links]
    with sb.client() as client:
        df = fetch_stats(client, keys, start=START, end=END, progress=False)
    assert_stats_dtypes(df)
    n_days = (END - START).days + 1
    assert len(df) == len(keys) * n_days
    assert list(df["link_key"].cat.categories) == sorted(keys)
    assert df.equals(df.sort_values(["link_key", "platform", "date"], ignore_index=True))
    same_numbers(df, truth(sb, keys, ["all"]))
    assert not df["is_partial"].any()  # END is well before the sandbox's today


def test_days_the_api_leaves_out_are_filled_with_zero(make_sandbox):
    sb = make_sandbox(links=8, days=40, omit_zero_days=True, rate_limits=FAST)
    keys = [link["link_key"] for link in sb.app.links]
    start = TODAY - dt.timedelta(days=45)  # before the oldest link was created: inactive days
    with sb.client() as client:
        df = fetch_stats(client, keys, start=start, end=TODAY, progress=False)
    n_days = (TODAY - start).days + 1
    assert len(df) == len(keys) * n_days
    served = sum(len(sb.app.stats(k, start, TODAY, "all")) for k in keys)
    assert served < len(df), "the sandbox should have left days out"
    same_numbers(df, truth(sb, keys, ["all"], start, TODAY))
    assert (df.loc[df["date"] < pd.Timestamp(TODAY - dt.timedelta(days=40)), list(COUNTERS)] == 0).all().all()
    assert df.loc[df["date"] >= pd.Timestamp(TODAY - dt.timedelta(days=1)), "is_partial"].all()
    assert not df.loc[df["date"] < pd.Timestamp(TODAY - dt.timedelta(days=1)), "is_partial"].any()


def test_platform_list_gives_one_row_per_platform_and_all_is_their_sum(make_sandbox):
    sb = make_sandbox(links=5, rate_limits=FAST)
    keys = [link["link_key"] for link in sb.app.links]
    with sb.client() as client:
        split = fetch_stats(client, keys, start=START, end=END, platform=["android", "ios", "ios"], progress=False)
        both = fetch_stats(client, keys, start=START, end=END, platform=("all", "ios", "android"), progress=False)
    assert list(split["platform"].unique()) == ["ios", "android"]  # in the categories' order
    assert list(split["platform"].cat.categories) == ["all", "ios", "android"]
    assert len(split) == 2 * len(keys) * 20
    same_numbers(split, truth(sb, keys, ["ios", "android"]))
    sums = both.groupby(["link_key", "date", "platform"], observed=True)[list(COUNTERS)].sum().unstack("platform")
    for name in COUNTERS:
        assert (sums[name]["all"] == sums[name]["ios"] + sums[name]["android"]).all()


def test_link_keys_none_means_every_link(make_sandbox):
    sb = make_sandbox(links=7, rate_limits=FAST)
    with sb.client() as client:
        df = fetch_stats(client, start=START, end=END, progress=False)
    assert sorted(df["link_key"].unique()) == sorted(link["link_key"] for link in sb.app.links)
    assert len([r for r in sb.requests if r.path == "/v1/links"]) >= 1


@pytest.mark.parametrize("wrap", [list, tuple, pd.Series, pd.Index, lambda keys: np.array(keys, dtype=object)])
def test_link_keys_as_any_sequence_with_duplicates_ignored(make_sandbox, wrap):
    sb = make_sandbox(links=4, days=20, rate_limits=FAST)
    keys = [link["link_key"] for link in sb.app.links][:3]
    with sb.client() as client:
        df = fetch_stats(client, wrap([keys[2], keys[0], keys[2], keys[1]]), start=START, end=END, progress=False)
    assert list(df["link_key"].cat.categories) == sorted(keys)
    assert len(stat_requests(sb)) == 3  # one per link, the duplicate asked once
    assert len(df) == 3 * 20


def test_no_link_keys_gives_an_empty_typed_frame_without_requests(make_sandbox):
    sb = make_sandbox(links=3, rate_limits=FAST)
    with sb.client() as client:
        df = fetch_stats(client, [], start=START, end=END, platform=["ios", "android"])
    assert len(df) == 0
    assert_stats_dtypes(df)
    assert sb.requests == []


# -- arguments are checked before any request ------------------------------------------------
@pytest.mark.parametrize(("kwargs", "error", "names"), [
    ({"start": "2024-13-01"}, ValueError, "start"),
    ({"start": "2024/06/01"}, ValueError, "start"),
    ({"start": None}, TypeError, "start"),
    ({"end": "yesterday"}, ValueError, "end"),
    ({"start": "2024-06-10", "end": "2024-06-01"}, ValueError, "start"),
    ({"platform": "web"}, ValueError, "platform"),
    ({"platform": ["ios", "pc"]}, ValueError, "platform"),
    ({"platform": []}, ValueError, "platform"),
    ({"max_workers": 0}, ValueError, "max_workers"),
    ({"max_workers": 2.5}, TypeError, "max_workers"),
    ({"max_workers": True}, TypeError, "max_workers"),
    ({"errors": "ignore"}, ValueError, "errors"),
    ({"progress": "yes"}, TypeError, "progress"),
    ({"progress": 1}, TypeError, "progress"),
    ({"store": "cache.sqlite3"}, TypeError, "store"),
    ({"link_keys": ["AAAA", ""]}, ValueError, r"link_keys\[1\]"),
    ({"link_keys": ["AAAA", None]}, TypeError, r"link_keys\[1\]"),
    ({"link_keys": [1234]}, TypeError, r"link_keys\[0\]"),
    ({"link_keys": {"AAAA": 1}}, TypeError, "link_keys"),
    ({"link_keys": None, "start": "bad"}, ValueError, "start"),  # checked before listing the links
])
def test_bad_arguments_fail_before_any_request(make_sandbox, kwargs, error, names):
    sb = make_sandbox(links=3, rate_limits=FAST)
    options = {"link_keys": [sb.app.links[0]["link_key"]], "start": "2024-06-01", "end": "2024-06-05", **kwargs}
    with sb.client() as client, pytest.raises(error, match=names):
        fetch_stats(client, options.pop("link_keys"), **options)
    assert sb.requests == []


def test_error_messages_name_the_allowed_values(make_sandbox):
    sb = make_sandbox(links=2, rate_limits=FAST)
    with sb.client() as client:
        with pytest.raises(ValueError, match="'raise' or 'warn'"):
            fetch_stats(client, ["AAAA"], start=START, errors="quiet")
        with pytest.raises(ValueError, match="'all', 'ios', 'android'"):
            fetch_stats(client, ["AAAA"], start=START, platform="pc")
        with pytest.raises(ValueError, match="integer >= 1"):
            fetch_stats(client, ["AAAA"], start=START, max_workers=-1)
    assert sb.requests == []


# -- errors="raise" / "warn" ------------------------------------------------------------------
def test_errors_warn_returns_what_succeeded_and_names_the_failures(make_sandbox):
    sb = make_sandbox(links=5, rate_limits=FAST)
    keys = [link["link_key"] for link in sb.app.links]
    with sb.client() as client, pytest.warns(UserWarning, match="ZZZ1") as caught:
        df = fetch_stats(client, [*keys, "ZZZ1", "ZZZ2"], start=START, end=END, platform=["ios", "android"],
                         errors="warn", progress=False)
    assert len([w for w in caught if issubclass(w.category, UserWarning)]) == 1
    assert "ZZZ2" in str(caught[0].message)
    assert set(df.attrs["failed"]) == {"ZZZ1", "ZZZ2"}
    assert "3005" in df.attrs["failed"]["ZZZ1"]
    assert list(df["link_key"].cat.categories) == sorted(keys)
    same_numbers(df, truth(sb, keys, ["ios", "android"]))


def test_errors_warn_without_failures_is_silent(make_sandbox):
    sb = make_sandbox(links=3, rate_limits=FAST)
    with sb.client() as client, warnings.catch_warnings():
        warnings.simplefilter("error")
        df = fetch_stats(client, [sb.app.links[0]["link_key"]], start=START, end=END, errors="warn")
    assert df.attrs["failed"] == {}


def test_errors_raise_raises_the_typed_error(make_sandbox):
    sb = make_sandbox(links=4, rate_limits=FAST)
    keys = [link["link_key"] for link in sb.app.links]
    with sb.client() as client, pytest.raises(e.InvalidRequestError) as info:
        fetch_stats(client, [*keys, "ZZZ1"], start=START, end=END)
    assert info.value.code == 3005


def test_server_faults_are_retried(make_sandbox, no_wait):
    sb = make_sandbox(links=3, rate_limits=FAST)
    keys = [link["link_key"] for link in sb.app.links]
    sb.fail_next(3011, times=2, endpoint="stats")
    with sb.client(backoff_factor=0) as client:
        df = fetch_stats(client, keys, start=START, end=END, max_workers=1)
    same_numbers(df, truth(sb, keys, ["all"]))
    assert [r.code for r in stat_requests(sb)].count(3011) == 2
    assert len(no_wait) == 2


def test_errors_raise_drops_the_queue_after_a_final_error(make_sandbox):
    sb = make_sandbox(links=8, latency=0.05, rate_limits=FAST)
    keys = [link["link_key"] for link in sb.app.links]
    sb.fail_next(3009, endpoint="stats")
    with sb.client() as client, pytest.raises(e.BlacklistedError) as info:
        fetch_stats(client, keys, start=START, end=END, max_workers=1)
    assert info.value.code == 3009
    served = stat_requests(sb)
    assert served[0].code == 3009
    assert len(served) < len(keys), "the queue should be dropped after the first final error"


# -- concurrency at the rate limit --------------------------------------------------------------
def test_eight_workers_stay_inside_a_scaled_rate_limit(make_sandbox):
    calls, seconds = 10, 1.0
    sb = make_sandbox(links=8, days=20, rate_limits={"links": (100, 60.0), "stats": (calls, seconds)})
    keys = [link["link_key"] for link in sb.app.links]
    with sb.client() as client:
        df = fetch_stats(client, keys, start=START, end=END, platform=["all", "ios", "android"], max_workers=8,
                         progress=False)
    served = stat_requests(sb)
    assert len(served) == len(keys) * 3
    assert all(r.code == 3000 for r in served), "a request was answered 3006 (or failed)"
    times = sorted(r.time for r in served)
    busiest = max(sum(1 for t in times[i:] if t - times[i] < seconds) for i in range(len(times)))
    assert busiest <= calls
    assert len(df) == len(keys) * 3 * 20


# -- progress bars -------------------------------------------------------------------------------
@pytest.mark.parametrize(("progress", "n_links", "shown"), [
    (None, 9, True), (None, 8, False), (True, 1, True), (False, 9, False),
])
def test_progress_bar_on_stderr_when_more_than_a_handful_of_requests(make_sandbox, capsys, progress, n_links, shown):
    sb = make_sandbox(links=9, days=20, rate_limits=FAST)
    keys = [link["link_key"] for link in sb.app.links][:n_links]
    with sb.client() as client:
        fetch_stats(client, keys, start=START, end=END, progress=progress)
    captured = capsys.readouterr()
    assert ("jmlink stats" in captured.err) is shown
    assert "jmlink stats" not in captured.out


def test_progress_falls_back_to_the_text_bar_when_the_notebook_bar_fails(make_sandbox, capsys, monkeypatch):
    class NoWidgets:
        def __init__(self, *args, **kwargs):
            raise ImportError("IProgress not found. Please update jupyter and ipywidgets.")

    monkeypatch.setattr(fetch_module, "auto_tqdm", NoWidgets)
    sb = make_sandbox(links=3, rate_limits=FAST)
    with sb.client() as client:
        df = fetch_stats(client, [link["link_key"] for link in sb.app.links], start=START, end=END, progress=True)
    assert len(df) == 3 * 20
    assert "jmlink stats" in capsys.readouterr().err


def test_link_times_off_the_contract_become_nat_with_a_warning_never_a_guess_or_a_crash(caplog):
    # a time zone next to a naive time made pandas raise "Mixed timezones"; "2024-06" became June 1
    records = [{**DOC_RECORDS[0], "create_time": "2024-06-01T00:00:00+08:00"},
               {**DOC_RECORDS[1], "create_time": "2024-06"},
               {**DOC_RECORDS[0], "id": 3, "link_key": "AAAC", "create_time": "2024-06-02 09:30:00"}]
    with caplog.at_level("WARNING", logger="jmlink_analytics"):
        links = links_frame(records)
    assert links["create_time"].isna().tolist() == [True, True, False]
    assert links["create_time"].iloc[2] == pd.Timestamp("2024-06-02 09:30:00")
    assert "2 link record(s) have an unreadable create_time" in caplog.text


def test_link_ids_off_the_contract_are_refused():
    for bad in ("7", 7.0, 2**63, None):
        with pytest.raises(e.ResponseFormatError, match="'id' must be an integer"):
            links_frame([{**DOC_RECORDS[0], "id": bad}])
