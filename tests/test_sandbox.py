"""The sandbox against the API contract, over raw HTTP (requests / http.client, not JMLinkClient)."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

import pytest
import requests

from jmlink_analytics.client import JMLinkClient
from jmlink_analytics.sandbox import Sandbox, ServedRequest, SyntheticApp

from .conftest import TODAY

RECORD_FIELDS = ["id", "link_key", "name", "channel", "app_domain", "share_title", "share_desc", "android_uri",
                 "ios_uri", "jump_link_type", "landing_page", "create_time", "update_time"]
ROW_FIELDS = ["iday", "exposure_count", "click_count", "open_count", "install_count"]
CONTRACT_ERRORS = {3001: (400, "missing auth"), 3002: (401, "auth failed"), 3003: (400, "missing body"),
                   3004: (403, "invalid body"), 3005: (400, "parameter invalid"), 3006: (403, "out of freq"),
                   3007: (404, "api not found"), 3008: (405, "request method not support"),
                   3009: (405, "app in black"),
                   3010: (405, "this is vip function, pls contact to sales@jiguang.cn"), 3011: (500, "server error")}
STAT_QUERY = {"start_date": "2024-06-01", "end_date": "2024-06-30"}


def call(sb, path, params=None, *, method="GET", auth=True, **kwargs):
    if auth is True:
        auth = (sb.app_key, sb.master_secret)
    return requests.request(method, sb.base_url + path, params=params, auth=auth or None, timeout=10, **kwargs)


def body(response):
    return json.loads(response.content.decode("utf-8"))


def assert_error(response, code):
    status, message = CONTRACT_ERRORS[code]
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert body(response) == {"error": {"code": code, "message": message}}


@pytest.fixture
def sb(sandbox):
    sandbox.clear_requests()
    return sandbox


def a_key(sb):
    return sb.app.links[0]["link_key"]


# -- the documented answers ------------------------------------------------------------------
def test_links_page_has_the_documented_shape_and_field_order(sb):
    response = call(sb, "/v1/links", {"page_index": 1, "page_size": 5})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert int(response.headers["Content-Length"]) == len(response.content)
    page = body(response)
    assert list(page) == ["total", "records"]
    assert page["total"] == len(sb.app.links) == 12
    assert page["records"] == sb.app.links[:5]
    assert all(list(record) == RECORD_FIELDS for record in page["records"])
    chinese = [r["name"] for r in page["records"] if any("\u4e00" <= ch <= "\u9fff" for ch in r["name"])]
    assert chinese and chinese[0].encode("utf-8") in response.content  # UTF-8 text, not \\u escapes


def test_records_carry_the_documented_kinds_of_values():
    app = SyntheticApp(links=200, days=120, seed=3, today=TODAY)
    links = app.links
    assert len({r["id"] for r in links}) == len({r["link_key"] for r in links}) == 200
    assert all(len(r["link_key"]) == 4 and r["link_key"].isalnum() and r["link_key"].isascii() for r in links)
    assert len({r["name"] for r in links}) < 200  # names repeat
    assert {r["channel"] for r in links} >= {"微信", "QQ", "微博", "抖音", "小红书", "短信"}
    for field in ("share_title", "share_desc", "landing_page"):
        assert None in {r[field] for r in links} and "" in {r[field] for r in links}
    types = [r["jump_link_type"] for r in links]
    assert types.count("DOWNLOAD") > len(types) / 2 and len(set(types)) > 1
    assert any(r["name"][0] in "=+-@" for r in links)
    created = [dt.datetime.fromisoformat(r["create_time"]) for r in links]
    assert {len(r["create_time"]) for r in links} == {10, 19}  # yyyy-MM-dd and yyyy-MM-dd HH:mm:ss
    assert all(dt.datetime.fromisoformat(r["update_time"]) >= c for r, c in zip(links, created, strict=True))
    assert min(created).date() == TODAY - dt.timedelta(days=119) and max(created).date() <= TODAY


def test_stat_rows_have_the_documented_shape_one_row_per_day(sb):
    key = a_key(sb)
    response = call(sb, f"/v1/links/{key}/stat", {**STAT_QUERY, "platform": "ios"})
    rows = body(response)["data"]
    assert list(body(response)) == ["data"]
    assert rows == sb.app.stats(key, dt.date(2024, 6, 1), TODAY, "ios") and rows
    assert all(list(row) == ROW_FIELDS for row in rows)
    days = [dt.date.fromisoformat(r["iday"]) for r in rows]
    assert days == [days[0] + dt.timedelta(days=i) for i in range(len(days))]
    assert days[0] == max(sb.app.created(key), dt.date(2024, 6, 1)) and days[-1] == TODAY


def test_platform_defaults_to_all_and_dates_outside_the_links_life_have_no_rows(sb):
    key = sb.app.links[0]["link_key"]  # the newest link: created within the range
    created = sb.app.created(key)
    rows = body(call(sb, f"/v1/links/{key}/stat", {"start_date": "2020-01-01", "end_date": "2030-12-31"}))["data"]
    assert rows == sb.app.stats(key, created, TODAY, "all")
    assert rows[0]["iday"] == created.isoformat() and rows[-1]["iday"] == TODAY.isoformat()
    future = call(sb, f"/v1/links/{key}/stat", {"start_date": "2030-01-01", "end_date": "2030-01-31"})
    assert (future.status_code, body(future)) == (200, {"data": []})


def test_all_is_ios_plus_android_for_every_counter_and_day(sb):
    for link in sb.app.links:
        key = link["link_key"]
        by_platform = {p: sb.app.stats(key, "2024-01-01", TODAY, p) for p in ("all", "ios", "android")}
        for row, ios, android in zip(*by_platform.values(), strict=True):
            assert row["iday"] == ios["iday"] == android["iday"]
            assert all(row[c] == ios[c] + android[c] for c in ROW_FIELDS[1:])
    served = {p: body(call(sb, f"/v1/links/{a_key(sb)}/stat", {**STAT_QUERY, "platform": p}))["data"]
              for p in ("all", "ios", "android")}
    assert [r["click_count"] for r in served["all"]] == [
        i["click_count"] + a["click_count"] for i, a in zip(served["ios"], served["android"], strict=True)]


@pytest.mark.parametrize("omit", [False, True])
def test_stat_answers_render_the_rows_as_compact_json(sb, omit):
    for link in sb.app.links[:4]:
        for platform in ("all", "ios", "android"):
            rows = sb.app.stats(link["link_key"], "2024-05-01", TODAY, platform, omit_zero_days=omit)
            text = sb.app.stats_json(link["link_key"], "2024-05-01", TODAY, platform, omit_zero_days=omit)
            assert text == json.dumps({"data": rows}, ensure_ascii=False, separators=(",", ":"))
    with pytest.raises(KeyError):
        sb.app.stats("nope", "2024-05-01", TODAY)
    with pytest.raises(ValueError, match="platform"):
        sb.app.stats(a_key(sb), "2024-05-01", TODAY, "web")


def test_the_funnel_mostly_narrows_and_todays_row_is_partial():
    app = SyntheticApp(links=40, days=60, seed=1, today=TODAY)
    rows = [r for link in app.links for r in app.stats(link["link_key"], "2024-01-01", TODAY)]
    narrowing = [r["exposure_count"] >= r["click_count"] >= r["open_count"] >= r["install_count"] for r in rows]
    assert sum(narrowing) / len(narrowing) > 0.95
    daily = {}
    for r in rows:
        daily[r["iday"]] = daily.get(r["iday"], 0) + r["click_count"]
    full_days = [daily[(TODAY - dt.timedelta(days=d)).isoformat()] for d in range(1, 8)]
    assert daily[TODAY.isoformat()] < 0.6 * statistics.mean(full_days)


def test_planted_spikes_stand_out_on_steady_links():
    app = SyntheticApp(links=120, days=180, seed=0, today=TODAY)
    assert 1 <= len(app.spikes) <= 8
    for key, day in app.spikes:
        assert app.created(key) + dt.timedelta(days=14) <= day <= TODAY - dt.timedelta(days=2)
        before = app.stats(key, day - dt.timedelta(days=14), day - dt.timedelta(days=1))
        (spike,) = app.stats(key, day, day)
        usual = statistics.median(r["click_count"] for r in before)
        assert usual >= 20 and spike["click_count"] >= 5 * usual


def test_the_same_seed_and_today_give_the_same_app():
    one, two = (SyntheticApp(links=30, days=60, seed=5, today=TODAY) for _ in range(2))
    other = SyntheticApp(links=30, days=60, seed=6, today=TODAY)
    assert one.links == two.links and one.spikes == two.spikes
    assert one.links != other.links
    for link in one.links:
        assert one.stats(link["link_key"], "2024-01-01", TODAY) == two.stats(link["link_key"], "2024-01-01", TODAY)
    first, again, third = Sandbox(1, seed=5), Sandbox(1, seed=5), Sandbox(1, seed=6)
    keys = (first.app_key, first.master_secret, first.blacklisted_app_key, first.novip_app_key)
    assert keys == (again.app_key, again.master_secret, again.blacklisted_app_key, again.novip_app_key)
    assert len(set(keys)) == 4 and third.app_key != first.app_key and third.master_secret != first.master_secret


# -- errors ------------------------------------------------------------------------------------
def test_no_authorization_is_3001(sb):
    assert_error(call(sb, "/v1/links", auth=False), 3001)


@pytest.mark.parametrize("header", [
    "Basic " + base64.b64encode(b"nobody:secret").decode(),
    "Basic !!!not-base64",
    "Basic " + base64.b64encode(b"no-colon").decode(),
    "Bearer abc",
    "",
])
def test_wrong_or_malformed_credentials_are_3002(sb, header):
    response = requests.get(sb.base_url + "/v1/links", headers={"Authorization": header}, timeout=10)
    assert_error(response, 3002)


def test_wrong_secret_is_3002_and_other_apps_get_3009_and_3010(sb):
    assert_error(call(sb, "/v1/links", auth=(sb.app_key, "nope")), 3002)
    assert_error(call(sb, "/v1/links", auth=(sb.blacklisted_app_key, "nope")), 3002)
    assert_error(call(sb, "/v1/links", auth=(sb.blacklisted_app_key, sb.master_secret)), 3009)
    assert_error(call(sb, f"/v1/links/{a_key(sb)}/stat", STAT_QUERY, auth=(sb.novip_app_key, sb.master_secret)),
                 3010)


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/link", "/v2/links", "/v1/links/", "/v1/links/AAAA",
                                  "/v1/links/AAAA/stats", "/v1/links/AAAA/stat/x", "/v1/links//stat"])
def test_unknown_paths_are_3007(sb, path):
    assert_error(call(sb, path), 3007)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_methods_other_than_get_are_3008(sb, method):
    assert_error(call(sb, "/v1/links", method=method, data=b'{"x": 1}'), 3008)
    assert_error(call(sb, f"/v1/links/{a_key(sb)}/stat", STAT_QUERY, method=method), 3008)


def test_head_is_3008_without_a_body_and_the_connection_stays_usable(sb):
    auth = "Basic " + base64.b64encode(f"{sb.app_key}:{sb.master_secret}".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", int(sb.base_url.rsplit(":", 1)[1]), timeout=10)
    try:
        conn.request("HEAD", "/v1/links", headers={"Authorization": auth})
        head = conn.getresponse()
        assert (head.status, head.read()) == (405, b"")
        assert int(head.headers["Content-Length"]) > 0
        conn.request("GET", "/v1/links?page_size=1", headers={"Authorization": auth})  # same connection
        got = conn.getresponse()
        assert got.status == 200 and json.loads(got.read())["total"] == len(sb.app.links)
    finally:
        conn.close()
    assert [(r.method, r.code) for r in sb.requests] == [("HEAD", 3008), ("GET", 3000)]


@pytest.mark.parametrize("params", [
    {"page_size": "0"}, {"page_size": "501"}, {"page_size": "-1"}, {"page_size": "20.0"}, {"page_size": "abc"},
    {"page_size": ""}, {"page_index": "0"}, {"page_index": "-3"}, {"page_index": "1e2"}, {"page_index": " 1"},
    {"page_index": "99999999999"},
])
def test_invalid_page_parameters_are_3005(sb, params):
    assert_error(call(sb, "/v1/links", params), 3005)


@pytest.mark.parametrize("params", [
    {"end_date": "2024-06-30"}, {"start_date": "2024-06-01"}, {},
    {"start_date": "2024/06/01", "end_date": "2024-06-30"}, {"start_date": "2024-6-1", "end_date": "2024-06-30"},
    {"start_date": "2024-02-30", "end_date": "2024-06-30"}, {"start_date": "20240601", "end_date": "2024-06-30"},
    {"start_date": "2024-06-30", "end_date": "2024-06-01"},
    {**STAT_QUERY, "platform": "web"}, {**STAT_QUERY, "platform": "IOS"}, {**STAT_QUERY, "platform": ""},
])
def test_invalid_stat_parameters_are_3005(sb, params):
    assert_error(call(sb, f"/v1/links/{a_key(sb)}/stat", params), 3005)


def test_an_unknown_link_key_is_3005_and_an_encoded_slash_stays_in_the_key(sb):
    assert_error(call(sb, "/v1/links/ZZZZZ/stat", STAT_QUERY), 3005)
    assert_error(call(sb, "/v1/links/ab%2Fcd/stat", STAT_QUERY), 3005)  # one segment: not a 3007
    assert_error(call(sb, "/v1/links/%E5%BE%AE%E4%BF%A1/stat", STAT_QUERY), 3005)
    assert [r.path for r in sb.requests] == ["/v1/links/ZZZZZ/stat", "/v1/links/ab%2Fcd/stat", "/v1/links/微信/stat"]


def test_errors_follow_gateway_precedence(make_sandbox):
    sb = make_sandbox(rate_limits={"links": (1, 60.0)})
    blacklisted = (sb.blacklisted_app_key, sb.master_secret)
    assert_error(call(sb, "/v2/links", method="POST", auth=False), 3007)  # routing first: path ...
    assert_error(call(sb, "/v1/links", method="POST", auth=False), 3008)  # ... then method, before auth
    assert_error(call(sb, "/v1/links", {"page_size": "0"}, auth=False), 3001)  # auth before parameters
    assert_error(call(sb, "/v1/links", {"page_size": "0"}, auth=blacklisted), 3009)  # the app before parameters
    assert_error(call(sb, "/v1/links", {"page_size": "0"}), 3005)  # counts against the limit: it was admitted
    assert_error(call(sb, "/v1/links", {"page_size": "0"}), 3006)  # the rate limit before parameters


# -- pagination and the live listing ------------------------------------------------------------
def test_pages_add_up_to_the_listing_newest_first(sb):
    pages = [body(call(sb, "/v1/links", {"page_index": i, "page_size": 5})) for i in (1, 2, 3, 4)]
    assert {p["total"] for p in pages} == {12}
    records = [r for p in pages for r in p["records"]]
    assert [len(p["records"]) for p in pages] == [5, 5, 2, 0]
    assert records == sb.app.links
    order = [(dt.datetime.fromisoformat(r["create_time"]), r["id"]) for r in records]
    assert order == sorted(order, reverse=True)
    assert body(call(sb, "/v1/links"))["records"] == sb.app.links[:20]  # defaults 1 and 20


def test_added_links_come_first_and_shift_the_pages(make_sandbox):
    sb = make_sandbox(links=10)
    before = body(call(sb, "/v1/links", {"page_size": 4}))["records"]
    added = sb.add_links(3)
    after = body(call(sb, "/v1/links", {"page_size": 4}))
    assert after["total"] == 13 and after["records"][:3] == added
    assert after["records"][3] == before[0]
    assert body(call(sb, "/v1/links", {"page_index": 2, "page_size": 4}))["records"][:1] == [before[1]]
    assert len({r["link_key"] for r in sb.app.links}) == 13
    assert all(r["create_time"].startswith(TODAY.isoformat()) for r in added)
    rows = body(call(sb, f"/v1/links/{added[0]['link_key']}/stat", STAT_QUERY))["data"]
    assert [r["iday"] for r in rows] == [TODAY.isoformat()]


def test_links_added_from_threads_keep_keys_and_ids_unique(make_sandbox):
    sb = make_sandbox(links=5)
    threads = [threading.Thread(target=sb.add_links, args=(10,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    links = sb.app.links
    assert len(links) == 45 == len({r["id"] for r in links}) == len({r["link_key"] for r in links})


# -- rate limits ---------------------------------------------------------------------------------
def test_sliding_window_rejects_past_the_limit_and_frees_as_arrivals_age(make_sandbox):
    sb = make_sandbox(rate_limits={"links": (5, 1.0), "stats": (50, 1.0)})
    assert call(sb, "/v1/links").status_code == 200
    time.sleep(0.3)  # space the first arrival from the rest
    assert [call(sb, "/v1/links").status_code for _ in range(4)] == [200] * 4
    rejected = [call(sb, "/v1/links") for _ in range(3)]
    for response in rejected:
        assert_error(response, 3006)
        assert "Retry-After" not in response.headers
    assert call(sb, f"/v1/links/{a_key(sb)}/stat", STAT_QUERY).status_code == 200  # its own window
    first = sb.requests[0].time
    time.sleep(max(0.0, first + 1.05 - time.monotonic()))  # only the first arrival has left the window
    # Rejected requests did not count: exactly one slot is free again.
    assert [call(sb, "/v1/links").status_code for _ in range(2)] == [200, 403]


def test_retry_after_says_when_a_slot_frees(make_sandbox):
    sb = make_sandbox(rate_limits={"links": (2, 3.0)}, retry_after=True)
    assert [call(sb, "/v1/links").status_code for _ in range(2)] == [200, 200]
    response = call(sb, "/v1/links")
    assert_error(response, 3006)
    assert response.headers["Retry-After"] == "3"
    sb.fail_next(3006, endpoint="stats")
    scripted = call(sb, f"/v1/links/{a_key(sb)}/stat", STAT_QUERY)
    assert_error(scripted, 3006)
    assert int(scripted.headers["Retry-After"]) >= 1


# -- options and scripted faults ------------------------------------------------------------------
def test_omit_zero_days_leaves_inactive_days_out(make_sandbox):
    sb = make_sandbox(links=12, days=40, seed=7, omit_zero_days=True)
    checked = 0
    for link in sb.app.links:
        full = sb.app.stats(link["link_key"], "2024-01-01", TODAY)
        active = [r for r in full if any(r[c] for c in ROW_FIELDS[1:])]
        if len(active) < len(full):
            served = body(call(sb, f"/v1/links/{link['link_key']}/stat", {**STAT_QUERY, "start_date": "2024-01-01"}))
            assert served["data"] == active
            checked += 1
    assert checked >= 1  # the app has idle days for the option to leave out


@pytest.mark.parametrize("code", sorted(CONTRACT_ERRORS))
def test_fail_next_answers_each_api_code_as_documented(sb, code):
    sb.fail_next(code, endpoint="links")
    assert_error(call(sb, "/v1/links"), code)
    assert call(sb, "/v1/links").status_code == 200  # consumed
    assert [(r.status, r.code) for r in sb.requests] == [(CONTRACT_ERRORS[code][0], code), (200, 3000)]


def test_fail_next_kinds_that_are_not_api_errors(sb):
    sb.fail_next("malformed")
    sb.fail_next("bad_gateway")
    sb.fail_next("reset")
    malformed = call(sb, "/v1/links")
    assert malformed.status_code == 200
    with pytest.raises(ValueError):
        json.loads(malformed.content)
    bad_gateway = call(sb, "/v1/links")
    assert bad_gateway.status_code == 502 and bad_gateway.headers["Content-Type"].startswith("text/html")
    with pytest.raises(requests.ConnectionError):
        call(sb, "/v1/links")
    assert call(sb, "/v1/links").status_code == 200
    assert [(r.status, r.code) for r in sb.requests] == [(200, 0), (502, 0), (0, 0), (200, 3000)]


def test_fail_next_is_fifo_per_endpoint_and_waits_for_authenticated_requests(sb):
    sb.fail_next(3011, times=2, endpoint="stats")
    sb.fail_next(3004)
    assert_error(call(sb, "/v1/links", auth=False), 3001)  # not authenticated: nothing consumed
    assert_error(call(sb, "/v1/links"), 3004)               # the first fault that matches "links"
    assert call(sb, "/v1/links").status_code == 200
    assert [call(sb, f"/v1/links/{a_key(sb)}/stat", STAT_QUERY).status_code for _ in range(3)] == [500, 500, 200]


@pytest.mark.parametrize(("code", "kwargs"), [(3000, {}), (2999, {}), ("boom", {}), (3011, {"times": 0}),
                                              (3011, {"endpoint": "other"})])
def test_fail_next_refuses_what_it_cannot_script(sb, code, kwargs):
    with pytest.raises(ValueError):
        sb.fail_next(code, **kwargs)


def test_fault_rate_is_reproducible_for_a_seed(make_sandbox):
    runs = []
    for _ in range(2):
        sb = make_sandbox(fault_rate=0.3, seed=11)
        runs.append([call(sb, "/v1/links").status_code for _ in range(30)])
    assert runs[0] == runs[1] and {500, 200} == set(runs[0])


def test_latency_delays_answers_in_parallel(make_sandbox):
    sb = make_sandbox(latency=0.4)
    threads = [threading.Thread(target=call, args=(sb, "/v1/links")) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    arrivals = sorted(r.time for r in sb.requests)
    assert len(arrivals) == 4 and arrivals[-1] - arrivals[0] < 0.4  # all arrived before the first was answered


# -- the log, the admin endpoint, the client, the lifecycle -----------------------------------------
def test_requests_log_records_each_request(sb):
    started = time.monotonic()
    call(sb, f"/v1/links/{a_key(sb)}/stat", {**STAT_QUERY, "platform": "android"})
    call(sb, "/nowhere", auth=False)
    ok, missing = sb.requests
    assert isinstance(ok, ServedRequest) and started <= ok.time <= missing.time <= time.monotonic()
    assert (ok.method, ok.path, ok.query, ok.status, ok.code, ok.app_key) == (
        "GET", f"/v1/links/{a_key(sb)}/stat", {**STAT_QUERY, "platform": "android"}, 200, 3000, sb.app_key)
    assert (missing.path, missing.status, missing.code, missing.app_key) == ("/nowhere", 404, 3007, None)
    snapshot = sb.requests
    snapshot.clear()
    assert len(sb.requests) == 2
    sb.clear_requests()
    assert sb.requests == []


def test_admin_endpoint_serves_the_log_without_logging_itself(sb):
    call(sb, "/v1/links", {"page_size": "3"})
    served = requests.get(sb.base_url + "/_sandbox/requests", timeout=10)
    assert served.status_code == 200
    (entry,) = body(served)
    assert entry == {"time": sb.requests[0].time, "method": "GET", "path": "/v1/links", "query": {"page_size": "3"},
                     "status": 200, "code": 3000, "app_key": sb.app_key}
    assert len(body(requests.get(sb.base_url + "/_sandbox/requests?clear=1", timeout=10))) == 1
    assert sb.requests == []


def test_headers_are_fixed_apart_from_date(sb):
    response = call(sb, "/v1/links")
    assert set(response.headers) == {"Server", "Date", "Content-Type", "Content-Length"}
    assert response.headers["Server"] == "jmlink-sandbox/1"


def test_client_is_bound_to_the_sandbox_with_its_limits(make_sandbox):
    sb = make_sandbox(rate_limits={"links": (7, 2.0)})
    with sb.client(max_retries=0) as client:
        assert isinstance(client, JMLinkClient) and client.base_url == sb.base_url
        assert client.rate_limits["links"] == (7, 2.0) and client.app_key == sb.app_key
        assert client.get_links_page().total == 10
    with sb.client(rate_limits={"links": (3, 1.0)}) as client:
        assert client.rate_limits["links"] == (3, 1.0)


def test_stop_closes_open_connections_and_the_port(make_sandbox):
    sb = make_sandbox()
    url = sb.base_url
    with requests.Session() as session:
        assert session.get(url + "/v1/links", auth=(sb.app_key, sb.master_secret), timeout=5).status_code == 200
        prefix = f"jmlink-sandbox:{url.rsplit(':', 1)[1]}"
        assert sum(t.name.startswith(prefix) for t in threading.enumerate()) == 2  # server + the open connection
        sb.stop()
        assert not any(t.name.startswith(prefix) for t in threading.enumerate())
        with pytest.raises(requests.ConnectionError):
            session.get(url + "/v1/links", timeout=5)
    with pytest.raises(RuntimeError):
        sb.base_url  # noqa: B018


# -- the command line ---------------------------------------------------------------------------------
def test_cli_serves_the_app_and_prints_working_exports():
    cmd = [sys.executable, "-m", "jmlink_analytics.sandbox", "--port", "0", "--links", "7", "--days", "20",
           "--seed", "3", "--today", TODAY.isoformat(), "--links-limit", "50/10"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[1].startswith("export "), lines
        exported = dict(part.split("=", 1) for part in lines[1].split()[1:])
        assert exported["JMLINK_BASE_URL"] in lines[0]
        response = requests.get(exported["JMLINK_BASE_URL"] + "/v1/links", params={"page_size": 50},
                                auth=(exported["JMLINK_APP_KEY"], exported["JMLINK_MASTER_SECRET"]), timeout=10)
        here = Sandbox(7, 20, seed=3, today=TODAY)
        assert response.status_code == 200 and body(response)["records"] == here.app.links  # same app in-process
        assert (exported["JMLINK_APP_KEY"], exported["JMLINK_MASTER_SECRET"]) == (here.app_key, here.master_secret)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_cli_rejects_a_malformed_limit():
    done = subprocess.run([sys.executable, "-m", "jmlink_analytics.sandbox", "--stats-limit", "500"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "CALLS/SECONDS" in done.stderr
