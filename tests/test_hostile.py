"""A hostile server: every off-contract answer fails loudly and typed, and nothing wrong is ever cached.

The server (``tests/hostile_server.py``) is the tests' own, on 127.0.0.1, and breaks the
contract on purpose. Each case asserts the typed error, how many requests were sent, and what
the :class:`Store` holds afterwards (nothing from a rejected answer; a second fetch asks again).
Inputs that cannot be sent are refused before any request.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import warnings

import numpy as np
import pytest

from jmlink_analytics import cli
from jmlink_analytics import errors as e
from jmlink_analytics.client import JMLinkClient
from jmlink_analytics.data import Store, fetch_links, fetch_stats
from tests.hostile_server import COUNTERS, GOOD, HostileServer, Reply, good_rows, record

KEY, SECRET = "app-key-0001", "master-secret-0123456789"
TOKEN = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
START, END = "2024-06-01", "2024-06-03"  # long final: a stored day would be stored for good
N_DAYS = 3


@pytest.fixture
def serve():
    servers: list[HostileServer] = []

    def start(answer):
        server = HostileServer(answer)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def client_for(server: HostileServer, **kwargs) -> JMLinkClient:
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("backoff_factor", 0)
    return JMLinkClient(KEY, SECRET, base_url=server.base_url, **kwargs)


def stored_days(store: Store, base_url: str, key: str = "K001") -> int:
    """How many days of ``key`` (platform all, June 1-3) the store holds."""
    block = store.load_days(KEY, base_url, [key], ["all"], dt.date(2024, 6, 1), dt.date(2024, 6, 3))
    return len(block.offset)


# -- 1. stat answers off the contract ------------------------------------------------------------
def _second(**change):
    """The good rows with the second day's row changed (``None`` deletes a field)."""
    def body(start, end):
        rows = good_rows(start, end)
        rows[1] = {k: v for k, v in {**rows[1], **change}.items() if v is not _DROP}
        return {"data": rows}
    return body


_DROP = object()


def _rows(make):
    return lambda start, end: {"data": make(good_rows(start, end))}


STAT_CASES = {
    # iday not exactly yyyy-MM-dd
    "iday_compact": (_second(iday="20240602"), "'20240602'"),
    "iday_month": (_second(iday="2024-06"), "'2024-06'"),
    "iday_with_zone": (_second(iday="2024-06-02T00:00:00+08:00"), "'2024-06-02T00:00:00+08:00'"),
    "iday_with_time": (_second(iday="2024-06-02 00:00:00"), "'2024-06-02 00:00:00'"),
    "iday_number": (_second(iday=20240602), "20240602"),
    "iday_null": (_second(iday=None), "None"),
    "iday_not_a_day": (_second(iday="2024-06-31"), "'2024-06-31'"),
    "iday_missing": (_second(iday=_DROP), "no 'iday'"),
    # the range and the days
    "day_before_range": (_second(iday="2024-05-31"), "'2024-05-31' is outside the range"),
    "day_after_range": (_second(iday="2024-06-04"), "'2024-06-04' is outside the range"),
    "day_twice": (_second(iday="2024-06-01"), "'2024-06-01' was sent twice"),
    # the counters
    "counter_missing": (_second(open_count=_DROP), "lacks 'open_count'"),
    "counter_renamed": (_second(click_count=_DROP, clickCount=12), "lacks 'click_count'"),
    "counter_text": (_second(click_count="12"), "'12'"),
    "counter_float": (_second(click_count=12.0), "12.0"),
    "counter_fraction": (_second(click_count=12.5), "12.5"),
    "counter_negative": (_second(install_count=-1), "-1"),
    "counter_beyond_int64": (_second(exposure_count=2**63), str(2**63)),
    "counter_huge": (_second(exposure_count=10**30), str(10**30)),
    "counter_bool": (_second(open_count=True), "True"),
    "counter_null": (_second(click_count=None), "None"),
    # the answer's shape
    "data_object": (lambda s, e: {"data": {"2024-06-01": GOOD}}, "'data' must be a list"),
    "data_null": (lambda s, e: {"data": None}, "'data' must be a list"),
    "data_text": (lambda s, e: {"data": "[]"}, "'data' must be a list"),
    "data_missing": (lambda s, e: {"rows": good_rows(s, e)}, "expected an object with 'data'"),
    "body_a_list": (lambda s, e: good_rows(s, e), "expected an object with 'data'"),
    "row_a_list": (_rows(lambda rows: [rows[0], list(rows[1].values())]), "row 1 is not an object"),
    "row_a_string": (_rows(lambda rows: [rows[0], "2024-06-02"]), "row 1 is not an object"),
    "counter_twice_in_a_row": (lambda s, e: json.dumps({"data": good_rows(s, e)})[:-3] + ', "click_count": 99}]}',
                               "names 'click_count' twice"),
    "data_twice": (lambda s, e: '{"data": [], "data": ' + json.dumps(good_rows(s, e)) + "}", "names 'data' twice"),
    "body_not_json": (lambda s, e: "<html>502 Bad Gateway</html>", "not JSON"),
    "body_empty": (lambda s, e: "", "empty body"),
}


