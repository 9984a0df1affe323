"""JMLinkClient against the sandbox: every error code, retries and waits, bad input, pagination, secrets."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time

import pandas as pd
import pytest
import requests

import jmlink_analytics.client._transport as transport_module
from jmlink_analytics import errors as e
from jmlink_analytics.client import JMLinkClient, Limits, RateLimits, Retries, Timeouts
from jmlink_analytics.client._responses import parse_links_page, parse_stat_rows
from jmlink_analytics.errors import MissingCredentialsError
from tests.conftest import most_in_any_window

START, END = "2024-06-01", "2024-06-30"


def api_requests(sb):
    return [r for r in sb.requests if r.path.startswith("/v1/")]


@pytest.fixture
def sb(sandbox):
    sandbox.clear_requests()
    return sandbox


@pytest.fixture
def client(sb):
    with sb.client(max_retries=2, backoff_factor=0) as c:
        yield c


def a_key(sb):
    return sb.app.links[0]["link_key"]


# -- the two endpoints -----------------------------------------------------------------------
def test_links_page_returns_total_and_records(client, sb):
    page = client.get_links_page(page_index=1, page_size=5)
    assert page.total == len(sb.app.links)
    assert page.records == sb.app.links[:5]
    (req,) = api_requests(sb)
    assert (req.method, req.path, req.query) == ("GET", "/v1/links", {"page_index": "1", "page_size": "5"})


def test_link_stats_sends_dates_and_platform_as_documented(client, sb):
    key = a_key(sb)
    rows = client.get_link_stats(key, dt.date(2024, 6, 1), pd.Timestamp("2024-06-30 18:00"), platform="ios")
    assert rows == sb.app.stats(key, dt.date(2024, 6, 1), dt.date(2024, 6, 30), "ios")
    (req,) = api_requests(sb)
    assert req.path == f"/v1/links/{key}/stat"
    assert req.query == {"start_date": START, "end_date": END, "platform": "ios"}


def test_iter_links_yields_every_link_once_across_pages(client, sb):
    links = list(client.iter_links(page_size=5))
    assert [link["id"] for link in links] == [link["id"] for link in sb.app.links]
    # read twice, as a listing of several pages always is (a change no answer shows may hide a link)
    assert [r.query["page_index"] for r in api_requests(sb)] == ["1", "2", "3", "1", "2", "3"]


def test_iter_links_loses_nothing_when_links_are_added_mid_listing(make_sandbox):
    sb = make_sandbox(links=23, seed=3)
    before = {link["id"] for link in sb.app.links}
    with sb.client() as c:
        listing = c.iter_links(page_size=10)
        first = next(listing)
        sb.add_links(4)  # pushes every record 4 places down the newest-first listing
        ids = [first["id"], *(link["id"] for link in listing)]
    assert len(ids) == len(set(ids)), "a link was yielded twice"
    assert before <= set(ids), "a link that existed throughout was lost"
    assert set(ids) == {link["id"] for link in sb.app.links}  # the second pass picked up the new ones


def test_link_key_is_one_path_segment_even_with_a_slash(client, sb):
    for key in ("a/b", "...", "x?y=1", "微信#1"):
        with pytest.raises(e.InvalidRequestError) as info:
            client.get_link_stats(key, START, END)
        assert info.value.code == 3005  # unknown link key, not 3007 "api not found"
    assert [r.path for r in api_requests(sb)] == [
        "/v1/links/a%2Fb/stat", "/v1/links/.../stat", "/v1/links/x?y=1/stat", "/v1/links/微信#1/stat"
    ]


@pytest.mark.parametrize("key", [".", ".."])
def test_dot_link_keys_are_refused_before_anything_is_sent(client, sb, key):
    # requests resolves %2E back to '.', so '..' would reach the server as /v1/links/../stat = /v1/stat
    with pytest.raises(ValueError, match=r"link_key must be .*other than '\.' and '\.\.'; got"):
        client.get_link_stats(key, START, END)
    assert api_requests(sb) == []


# -- the documented examples -------------------------------------------------------------------
def test_documented_example_credentials_give_the_documented_header():
    request = requests.Request("GET", "https://api.jmlk.co/v1/links").prepare()
    auth = JMLinkClient("7d431e42dfa6a6d693ac2d04", "5e987ac6d2e04d95a9d8f0d1")._auth
    assert auth(request).headers["Authorization"] == (
        "Basic N2Q0MzFlNDJkZmE2YTZkNjkzYWMyZDA0OjVlOTg3YWM2ZDJlMDRkOTVhOWQ4ZjBkMQ=="
    )


def test_documented_example_bodies_parse_as_documented():
    page = parse_links_page({
        "total": 2,
        "records": [
            {"id": 1, "link_key": "AAAA", "name": "test001", "channel": "QQ", "app_domain": "xxxxxx.jmlk.co",
             "share_title": "商品详情", "share_desc": "产品介绍、说明", "android_uri": "androidUri",
             "ios_uri": "iosUri", "jump_link_type": "DOWNLOAD", "landing_page": "https://www.jiguang.cn",
             "create_time": "2020-08-03", "update_time": "2020-08-04"},
            {"id": 2, "link_key": "AAAB", "name": "test001", "channel": "微信", "app_domain": "xxxxxx.jmlk.co",
             "share_title": None, "share_desc": None, "android_uri": "test001", "ios_uri": "test001",
             "jump_link_type": "DOWNLOAD", "landing_page": "", "create_time": "2020-08-01",
             "update_time": "2020-08-02"},
        ],
    })
    assert page.total == 2 and [r["link_key"] for r in page.records] == ["AAAA", "AAAB"]
    assert page.records[1]["share_title"] is None and page.records[1]["landing_page"] == ""
    rows = parse_stat_rows({"data": [
        {"iday": "2020-08-01", "exposure_count": 100000, "click_count": 100000, "open_count": 100000,
         "install_count": 100000},
        {"iday": "2020-08-02", "exposure_count": 200000, "click_count": 200000, "open_count": 200000,
         "install_count": 200000},
    ]})
    assert [r["iday"] for r in rows] == ["2020-08-01", "2020-08-02"]
    assert rows[1]["install_count"] == 200000


@pytest.mark.parametrize("body", [
    {"records": []}, {"total": "2", "records": []}, {"total": 1, "records": [{"name": "no id"}]}, [],
])
def test_links_bodies_of_another_shape_are_format_errors(body):
    with pytest.raises(e.ResponseFormatError):
        parse_links_page(body)


@pytest.mark.parametrize("body", [
    {"rows": []}, {"data": [{"iday": "2020-08-01", "click_count": "7"}]}, {"data": [{"click_count": 1}]},
])
def test_stat_bodies_of_another_shape_are_format_errors(body):
    with pytest.raises(e.ResponseFormatError):
        parse_stat_rows(body)


# -- every error code --------------------------------------------------------------------------
def test_wrong_secret_is_3002_after_exactly_one_request(sb):
    with JMLinkClient(sb.app_key, "wrong-secret", base_url=sb.base_url) as c, pytest.raises(e.AuthError) as info:
        c.get_links_page()
    assert (info.value.code, info.value.http_status) == (3002, 401)
    assert len(api_requests(sb)) == 1


@pytest.mark.parametrize(("attr", "cls", "code"), [
    ("blacklisted_app_key", e.BlacklistedError, 3009), ("novip_app_key", e.VipRequiredError, 3010),
])
def test_blacklisted_and_non_vip_apps_get_their_typed_error(sb, attr, cls, code):
    with JMLinkClient(getattr(sb, attr), sb.master_secret, base_url=sb.base_url) as c, pytest.raises(cls) as info:
        c.get_links_page()
    assert (info.value.code, info.value.http_status) == (code, 405)
    assert len(api_requests(sb)) == 1


def test_unknown_link_key_is_3005(client, sb):
    with pytest.raises(e.InvalidRequestError) as info:
        client.get_link_stats("ZZZZZZ", START, END)
    assert (info.value.code, info.value.http_status) == (3005, 400)
    assert "3005" in str(info.value)


def test_wrong_base_path_is_3007(sb):
    with JMLinkClient(sb.app_key, sb.master_secret, base_url=sb.base_url + "/api") as c, \
            pytest.raises(e.NotFoundError) as info:
        c.get_links_page()
    assert (info.value.code, info.value.http_status) == (3007, 404)


@pytest.mark.parametrize(("code", "status", "cls"), [
    (3001, 400, e.AuthError), (3003, 400, e.InvalidRequestError), (3004, 403, e.InvalidRequestError),
    (3008, 405, e.MethodNotAllowedError),
])
def test_final_codes_are_raised_after_exactly_one_request(client, sb, no_wait, code, status, cls):
    sb.fail_next(code, endpoint="links")
    with pytest.raises(cls) as info:
        client.get_links_page()
    assert (info.value.code, info.value.http_status) == (code, status)
    assert len(api_requests(sb)) == 1 and no_wait == []


# -- retries and waits -------------------------------------------------------------------------
@pytest.mark.parametrize("fault", [3011, "bad_gateway", "reset"])
def test_passing_faults_are_retried_then_succeed(client, sb, no_wait, fault):
    sb.fail_next(fault, times=2, endpoint="stats")
    rows = client.get_link_stats(a_key(sb), START, END)
    assert rows == sb.app.stats(a_key(sb), dt.date(2024, 6, 1), dt.date(2024, 6, 30), "all")
    assert len(no_wait) == 2
    if fault != "reset":  # a reset is logged with status 0: no HTTP status to compare
        assert [r.status for r in api_requests(sb)][-3:-1] == [500 if fault == 3011 else 502] * 2


def test_retries_stop_at_max_retries_with_the_typed_error(sb, no_wait):
    sb.fail_next(3011, times=4, endpoint="links")
    with sb.client(max_retries=3) as c, pytest.raises(e.ServerError) as info:
        c.get_links_page()
    assert (info.value.code, info.value.http_status) == (3011, 500)
    assert len(api_requests(sb)) == 4 and len(no_wait) == 3


def test_backoff_is_exponential_capped_and_jittered(sb, no_wait):
    sb.fail_next(3011, times=5, endpoint="links")
    with sb.client(max_retries=5, backoff_factor=1.0, backoff_max=4.0) as c:
        c.get_links_page()
    ceilings = [1, 2, 4, 4, 4]
    assert all(c / 2 <= w <= c for w, c in zip(no_wait, ceilings, strict=True)), no_wait


def test_a_timeout_is_retried_then_raised_as_transport_error(make_sandbox, no_wait):
    sb = make_sandbox(latency=0.5)
    with sb.client(timeout=0.05, max_retries=1) as c, pytest.raises(e.TransportError) as info:
        c.get_links_page()
    assert info.value.code is None and "Timeout" in str(info.value)
    assert len(no_wait) == 1


def test_a_refused_connection_is_a_transport_error(no_wait):
    with JMLinkClient("k" * 24, "s" * 24, base_url="http://127.0.0.1:9", max_retries=2) as c, \
            pytest.raises(e.TransportError):
        c.get_links_page()
    assert len(no_wait) == 2


def test_malformed_body_is_a_format_error_not_an_empty_result(client, sb, no_wait):
    sb.fail_next("malformed", endpoint="links")
    with pytest.raises(e.ResponseFormatError) as info:
        client.get_links_page()
    assert info.value.http_status == 200
    assert len(api_requests(sb)) == 1


def test_3006_waits_then_retries(client, sb, no_wait):
    sb.fail_next(3006, endpoint="links")
    assert client.get_links_page().total == len(sb.app.links)
    assert len(no_wait) == 1 and no_wait[0] > 0
    assert [r.code for r in api_requests(sb)] == [3006, 3000]


def test_3006_honours_retry_after(make_sandbox, monkeypatch):
    sb = make_sandbox(rate_limits={"links": (2, 1.0)}, retry_after=True)
    waits = []
    monkeypatch.setattr(transport_module, "_sleep", lambda s: (waits.append(s), transport_module.time.sleep(s)))
    with sb.client(rate_limits={"links": (100, 1.0)}) as c:  # a client that thinks it may burst
        for _ in range(3):
            c.get_links_page()
    codes = [r.code for r in api_requests(sb)]
    assert codes.count(3006) == 1 and codes[-1] == 3000
    assert len(waits) == 1 and 1.0 <= waits[0] <= 1.2  # Retry-After: 1


def test_3006_is_retried_past_max_retries(client, sb, no_wait):
    # issue 18: a 3006 fails a call only when its time budget is spent, not after max_retries (2 here) refusals
    sb.fail_next(3006, times=3, endpoint="links")
    assert client.get_links_page().total == len(sb.app.links)
    assert [r.code for r in api_requests(sb)] == [3006, 3006, 3006, 3000]


def test_3006_gives_up_when_the_time_budget_of_the_call_is_spent(make_sandbox, no_wait):
    # the budget: one window of the endpoint (3 s here) plus the deadline (1 s), from the first refusal; the
    # refused calls are paced (at least 0.5 per second), not sent in a burst
    sb = make_sandbox(links=3)
    sb.fail_next(3006, times=1000, endpoint="links")
    with sb.client(rate_limits={"links": (100, 3.0)}, deadline=1.0, max_retries=1) as c:
        started = time.monotonic()
        with pytest.raises(e.RateLimitError) as info:
            c.get_links_page()
        elapsed = time.monotonic() - started
    assert (info.value.code, info.value.http_status) == (3006, 403)
    codes = [r.code for r in api_requests(sb)]
    assert len(codes) >= 3 and set(codes) == {3006}  # more than max_retries + 1 requests
    assert 1.0 <= elapsed <= 3.0 + 1.0 + 0.3
    with sb.client(max_retries=0) as c, pytest.raises(e.RateLimitError):  # max_retries=0: nothing is retried
        c.get_links_page()
    assert len(api_requests(sb)) == len(codes) + 1


# -- rate limits ------------------------------------------------------------------------------

@pytest.mark.slow
def test_eight_threads_never_exceed_the_sliding_window(make_sandbox):
    from concurrent.futures import ThreadPoolExecutor

    limits = {"links": (5, 1.0), "stats": (10, 1.0)}
    sb = make_sandbox(links=8, rate_limits=limits)
    keys = [link["link_key"] for link in sb.app.links]
    with sb.client() as c, ThreadPoolExecutor(8) as pool:
        jobs = [pool.submit(c.get_link_stats, keys[i % len(keys)], START, END) for i in range(32)]
        jobs += [pool.submit(c.get_links_page) for _ in range(10)]
        for job in jobs:
            job.result()
    served = api_requests(sb)
    assert [r.code for r in served].count(3006) == 0
    stats_times = [r.time for r in served if r.path.endswith("/stat")]
    links_times = [r.time for r in served if r.path == "/v1/links"]
    assert len(stats_times) == 32 and len(links_times) == 10
    assert most_in_any_window(stats_times, 1.0) <= 10
    assert most_in_any_window(links_times, 1.0) <= 5


# -- bad input fails before any request -------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "exc", "names"), [
    ({"page_index": 0}, ValueError, "page_index"),
    ({"page_index": "1"}, TypeError, "page_index"),
    ({"page_index": True}, TypeError, "page_index"),
    ({"page_size": 0}, ValueError, "page_size.*1 to 500"),
    ({"page_size": 501}, ValueError, "page_size.*1 to 500"),
    ({"page_size": 20.0}, TypeError, "page_size"),
])
def test_bad_page_arguments_fail_before_sending(client, sb, kwargs, exc, names):
    with pytest.raises(exc, match=names):
        client.get_links_page(**kwargs)
    assert api_requests(sb) == []


@pytest.mark.parametrize(("args", "exc", "names"), [
    (("AAAA", "2024-6-1", END), ValueError, "start_date.*yyyy-MM-dd"),
    (("AAAA", START, None), TypeError, "end_date"),
    (("AAAA", END, START), ValueError, "start_date must not be after end_date"),
    (("AAAA", START, END, "web"), ValueError, "platform.*'all', 'ios', 'android'"),
    (("", START, END), ValueError, "link_key"),
    ((None, START, END), TypeError, "link_key"),
    (("A\nB", START, END), ValueError, "link_key"),
])
def test_bad_stat_arguments_fail_before_sending(client, sb, args, exc, names):
    with pytest.raises(exc, match=names):
        client.get_link_stats(*args)
    assert api_requests(sb) == []


def test_iter_links_checks_page_size_before_sending(client, sb):
    with pytest.raises(ValueError, match="page_size"):
        next(client.iter_links(page_size=1000))
    assert api_requests(sb) == []


@pytest.mark.parametrize(("kwargs", "names"), [
    ({"base_url": "ftp://x"}, "base_url"), ({"base_url": "https://u:p@api.jmlk.co"}, "base_url"),
    ({"timeout": 0}, "timeout"), ({"max_retries": -1}, "max_retries"),
    ({"rate_limits": {"link": (1, 1)}}, "rate_limits"), ({"rate_limits": {"stats": (0, 60)}}, "rate_limits"),
])
def test_bad_constructor_arguments_name_themselves(kwargs, names):
    with pytest.raises((ValueError, TypeError), match=names):
        JMLinkClient("app", "secret", **kwargs)


# -- configuration, sessions, secrets ---------------------------------------------------------
def test_from_env_names_both_variables_when_missing():
    with pytest.raises(MissingCredentialsError, match="JMLINK_APP_KEY and JMLINK_MASTER_SECRET"):
        JMLinkClient.from_env({})
    with pytest.raises(MissingCredentialsError, match="JMLINK_MASTER_SECRET") as info:
        JMLinkClient.from_env({"JMLINK_APP_KEY": "abc"})
    assert isinstance(info.value, e.AuthError)


def test_from_env_reads_credentials_and_base_url(sb):
    env = {"JMLINK_APP_KEY": sb.app_key, "JMLINK_MASTER_SECRET": sb.master_secret, "JMLINK_BASE_URL": sb.base_url}
    with JMLinkClient.from_env(env) as c:
        assert c.base_url == sb.base_url
        assert c.get_links_page().total == len(sb.app.links)


@pytest.mark.parametrize(("build", "error", "needle"), [
    (lambda: Timeouts(connect=0), ValueError, "timeout must be a finite number of seconds > 0; got 0"),
    (lambda: Timeouts(deadline=float("inf")), ValueError, "deadline must be a finite number of seconds > 0"),
    (lambda: Timeouts.of((1, 2, 3), 60), ValueError, "timeout must be a number of seconds > 0 or a"),
    (lambda: Retries(max_retries=-1), ValueError, "max_retries must be an integer >= 0; got -1"),
    (lambda: Retries(backoff_factor=float("nan")), ValueError, "backoff_factor must be a finite number >= 0"),
    (lambda: RateLimits(stats=(0, 60)), ValueError, r"rate_limits\['stats'\] calls must be an integer >= 1"),
    (lambda: RateLimits.of({"stat": (1, 1)}), ValueError, "rate_limits keys must be 'links' or 'stats'"),
    (lambda: Limits(max_answer_bytes=0), ValueError, "max_answer_bytes must be an integer >= 1; got 0"),
])
def test_settings_objects_check_their_fields_when_built(build, error, needle):
    with pytest.raises(error, match=needle):
        build()


def test_settings_objects_are_frozen_values_the_client_takes_whole_or_builds():
    timeouts, retries = Timeouts(connect=2, read=3, deadline=9), Retries(max_retries=1, backoff_factor=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        timeouts.read = 5  # type: ignore[misc]
    c = JMLinkClient("app", "secret", timeout=timeouts, max_retries=retries, rate_limits=RateLimits(links=(7, 2)),
                     shared_limits=False)
    assert (c.timeout, c.deadline, c.max_retries, c.backoff_factor) == ((2.0, 3.0), 9.0, 1, 0.0)
    assert c.rate_limits == {"links": (7, 2.0), "stats": (500, 60.0)}
    assert JMLinkClient("app", "secret", timeout=4, deadline=8, shared_limits=False)._transport.timeouts == \
        Timeouts(4, 4, 8)


def test_settable_properties_are_checked_like_the_keyword_arguments():
    c = JMLinkClient("app", "secret", shared_limits=False)
    c.max_retries, c.timeout, c.deadline, c.backoff_max, c.max_answer_bytes = 2, (1, 4), 5, 1, 1000
    assert (c.max_retries, c.timeout, c.deadline, c.backoff_max, c.max_answer_bytes) == (2, (1.0, 4.0), 5.0, 1.0,
                                                                                         1000)
    for name, bad, needle in [("max_retries", -1, "max_retries"), ("timeout", 0, "timeout"),
                              ("deadline", float("nan"), "deadline"), ("backoff_factor", -1, "backoff_factor"),
                              ("max_answer_bytes", 0, "max_answer_bytes")]:
        with pytest.raises((TypeError, ValueError), match=needle):
            setattr(c, name, bad)
    assert (c.max_retries, c.timeout, c.deadline) == (2, (1.0, 4.0), 5.0)  # a refused value changes nothing


def test_defaults_are_the_documented_ones():
    c = JMLinkClient("app", "secret")
    assert c.base_url == "https://api.jmlk.co"
    assert c.rate_limits == {"links": (100, 60.0), "stats": (500, 60.0)}
    assert c.session.verify is True and c.timeout == 30.0


def test_an_injected_session_is_used_and_never_closed(sb):
    class CountingSession(requests.Session):
        sent = closed = 0

        def send(self, request, **kw):
            CountingSession.sent += 1
            return super().send(request, **kw)

        def close(self):
            CountingSession.closed += 1
            super().close()

    session = CountingSession()
    with sb.client(session=session) as c:
        c.get_links_page()
    assert (CountingSession.sent, CountingSession.closed) == (1, 0)
    session.close()


def test_user_agent_names_the_package_and_version(client, sb):
    import jmlink_analytics

    assert client._transport.headers["User-Agent"].startswith(f"jmlink-analytics/{jmlink_analytics.__version__}")


def test_the_secret_never_shows(sb, caplog):
    secret = sb.master_secret
    caplog.set_level(logging.DEBUG, logger="jmlink_analytics")
    texts = []
    with sb.client(max_retries=1, backoff_factor=0) as c:
        texts += [repr(c), str(c), repr(c._auth), repr(vars(c).get("_auth"))]
        c.get_links_page()
        sb.fail_next(3011, times=2, endpoint="links")
        with pytest.raises(e.ServerError) as info:
            c.get_links_page()
        texts += [str(info.value), repr(info.value)]
    with JMLinkClient(sb.app_key, secret + "x", base_url=sb.base_url) as bad, pytest.raises(e.AuthError) as info:
        bad.get_links_page()
    texts += [str(info.value), repr(info.value), repr(bad)]
    texts += [record.getMessage() for record in caplog.records]
    assert any("GET /v1/links" in t and "-> 200" in t and " ms" in t for t in texts), "DEBUG logs the calls"
    assert not [t for t in texts if secret in t]
