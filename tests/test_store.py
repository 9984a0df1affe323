"""Store: the schema and its version, what it keeps day by day, threads, and fetch_stats/fetch_links
through it (only new and partial days are asked for; omitted days are not asked again; interrupted
runs resume)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading

import numpy as np
import pytest

from jmlink_analytics import errors as e
from jmlink_analytics.data import fetch_links, fetch_stats
from jmlink_analytics.data.store import SCHEMA_VERSION, Store
from jmlink_analytics.errors import StoreError, StoreVersionError
from tests.conftest import TODAY, failures_at_the_same_moment

FAST = {"links": (1000, 60.0), "stats": (1000, 60.0)}
APP = ("app-key", "http://127.0.0.1:1")


@pytest.fixture
def today(monkeypatch):
    """The data layer's "today" (UTC+8); tests move it forward with ``today.set(date)``."""

    class Today:
        value = TODAY

        def set(self, value: dt.date) -> None:
            self.value = value

    clock = Today()
    monkeypatch.setattr("jmlink_analytics.data._fetch.china_today", lambda: clock.value)
    return clock


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "cache.sqlite3") as s:
        yield s


def stat_queries(sb):
    """(link_key, platform, start_date, end_date) of every stat request the sandbox answered."""
    return sorted((r.path.split("/")[3], r.query["platform"], r.query["start_date"], r.query["end_date"])
                  for r in sb.requests if r.path.endswith("/stat"))


def days(start: dt.date, n: int) -> list[str]:
    return [(start + dt.timedelta(days=i)).isoformat() for i in range(n)]


# -- the file and its schema -----------------------------------------------------------------
def test_a_new_store_is_a_wal_database_with_our_schema_version(tmp_path):
    path = tmp_path / "sub" / "cache.sqlite3"  # missing folders are created
    Store(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_unknown_schema_version_is_refused(tmp_path):
    path = tmp_path / "cache.sqlite3"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreVersionError, match="version 99") as info:
        Store(path)
    assert isinstance(info.value, RuntimeError)
    assert f"reads version {SCHEMA_VERSION}" in str(info.value)


def test_a_foreign_database_or_file_is_refused(tmp_path):
    foreign = tmp_path / "other.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(StoreVersionError, match="not a jmlink-analytics cache"):
        Store(foreign)
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database, just some text" * 200)
    with pytest.raises(StoreError, match="not a SQLite database"):
        Store(garbage)


def test_home_is_expanded_in_the_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with Store("~/caches/jm.sqlite3") as s:
        assert s.path == str(tmp_path / "caches" / "jm.sqlite3")
    assert (tmp_path / "caches" / "jm.sqlite3").exists()


@pytest.mark.parametrize(("max_age", "error"), [(-1, ValueError), ("1h", TypeError), (True, TypeError)])
def test_max_age_is_checked(tmp_path, max_age, error):
    with pytest.raises(error, match="max_age"):
        Store(tmp_path / "x.sqlite3", max_age=max_age)


def test_closed_store_refuses_use_and_repr_names_the_path(tmp_path):
    s = Store(tmp_path / "c.sqlite3", max_age=60)
    assert "c.sqlite3" in repr(s) and "max_age=60.0" in repr(s)
    s.close()
    assert "closed" in repr(s)
    with pytest.raises(StoreError, match="closed"):
        s.info()


# -- days in, days out -----------------------------------------------------------------------
def test_days_round_trip_across_blocks_with_their_final_flag(store):
    start = dt.date(2024, 1, 20)  # spans three 32-day blocks
    counters = np.arange(4 * 60, dtype=np.int64).reshape(4, 60) * 1_000_000_007  # beyond int32
    final = np.arange(60) < 58
    store.save_days(*APP, "AAAA", "ios", start, counters, final)
    block = store.load_days(*APP, ["BBBB", "AAAA"], ["all", "ios"], start - dt.timedelta(days=5),
                            start + dt.timedelta(days=70))
    order = np.argsort(block.offset)
    assert (block.key_index == 1).all() and (block.platform == 1).all()  # AAAA, ios
    assert block.offset[order].tolist() == list(range(5, 65))            # never-fetched days are absent
    assert (block.counters[:, order] == counters).all()
    assert block.final[order].tolist() == final.tolist()