@pytest.mark.parametrize(("bad", "needle"), STAT_CASES.values(), ids=STAT_CASES.keys())
def test_off_contract_stat_answer_is_refused_naming_link_platform_and_value_and_never_stored(
        serve, tmp_path, bad, needle):
    hostile = [True]

    def answer(seen):
        start, end = seen.query["start_date"], seen.query["end_date"]
        return Reply(bad(start, end) if hostile[0] else {"data": good_rows(start, end)})

    server = serve(answer)
    with Store(tmp_path / "cache.sqlite3") as store, client_for(server) as c:
        with pytest.raises(e.ResponseFormatError) as info:
            fetch_stats(c, "K001", start=START, end=END, store=store, progress=False)
        text = str(info.value)
        assert "link 'K001'" in text and "platform 'all'" in text and needle in text
        assert len(server.requests) == 1
        assert stored_days(store, server.base_url) == 0 and store.info().rows == 0  # nothing of the rejected answer

        hostile[0] = False  # the same fetch again: asked again, and the right numbers
        stats = fetch_stats(c, "K001", start=START, end=END, store=store, progress=False)
        assert len(server.requests) == 2
        assert {name: stats[name].tolist() for name in COUNTERS} == {n: [v] * N_DAYS for n, v in GOOD.items()}
        assert stored_days(store, server.base_url) == N_DAYS


def test_with_errors_warn_a_hostile_answer_costs_one_link_not_the_fetch(serve, tmp_path):
    def answer(seen):
        start, end = seen.query["start_date"], seen.query["end_date"]
        rows = good_rows(start, end)
        if seen.path == "/v1/links/K002/stat":
            rows[0]["click_count"] = 2**64  # would be an OverflowError in numpy
        return Reply({"data": rows})

    server = serve(answer)
    with Store(tmp_path / "cache.sqlite3") as store, client_for(server) as c:
        with pytest.warns(UserWarning, match="1 link.*K002"):
            stats = fetch_stats(c, ["K001", "K002", "K003"], start=START, end=END, store=store, errors="warn",
                                progress=False)
        assert sorted(set(stats["link_key"].astype(str))) == ["K001", "K003"]
        assert "18446744073709551616" in stats.attrs["failed"]["K002"]
        assert len(server.requests) == 3
        assert [stored_days(store, server.base_url, k) for k in ("K001", "K002", "K003")] == [N_DAYS, 0, N_DAYS]


# -- 1. listing pages off the contract -----------------------------------------------------------
def _page(total=2, records=None, **override):
    body = {"total": total, "records": [record(1), record(2)] if records is None else records}
    return {**body, **override}


LISTING_CASES = {
    "total_negative": (_page(total=-1), "'total' must be a non-negative integer"),
    "total_text": (_page(total="2"), "'total' must be a non-negative integer; got '2'"),
    "total_float": (_page(total=2.0), "got 2.0"),
    "total_bool": (_page(total=True), "got True"),
    "total_beyond_int64": (_page(total=2**63), str(2**63)),
    "records_beyond_total": (_page(total=1), "a page of 2 records cannot belong to 'total' 1 links"),
    "total_missing": ({"records": [record(1)]}, "expected an object with 'total' and 'records'"),
    "records_object": (_page(records={"1": record(1)}), "'records' must be a list of objects"),
    "records_null": ({"total": 0, "records": None}, "'records' must be a list of objects"),
    "record_not_object": (_page(records=[record(1), "K002"]), "record 1 is 'K002'"),
    "record_without_id": (_page(records=[record(1), {"link_key": "K002"}]), "lacks 'id' or 'link_key'"),
    "record_without_link_key": (_page(records=[record(1), {"id": 2}]), "lacks 'id' or 'link_key'"),
    "id_beyond_int64": (_page(records=[record(1), record(2**63)]), str(2**63)),
    "id_text": (_page(records=[record(1), record("2")]), "got '2'"),
    "id_float": (_page(records=[record(1), record(2.0)]), "got 2.0"),
    "link_key_dotdot": (_page(records=[record(1), record(2, link_key="..")]), "got '..'"),
    "link_key_control": (_page(records=[record(1), record(2, link_key="K\n2")]), "control characters"),
    "link_key_number": (_page(records=[record(1), record(2, link_key=2)]), "got int 2"),
    "same_key_two_ids": (_page(records=[record(1), record(2, link_key="K001")]), "must each name one link"),
    "same_id_two_keys": (_page(records=[record(1), record(1, link_key="K002")]), "must each name one link"),
    "page_larger_than_asked": (_page(total=501, records=[record(i) for i in range(1, 502)]), "holds 501 records"),
    # text fields that are not text (issue 19: they became "{'a': 1}", "True", "5")
    "name_object": (_page(records=[record(1), record(2, name={"a": 1})]), "'name' must be text or null; got {'a': 1}"),
    "channel_bool": (_page(records=[record(1), record(2, channel=True)]), "'channel' must be text or null; got True"),
    "share_title_number": (_page(records=[record(1, share_title=5)]), "'share_title' must be text or null; got 5"),
    "create_time_list": (_page(records=[record(1, create_time=[2024])]), "'create_time' must be text or null"),
    # bodies that are not text, or not readable JSON
    "lone_surrogate_name": (json.dumps(_page(records=[record(1), record(2, name="x\ud800y")])).encode(),
                            "lone surrogate escape at records[1].name"),
    "lone_surrogate_low": (json.dumps(_page(records=[record(1, landing_page="\udfff")])).encode(),
                           "lone surrogate escape at records[0].landing_page"),
    "invalid_utf8": (json.dumps(_page()).encode().replace(b"link 2", b"link \xff\xfe"), "not valid UTF-8 text"),
    "utf8_encoded_surrogate": (json.dumps(_page()).encode().replace(b"link 2", b"link \xed\xa0\x80"),
                               "not valid UTF-8 text"),
    "nested_100000_deep": (b'{"total": 1, "records": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                           "nested too deeply"),
}


@pytest.mark.parametrize(("body", "needle"), LISTING_CASES.values(), ids=LISTING_CASES.keys())
def test_off_contract_listing_page_is_refused_and_never_stored(serve, tmp_path, body, needle):
    server = serve([Reply(body)])
    with Store(tmp_path / "cache.sqlite3", max_age=None) as store, client_for(server) as c:
        with pytest.raises(e.ResponseFormatError, match="GET /v1/links") as info:
            fetch_links(c, store=store)
        assert needle in str(info.value)
        assert len(server.requests) == 1
        assert store.load_links(KEY, server.base_url) is None and store.info().links == 0


# -- 3. a bounded listing --------------------------------------------------------------------------
def _records(first: int, n: int = 500) -> list[dict]:
    return [record(i) for i in range(first, first + n)]


def _listing(total, pages):
    """Reply with ``pages[page_index - 1]`` (the last one for any later index), ``total`` promised."""
    def answer(seen):
        index = int(seen.query["page_index"])
        return Reply({"total": total, "records": pages[min(index, len(pages)) - 1]})
    return answer


def _growing():
    """Every request brings 500 new links and promises 500 more than the last: it never adds up."""
    seen_so_far = []

    def answer(seen):
        seen_so_far.append(seen)
        n = len(seen_so_far)
        return Reply({"total": 1000 + 500 * n, "records": _records(500 * (n - 1) + 1)})
    return answer


@pytest.mark.parametrize(("answer", "requests", "needle"), [
    # the server ignores page_index: page 2 is page 1 again
    (_listing(1500, [_records(1)]), 2, "promised 1500 links but 500 came back: page 2 brought no new link"),
    # a page comes back empty while links are still missing
    (_listing(1500, [_records(1), []]), 2, "promised 1500 links but 500 came back: page 2 is empty"),
    # the first page is empty though links are promised
    (_listing(4, [[]]), 1, "promised 4 links but 0 came back: page 1 is empty"),
    # new links on every page, and a total that keeps growing: at most 3 * ceil(1500 / 500) + 2 = 11 pages (issue 18:
    # a listing that shifts is read again, so the budget is three passes; it was one pass + 2)
    (_growing(), 11, "promised 6500 links but 5500 came back: 11 pages were read (at most 11)"),
], ids=["same_page_forever", "empty_page", "empty_first_page", "endless_new_links"])
def test_a_listing_that_never_adds_up_stops_within_its_page_budget(serve, tmp_path, answer, requests, needle):
    server = serve(answer)
    with Store(tmp_path / "cache.sqlite3", max_age=None) as store, client_for(server) as c:
        with pytest.raises(e.ResponseFormatError, match="GET /v1/links") as info:
            fetch_links(c, store=store)
        assert needle in str(info.value)
        assert len(server.requests) == requests
        assert store.load_links(KEY, server.base_url) is None and store.info().links == 0


def test_a_listing_picks_up_links_added_meanwhile_within_the_budget(serve):
    # 5 links promised in pages of 2; a new link appears at the top after the first page
    state = {"links": _records(1, 5)}

    def answer(seen):
        index = int(seen.query["page_index"])
        if len(server.requests) == 2:
            state["links"] = [record(99), *state["links"]]
        links = state["links"]
        return Reply({"total": len(links), "records": links[2 * (index - 1):2 * index]})

    server = serve(answer)
    with client_for(server) as c:
        got = [r["id"] for r in c.iter_links(page_size=2)]
    assert sorted(got) == [1, 2, 3, 4, 5, 99] and len(got) == len(set(got))
    # the total changed while paging: a second pass, which shows no shift (issue 18: it read up to the first
    # "every link came", counting a deleted one too); 6 <= 3 * ceil(5/2) + 2
    assert [s.query["page_index"] for s in server.requests] == ["1", "2", "3", "1", "2", "3"]


def test_a_listing_that_adds_up_is_read_twice_and_never_past_its_last_page(serve):
    # total 5 in pages of 2: pages 1, 2, 3 -- and not a fourth request for the empty page; then once more, as a
    # listing of several pages always is (a change no answer shows may have hidden a link: tests/test_listing_shifts)
    links = [record(i) for i in range(1, 6)]
    server = serve(_listing(5, [links[0:2], links[2:4], links[4:5], []]))
    with client_for(server) as c:
        got = list(c.iter_links(page_size=2))
    assert [r["id"] for r in got] == [1, 2, 3, 4, 5]
    assert [s.query["page_index"] for s in server.requests] == ["1", "2", "3", "1", "2", "3"]


def test_a_listing_of_one_page_is_read_once(serve):
    links = [record(i) for i in range(1, 6)]
    server = serve(_listing(5, [links]))
    with client_for(server) as c:
        got = list(c.iter_links(page_size=500))
    assert [r["id"] for r in got] == [1, 2, 3, 4, 5]
    assert [s.query["page_index"] for s in server.requests] == ["1"]


# -- 4. secrets echoed by the server ---------------------------------------------------------------
def _echo(status, template, times=None):
    """Answer ``template`` with the request's Authorization header, its token and the secret filled in
    (the first ``times`` requests; then an empty listing)."""
    served = []

    def answer(seen):
        served.append(seen)
        if times is not None and len(served) > times:
            return Reply({"total": 0, "records": []})
        authorization = seen.headers.get("Authorization", "")
        return Reply(template.format(auth=authorization, token=authorization.split(" ")[-1], secret=SECRET),
                     status=status)
    return answer


@pytest.mark.parametrize(("status", "template", "cls"), [
    (401, '{{"error": {{"code": 3002, "message": "auth failed for {auth}"}}}}', e.AuthError),
    (400, '{{"error": {{"code": 3005, "message": "bad secret {secret}"}}}}', e.InvalidRequestError),
    (403, "<html>forbidden: Authorization: {auth}</html>", e.InvalidRequestError),
    (404, "no such path; token={token}", e.NotFoundError),
    (200, "<html>login as {secret} / {token}</html>", e.ResponseFormatError),
], ids=["3002_echoes_header", "3005_echoes_secret", "html_echoes_header", "text_echoes_token", "200_echoes_both"])
def test_an_echoed_credential_is_masked_in_the_error_and_the_logs(serve, caplog, status, template, cls):
    server = serve(_echo(status, template))
    caplog.set_level(logging.DEBUG, logger="jmlink_analytics")
    with client_for(server) as c, pytest.raises(cls) as info:
        c.get_links_page()
    assert len(server.requests) == 1
    shown = "\n".join([str(info.value), repr(info.value), info.value.message, caplog.text])
    assert SECRET not in shown and TOKEN not in shown and TOKEN.rstrip("=") not in shown
    assert "***" in str(info.value)


def test_an_echoed_credential_in_a_listing_record_is_masked_in_the_listings_own_error(serve, caplog):
    # the listing's own check (one id, one key) quotes the keys the server sent, outside the per-page masking
    pages = [[record(1, link_key=SECRET), record(2)], [record(1, link_key="K001")]]
    server = serve(_listing(3, pages))
    caplog.set_level(logging.DEBUG, logger="jmlink_analytics")
    with client_for(server) as c, pytest.raises(e.ResponseFormatError, match="must each name one link") as info:
        list(c.iter_links(page_size=2))
    assert len(server.requests) == 2
    shown = "\n".join([str(info.value), repr(info.value), info.value.message, caplog.text])
    assert SECRET not in shown and "***" in str(info.value)


def test_an_echoed_credential_is_masked_in_the_retry_log_lines_too(serve, caplog, no_wait):
    server = serve(_echo(500, '{{"error": {{"code": 3011, "message": "fault for {auth} / {secret}"}}}}', times=2))
    caplog.set_level(logging.DEBUG, logger="jmlink_analytics")
    with client_for(server, max_retries=3) as c:
        page = c.get_links_page()
    assert page.total == 0 and len(server.requests) == 3 and len(no_wait) == 2
    assert "retrying" in caplog.text
    assert SECRET not in caplog.text and TOKEN not in caplog.text and "***" in caplog.text


# -- 5. inputs refused before anything is sent ---------------------------------------------------
@pytest.mark.parametrize(("make", "error", "needle"), [
    (lambda url: JMLinkClient(KEY, SECRET, base_url=url + "/?x=1"), ValueError, "base_url"),
    (lambda url: JMLinkClient(KEY, SECRET, base_url=url + "#top"), ValueError, "base_url"),
    (lambda url: JMLinkClient(KEY, SECRET, base_url="http://127.0.0.1:99999"), ValueError, "port"),
    (lambda url: JMLinkClient(KEY, SECRET, base_url="http://127.0.0.1:http"), ValueError, "port"),
    (lambda url: JMLinkClient(KEY, SECRET, base_url="http://127.0.0.1:0"), ValueError, "port"),
    (lambda url: JMLinkClient(KEY, SECRET, base_url=url + "/v1 x"), ValueError, "base_url"),
    (lambda url: JMLinkClient("key:with:colons", SECRET, base_url=url), ValueError, "app_key"),
    (lambda url: JMLinkClient(KEY, "秘密-secret", base_url=url), ValueError, "master_secret"),
    (lambda url: JMLinkClient(KEY, "line\nbreak", base_url=url), ValueError, "master_secret"),
    (lambda url: JMLinkClient("key\x00", SECRET, base_url=url), ValueError, "app_key"),
    (lambda url: JMLinkClient(KEY, SECRET, base_url=url, rate_limits={"stats": (500, float("inf"))}),
     ValueError, "rate_limits['stats']"),
    (lambda url: JMLinkClient(KEY, SECRET, base_url=url, rate_limits={"links": (100, float("nan"))}),
     ValueError, "rate_limits['links']"),
    (lambda url: JMLinkClient(KEY, SECRET, base_url=url, rate_limits={"stats": (float("inf"), 60)}),
     ValueError, "rate_limits['stats']"),
    (lambda url: JMLinkClient(KEY, SECRET, base_url=url, timeout=float("inf")), ValueError, "timeout"),
    (lambda url: JMLinkClient(KEY, SECRET, base_url=url, backoff_max=float("inf")), ValueError, "backoff_max"),
    (lambda url: client_for_url(url).get_link_stats(".", START, END), ValueError, "link_key"),
    (lambda url: client_for_url(url).get_link_stats("..", START, END), ValueError, "link_key"),
    (lambda url: fetch_stats(client_for_url(url), [".."], start=START, end=END), ValueError, "link_keys[0]"),
    (lambda url: fetch_stats(None, ["K001"], start=START, end=END), TypeError, "client"),
    (lambda url: fetch_links(None), TypeError, "client"),
], ids=["query", "fragment", "port_too_big", "port_not_number", "port_zero", "space", "key_colon",
        "secret_not_latin1", "secret_newline", "key_nul", "inf_window", "nan_window", "inf_calls", "inf_timeout",
        "inf_backoff", "key_dot", "key_dotdot", "fetch_key_dotdot", "fetch_stats_none", "fetch_links_none"])
def test_bad_input_is_refused_before_anything_is_sent(serve, make, error, needle):
    server = serve([Reply({"data": []})])
    with pytest.raises(error) as info:
        make(server.base_url)
    assert needle in str(info.value)
    assert SECRET not in str(info.value)
    assert server.requests == []


def client_for_url(url: str) -> JMLinkClient:
    return JMLinkClient(KEY, SECRET, base_url=url, max_retries=0)


@pytest.mark.parametrize("content", [b"x", b"\x00", b"hello, world\n" * 400, b"SQLite format 2\x00" + bytes(84)],
                         ids=["one_byte", "one_nul", "text_file", "not_quite_sqlite"])
def test_a_store_refuses_a_file_that_is_not_its_database_and_leaves_it_untouched(tmp_path, content):
    path = tmp_path / "precious.txt"
    path.write_bytes(content)
    with pytest.raises(e.StoreError, match="not a jmlink-analytics cache"):
        Store(path)
    assert path.read_bytes() == content


def test_a_store_refuses_a_folder_and_another_sqlite_database(tmp_path):
    with pytest.raises(e.StoreError, match="not a file"):
        Store(tmp_path)
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (text)")
    with pytest.raises(e.StoreVersionError, match="something else"):
        Store(other)


def test_a_read_only_store_fails_at_open_not_at_the_first_write(tmp_path, monkeypatch):
    path = tmp_path / "cache.sqlite3"
    Store(path).close()
    path.chmod(0o444)
    connect = sqlite3.connect
    # root writes through file modes: open the file the way SQLite opens a read-only file
    monkeypatch.setattr("jmlink_analytics.data.store.sqlite3.connect",
                        lambda database, **kw: connect(f"file:{database}?mode=ro", uri=True, **kw))
    with pytest.raises(e.StoreError, match="readonly|read-only"):
        Store(path)


# -- 2. every failure is typed, in the store too ------------------------------------------------
def test_store_errors_are_store_errors_not_sqlite_or_numpy_errors(tmp_path, serve):
    path = tmp_path / "cache.sqlite3"
    with Store(path) as store:
        store.save_days(KEY, "http://x", "K001", "all", dt.date(2024, 6, 1), np.ones((4, 3), dtype=np.int64),
                        np.ones(3, dtype=bool))
        store.save_links(KEY, "http://x", [record(1)])
    with sqlite3.connect(path) as conn:  # damage the file behind the store's back
        conn.execute("UPDATE days SET counters = x'00'")
        conn.execute("UPDATE links SET record = '{not json'")
    with Store(path, max_age=None) as store:
        with pytest.raises(e.StoreError, match="load days"):
            store.load_days(KEY, "http://x", ["K001"], ["all"], dt.date(2024, 6, 1), dt.date(2024, 6, 3))
        with pytest.raises(e.StoreError, match="save days"):
            store.save_days(KEY, "http://x", "K001", "all", dt.date(2024, 6, 1), np.ones((4, 1), dtype=np.int64),
                            np.ones(1, dtype=bool))
        with pytest.raises(e.StoreError, match="load links"):
            store.load_links(KEY, "http://x")
    with Store(path, timeout=0) as store:  # another process holds the write lock
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(e.StoreError, match="locked"):
                store.save_links(KEY, "http://x", [record(1)])
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            store.save_links(KEY, "http://x", [record(2)])  # the store is still usable afterwards
        assert [r["id"] for r in store.load_links(KEY, "http://x")] == [2]


# -- 6. size, time, decoding, redirects, echoed secrets (issue 19) ----------------------------------
CAP = 16 * 1024 * 1024  # the documented default of max_answer_bytes

#: The client in a process of its own, so its peak memory (ru_maxrss) is its own.
_MEASURED_CLIENT = """
import resource, sys, time
from jmlink_analytics import errors
from jmlink_analytics.client import JMLinkClient
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
started = time.monotonic()
with JMLinkClient("app-key-0001", "master-secret-0123456789", base_url=sys.argv[1], max_retries=2,
                  backoff_factor=0, shared_limits=False) as client:
    try:
        client.get_link_stats("K001", "2024-06-01", "2024-06-03")
        outcome = "accepted"
    except errors.JMLinkError as exc:
        outcome = f"{type(exc).__name__}: {exc}"
print(outcome)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, round(time.monotonic() - started, 2), before)
"""


def _gzip_bomb() -> bytes:
    """3.9 MB on the wire, 4 GiB of JSON whitespace once decoded: gzip members one after the other."""
    spaces = gzip.compress(b" " * (16 << 20), compresslevel=9)  # one member: 16 MiB of spaces, ~16 KB
    return gzip.compress(b'{"data": [') + spaces * 256 + gzip.compress(b"]}")


def _whitespace_gb():
    chunk = b" " * (1 << 20)
    yield b'{"data": ['
    for _ in range(1024):
        yield chunk
    yield b"]}"


@pytest.mark.parametrize("reply", [
    Reply(_gzip_bomb(), headers={"Content-Encoding": "gzip"}),
    Reply(stream=_whitespace_gb, headers={"Content-Length": str(12 + (1 << 30))}),
    Reply(stream=_whitespace_gb),  # chunked, no length said beforehand
], ids=["gzip_bomb_3.9MB_to_4GiB", "whitespace_1GiB", "whitespace_1GiB_chunked"])
def test_an_answer_over_the_cap_is_refused_while_reading_with_bounded_memory_and_time(serve, reply):
    # issue 19: the bomb was accepted after 50 s with +7.6 GB peak memory, the whitespace with +2.1 GB
    server = serve([reply])
    done = subprocess.run([sys.executable, "-c", _MEASURED_CLIENT, server.base_url], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": os.getcwd()})
    outcome, usage = done.stdout.strip().splitlines()
    peak_mb, seconds, imported_mb = int(usage.split()[0]), float(usage.split()[1]), int(usage.split()[2])
    assert outcome.startswith("ResponseFormatError") and f"max_answer_bytes={CAP:,}" in outcome, done.stdout
    assert "link 'K001'" in outcome
    assert len(server.requests) == 1  # not retried: a second try would be as large
    assert peak_mb - imported_mb < 64, f"peak memory {peak_mb} MB, {imported_mb} MB after imports"
    assert seconds < 10


def test_the_default_cap_holds_a_full_page_and_a_3660_day_answer_and_is_settable(serve):
    name, desc = "商品详情、说明" * 3, "产品介绍、说明" * 9  # 21 and 63 characters, sent as \\u escapes
    page = {"total": 500, "records": [record(i, name=name, share_desc=desc, share_title=name,
                                             landing_page=f"https://www.jiguang.cn/landing/{i:08d}?utm=x")
                                      for i in range(1, 501)]}
    rows = good_rows("2015-01-01", "2025-01-07")  # 3,660 days
    big = {"exposure_count": 2**62, "click_count": 2**62, "open_count": 2**62, "install_count": 2**62}
    rows = [{**row, **big} for row in rows]
    server = serve(lambda seen: Reply(page) if seen.path == "/v1/links" else Reply({"data": rows}))
    sizes = len(json.dumps(page).encode()), len(json.dumps({"data": rows}).encode())
    assert max(sizes) * 20 < CAP  # "many times over"
    with client_for(server) as c:
        assert len(c.get_links_page(page_size=500).records) == 500
        assert len(c.get_link_stats("K001", "2015-01-01", "2025-01-07")) == 3660
        c.max_answer_bytes = sizes[1] - 1
        with pytest.raises(e.ResponseFormatError, match=f"larger than max_answer_bytes={sizes[1] - 1:,}"):
            c.get_link_stats("K001", "2015-01-01", "2025-01-07")
    assert len(server.requests) == 3
    with pytest.raises(ValueError, match="max_answer_bytes must be an integer >= 1; got 0"):
        JMLinkClient(KEY, SECRET, max_answer_bytes=0)


def test_a_trickled_status_line_and_headers_are_cut_at_the_deadline(serve):
    # issue 19: one header byte a second held a call with deadline=2 for 40 s
    server = serve([Reply({"data": []}, header_trickle=1.0, headers={"X-Padding": "p" * 40})])
    started = time.monotonic()
    with client_for(server, deadline=2.0, timeout=30) as c, pytest.raises(e.TransportError,
                                                                          match="deadline of 2 s"):
        c.get_link_stats("K001", START, END)
    assert time.monotonic() - started < 3.5
    assert len(server.requests) == 1


def test_a_trickled_answer_is_retried_each_time_within_its_own_deadline(serve, no_wait):
    server = serve([Reply({"data": []}, header_trickle=0.5, headers={"X-Padding": "p" * 40})])
    started = time.monotonic()
    with client_for(server, deadline=1.0, max_retries=2) as c, pytest.raises(e.TransportError, match="deadline"):
        c.get_link_stats("K001", START, END)
    assert time.monotonic() - started < 4.5 and len(server.requests) == 3 and len(no_wait) == 2


STAT_DECODING = {
    "nested_100000_deep": (lambda start, end: b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                           "nested too deeply"),
    "lone_surrogate": (lambda start, end: json.dumps({"data": good_rows(start, end), "note": "\ud800"}).encode(),
                       "lone surrogate escape at note"),
    "invalid_utf8": (lambda start, end: json.dumps({"data": good_rows(start, end)}).encode() + b"\xc3",
                     "not valid UTF-8 text (byte 0xc3"),
    "utf16": (lambda start, end: json.dumps({"data": good_rows(start, end)}).encode("utf-16"), "not valid UTF-8"),
}


@pytest.mark.parametrize(("make", "needle"), STAT_DECODING.values(), ids=STAT_DECODING.keys())
def test_an_undecodable_stat_answer_is_typed_and_costs_one_link_with_errors_warn(serve, tmp_path, make, needle):
    def answer(seen):
        start, end = seen.query["start_date"], seen.query["end_date"]
        return Reply(make(start, end) if seen.path == "/v1/links/K002/stat" else {"data": good_rows(start, end)})

    server = serve(answer)
    with Store(tmp_path / "cache.sqlite3") as store, client_for(server, max_retries=3) as c:
        with pytest.raises(e.ResponseFormatError) as info:
            c.get_link_stats("K002", START, END)
        assert needle in str(info.value) and "link 'K002'" in str(info.value) and len(server.requests) == 1
        with pytest.warns(UserWarning, match="1 link.*K002"):
            stats = fetch_stats(c, ["K001", "K002", "K003"], start=START, end=END, store=store, errors="warn",
                                progress=False)
        assert sorted(set(stats["link_key"].astype(str))) == ["K001", "K003"]
        assert needle.split(" (")[0] in stats.attrs["failed"]["K002"]
        assert len(server.requests) == 4
        assert [stored_days(store, server.base_url, k) for k in ("K001", "K002", "K003")] == [N_DAYS, 0, N_DAYS]


def test_the_cli_exits_4_not_1_on_an_answer_nested_too_deeply(serve, monkeypatch, capsys, tmp_path):
    def answer(seen):
        if seen.path == "/v1/links":
            return Reply({"total": 1, "records": [record(1)]})
        return Reply(b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")

    server = serve(answer)
    for name, value in {"JMLINK_APP_KEY": KEY, "JMLINK_MASTER_SECRET": SECRET, "JMLINK_BASE_URL": server.base_url,
                        "XDG_CACHE_HOME": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    status = cli.main(["stats", "--no-cache", "--no-progress", "--start", START, "--end", END,
                       "--out", str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert status == cli.EXIT_API == 4, err
    assert "nested too deeply" in err and "Traceback" not in err and "unexpected" not in err.lower()


def test_a_same_origin_redirect_to_another_link_is_refused_naming_both_locations(serve):
    # issue 19: a 301 from AAAA's stats to BBBB's was taken as AAAA's stats
    def answer(seen):
        if seen.path == "/v1/links/K001/stat":
            return Reply(status=301, headers={"Location": "/v1/links/K002/stat?" + urllib.parse.urlencode(seen.query)})
        return Reply({"data": good_rows(seen.query["start_date"], seen.query["end_date"])})

    server = serve(answer)
    with client_for(server, max_retries=3) as c, pytest.raises(e.TransportError) as info:
        c.get_link_stats("K001", START, END)
    text = str(info.value)
    assert f"from {server.base_url}/v1/links/K001/stat to {server.base_url}/v1/links/K002/stat" in text
    assert not info.value.retryable and len(server.requests) == 1  # K002 was never asked


def test_a_redirect_to_another_origin_is_refused_and_no_credential_goes_there(serve):
    # issue 19: a 301 to another port served unauthenticated data that was accepted
    elsewhere = serve(lambda seen: Reply({"data": good_rows(seen.query["start_date"], seen.query["end_date"])}))
    server = serve(lambda seen: Reply(status=301, headers={"Location": elsewhere.base_url + seen.path}))
    with client_for(server, max_retries=3) as c, pytest.raises(e.TransportError, match="changes the origin") as info:
        c.get_link_stats("K001", START, END)
    assert f"to {elsewhere.base_url}/v1/links/K001/stat" in str(info.value)
    assert len(server.requests) == 1 and elsewhere.requests == []


def test_a_redirect_that_keeps_origin_and_path_is_followed_with_the_credentials(serve):
    def answer(seen):
        if "moved" not in seen.query:
            return Reply(status=307, headers={"Location": "?" + urllib.parse.urlencode({**seen.query, "moved": 1})})
        return Reply({"data": good_rows(seen.query["start_date"], seen.query["end_date"])})

    server = serve(answer)
    with client_for(server) as c:
        assert len(c.get_link_stats("K001", START, END)) == N_DAYS
    assert len(server.requests) == 2 and all(s.headers.get("Authorization") for s in server.requests)


_SPECIAL = 'p@ss/w+rd=1 "x"'  # a secret with characters every encoding writes differently
_PAIR = f"{KEY}:{_SPECIAL}".encode()
ECHOES = {
    "raw": _SPECIAL,
    "json_escaped": json.dumps(_SPECIAL)[1:-1].replace("/", "\\/"),
    "json_unicode_escapes": "".join(f"\\u{ord(ch):04x}" for ch in _SPECIAL),
    "json_unicode_escapes_upper": "".join(f"\\u{ord(ch):04X}" for ch in _SPECIAL),
    "percent_upper": urllib.parse.quote(_SPECIAL, safe=""),
    "percent_lower": urllib.parse.quote(_SPECIAL, safe="").lower().replace("%2", "%2"),
    "percent_in_part": "p@ss%2fw%2brd=1%20%22x%22",
    "form_encoded": urllib.parse.quote_plus(_SPECIAL),
    "base64_pair": base64.b64encode(_PAIR).decode(),
    "base64_pair_urlsafe_unpadded": base64.urlsafe_b64encode(_PAIR).decode().rstrip("="),
}


@pytest.mark.parametrize("echo", ECHOES.values(), ids=ECHOES.keys())
def test_a_secret_echoed_in_any_encoding_is_masked_in_errors_logs_and_warnings(serve, caplog, no_wait, echo):
    # issue 19: "secret=p@ss%2fw%2brd=1&x" reached the exception and stderr
    body = '{"error": {"code": 3011, "message": "fault: secret=' + echo + '&x"}}'  # JSON unless the echo breaks it
    server = serve(lambda seen: Reply(body.encode(), status=500))
    caplog.set_level(logging.DEBUG, logger="jmlink_analytics")
    with JMLinkClient(KEY, _SPECIAL, base_url=server.base_url, max_retries=1, backoff_factor=0,
                      shared_limits=False) as c:
        with pytest.raises(e.ServerError) as info:
            c.get_link_stats("K001", START, END)
        with pytest.warns(UserWarning) as warned:
            stats = fetch_stats(c, ["K001"], start=START, end=END, errors="warn", progress=True)
    shown = "\n".join([str(info.value), repr(info.value), caplog.text, *map(str, (w.message for w in warned)),
                       *stats.attrs["failed"].values()])
    assert "secret=***&x" in str(info.value), str(info.value)
    assert echo not in shown and _SPECIAL not in shown
    assert len(server.requests) == 4  # 1 + 1 retry, twice


def test_a_secret_quoted_by_the_check_of_an_answer_is_masked_too(serve, caplog):
    server = serve([Reply(_page(records=[record(1, name={"echo": SECRET}), record(2, id=2.5)]))])
    caplog.set_level(logging.DEBUG, logger="jmlink_analytics")
    with client_for(server) as c, pytest.raises(e.ResponseFormatError, match="'name' must be text") as info:
        c.get_links_page()
    assert SECRET not in f"{info.value} {info.value!r} {caplog.text}" and "'***'" in str(info.value)