def test_saving_again_overwrites_only_the_days_given(store):
    start = dt.date(2024, 3, 1)
    store.save_days(*APP, "AAAA", "all", start, np.ones((4, 10), dtype=np.int64), np.zeros(10, dtype=bool))
    store.save_days(*APP, "AAAA", "all", start + dt.timedelta(days=8), np.full((4, 2), 7), np.ones(2, dtype=bool))
    block = store.load_days(*APP, ["AAAA"], ["all"], start, start + dt.timedelta(days=9))
    order = np.argsort(block.offset)
    assert block.counters[0, order].tolist() == [1] * 8 + [7, 7]
    assert block.final[order].tolist() == [False] * 8 + [True, True]


def test_apps_and_base_urls_never_mix(store):
    start = dt.date(2024, 3, 1)
    store.save_days("key-1", "http://127.0.0.1:1", "AAAA", "all", start, np.ones((4, 3), dtype=np.int64),
                    np.ones(3, dtype=bool))
    for app in (("key-2", "http://127.0.0.1:1"), ("key-1", "https://api.jmlk.co")):
        assert len(store.load_days(*app, ["AAAA"], ["all"], start, start).offset) == 0


def test_info_and_clear(store):
    info = store.info()
    assert (info.rows, info.links, info.first_date, info.last_date) == (0, 0, None, None)
    store.save_days(*APP, "AAAA", "all", dt.date(2024, 5, 1), np.zeros((4, 31), dtype=np.int64),
                    np.ones(31, dtype=bool))
    store.save_days(*APP, "AAAB", "ios", dt.date(2024, 4, 1), np.zeros((4, 3), dtype=np.int64),
                    np.ones(3, dtype=bool))
    store.save_links(*APP, [{"id": 1, "link_key": "AAAA"}, {"id": 2, "link_key": "AAAB"}])
    info = store.info()
    assert (info.apps, info.links, info.rows) == (1, 2, 34)
    assert (info.first_date, info.last_date) == (dt.date(2024, 4, 1), dt.date(2024, 5, 31))
    assert info.size_bytes > 0 and info.path == store.path
    store.clear()
    info = store.info()
    assert (info.apps, info.links, info.rows, info.first_date) == (0, 0, 0, None)
    assert store.load_links(*APP) is None


def test_several_threads_write_and_read_at_once(store):
    start = dt.date(2024, 1, 1)
    keys = [f"K{i:03d}" for i in range(16)]
    problems: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for day in range(0, 90, 10):
                values = np.full((4, 10), i * 1000 + day, dtype=np.int64)
                store.save_days(*APP, keys[i], "all", start + dt.timedelta(days=day), values, np.ones(10, dtype=bool))
                store.load_days(*APP, keys, ["all"], start, start + dt.timedelta(days=89))
        except BaseException as exc:  # pragma: no cover - reported below
            problems.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(keys))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems == []
    block = store.load_days(*APP, keys, ["all"], start, start + dt.timedelta(days=89))
    assert len(block.offset) == len(keys) * 90
    expected = block.key_index * 1000 + (block.offset // 10) * 10
    assert (block.counters == expected).all()


# -- fetch_links through the store -------------------------------------------------------------
def test_links_are_reused_while_younger_than_max_age(make_sandbox, tmp_path):
    sb = make_sandbox(links=12, rate_limits=FAST)
    with sb.client() as client, Store(tmp_path / "c.sqlite3") as s:
        first = fetch_links(client, store=s)
        listed = len(sb.requests)
        again = fetch_links(client, store=s)
        assert len(sb.requests) == listed  # served from the cache
        assert again.equals(first)
    with sb.client() as client, Store(tmp_path / "c.sqlite3", max_age=0) as s:
        fetch_links(client, store=s)
        assert len(sb.requests) > listed  # too old: listed again


# -- fetch_stats through the store -----------------------------------------------------------
def test_a_second_run_asks_only_for_the_partial_days(make_sandbox, store, today):
    sb = make_sandbox(links=5, days=30, rate_limits=FAST)
    keys = [link["link_key"] for link in sb.app.links]
    start = TODAY - dt.timedelta(days=20)
    with sb.client() as client:
        first = fetch_stats(client, keys, start=start, platform=["ios", "android"], store=store)
        assert len(stat_queries(sb)) == len(keys) * 2
        sb.clear_requests()
        second = fetch_stats(client, keys, start=start, platform=["ios", "android"], store=store)
    yesterday = (TODAY - dt.timedelta(days=1)).isoformat()
    assert stat_queries(sb) == sorted((k, p, yesterday, TODAY.isoformat()) for k in keys for p in ("ios", "android"))
    assert second.equals(first)
    assert second["is_partial"].sum() == len(keys) * 2 * 2


def test_partial_days_are_asked_once_more_then_kept(make_sandbox, store, today):
    sb = make_sandbox(links=4, days=30, rate_limits=FAST)
    keys = [link["link_key"] for link in sb.app.links]
    start, end = TODAY - dt.timedelta(days=10), TODAY
    with sb.client() as client:
        fetch_stats(client, keys, start=start, end=end, store=store)
        today.set(TODAY + dt.timedelta(days=3))  # TODAY and the day before are final now
        sb.clear_requests()
        later = fetch_stats(client, keys, start=start, end=end, store=store)
        assert stat_queries(sb) == sorted((k, "all", (TODAY - dt.timedelta(days=1)).isoformat(), TODAY.isoformat())
                                          for k in keys)
        sb.clear_requests()
        last = fetch_stats(client, keys, start=start, end=end, store=store)
    assert stat_queries(sb) == []
    assert last.equals(later) and not last["is_partial"].any()


def test_days_the_api_left_out_are_not_asked_again(make_sandbox, store, today):
    sb = make_sandbox(links=6, days=30, omit_zero_days=True, rate_limits=FAST)
    keys = [link["link_key"] for link in sb.app.links]
    start, end = TODAY - dt.timedelta(days=40), TODAY - dt.timedelta(days=5)  # begins before any link existed
    with sb.client() as client:
        first = fetch_stats(client, keys, start=start, end=end, store=store)
        served = sum(len(sb.app.stats(k, start, end, "all")) for k in keys)
        assert served < len(first)  # days were left out of the answers
        sb.clear_requests()
        second = fetch_stats(client, keys, start=start, end=end, store=store)
    assert stat_queries(sb) == []
    assert second.equals(first)


def test_a_wider_range_asks_only_for_the_new_days(make_sandbox, store, today):
    sb = make_sandbox(links=3, days=30, rate_limits=FAST)
    keys = [link["link_key"] for link in sb.app.links]
    a, b = TODAY - dt.timedelta(days=20), TODAY - dt.timedelta(days=10)
    with sb.client() as client:
        fetch_stats(client, keys, start=a, end=b, store=store)
        sb.clear_requests()
        wide = fetch_stats(client, keys, start=a - dt.timedelta(days=5), end=b + dt.timedelta(days=3), store=store)
        asked = stat_queries(sb)
        fresh = fetch_stats(client, keys, start=a - dt.timedelta(days=5), end=b + dt.timedelta(days=3))
    before = ((a - dt.timedelta(days=5)).isoformat(), (a - dt.timedelta(days=1)).isoformat())
    after = ((b + dt.timedelta(days=1)).isoformat(), (b + dt.timedelta(days=3)).isoformat())
    assert asked == sorted((k, "all", *r) for k in keys for r in (before, after))
    assert wide.equals(fresh)


def test_an_interrupted_run_resumes_with_the_rest(make_sandbox, store, today):
    sb = make_sandbox(links=10, days=30, rate_limits=FAST)
    keys = sorted(link["link_key"] for link in sb.app.links)
    bad = keys[4] + "~"  # unknown to the API (3005); sorts right after keys[4]
    start, end = TODAY - dt.timedelta(days=20), TODAY - dt.timedelta(days=3)
    with sb.client() as client:
        with pytest.raises(e.InvalidRequestError):
            fetch_stats(client, [*keys, bad], start=start, end=end, store=store, max_workers=1)
        done = {q[0] for q in stat_queries(sb) if q[0] != bad}
        assert set(keys[:5]) <= done  # what came back before the error is stored (the rest of the queue dropped)
        sb.clear_requests()
        resumed = fetch_stats(client, keys, start=start, end=end, store=store)
        assert {q[0] for q in stat_queries(sb)} == set(keys) - done
        assert resumed.equals(fetch_stats(client, keys, start=start, end=end))


def test_ctrl_c_keeps_what_was_fetched(make_sandbox, store, today, monkeypatch):
    sb = make_sandbox(links=8, days=30, rate_limits=FAST)
    keys = sorted(link["link_key"] for link in sb.app.links)
    start, end = TODAY - dt.timedelta(days=15), TODAY - dt.timedelta(days=3)
    with sb.client() as client:
        real, calls, release = client.get_link_stats, [], threading.Event()

        def interrupted_after_three(*args, **kwargs):
            calls.append(args[0])
            if len(calls) == 4:
                raise KeyboardInterrupt
            if len(calls) > 4:  # a request in flight when Ctrl-C came: it ends without an answer
                release.wait(timeout=10)
                raise ConnectionAbortedError
            return real(*args, **kwargs)

        monkeypatch.setattr(client, "get_link_stats", interrupted_after_three)
        with pytest.raises(KeyboardInterrupt):
            fetch_stats(client, keys, start=start, end=end, store=store, max_workers=1)
        release.set()
        for thread in threading.enumerate():
            if thread.name.startswith("jmlink-fetch"):
                thread.join(timeout=10)
        assert 4 <= len(calls) <= 5, "queued requests should be dropped"  # 3 done, the interrupt, 1 in flight
        monkeypatch.setattr(client, "get_link_stats", real)
        assert store.info().rows == 3 * 13
        sb.clear_requests()
        fetch_stats(client, keys, start=start, end=end, store=store)
    assert {q[0] for q in stat_queries(sb)} == set(keys[3:])


def test_warn_mode_stores_what_succeeded(make_sandbox, store, today):
    sb = make_sandbox(links=4, days=30, rate_limits=FAST)
    keys = [link["link_key"] for link in sb.app.links]
    start, end = TODAY - dt.timedelta(days=9), TODAY - dt.timedelta(days=3)
    with sb.client() as client, pytest.warns(UserWarning, match="NOPE"):
        df = fetch_stats(client, [*keys, "NOPE"], start=start, end=end, store=store, errors="warn")
    assert set(df.attrs["failed"]) == {"NOPE"}
    assert store.info().rows == len(keys) * 7


def test_the_cache_file_holds_the_app_key_but_never_the_secret(make_sandbox, tmp_path, today):
    sb = make_sandbox(links=3, rate_limits=FAST)
    path = tmp_path / "c.sqlite3"
    with sb.client() as client, Store(path) as s:
        fetch_stats(client, start=TODAY - dt.timedelta(days=5), store=s)
        assert sb.master_secret not in repr(s)
    content = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert sb.app_key.encode() in content
    assert sb.master_secret.encode() not in content


def test_stores_opened_on_one_new_file_at_the_same_moment_all_open(tmp_path):
    # a cron job and a notebook starting together: switching the new file to WAL answered "database is
    # locked" at once to all but one of them (19 of 200 rounds of four failed with StoreError)
    def open_store(path):
        with Store(path) as store:
            store.info()

    assert failures_at_the_same_moment(open_store, tmp_path) == []
