"""Replay every recorded cassette with the network blocked, and keep the cassettes honest.

The cassettes in ``cassettes/`` are recorded from real HTTP traffic with the sandbox
(``make cassettes``); these tests replay them with ``record_mode="none"`` and every socket
disabled, so a request that is not in a cassette fails the test instead of escaping.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import requests
import vcr.errors
import yaml

from jmlink_analytics import errors as e
from jmlink_analytics.client import JMLinkClient
from tests.cassette_scenarios import (
    RANGE_CAP_DAYS,
    SCENARIOS,
    SEED,
    START,
    TODAY,
    link_with_most_idle_days,
    range_cap_keys,
    record,
)
from tests.vcr_config import CANONICAL_BASE, replay_vcr

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
COUNTERS = ("exposure_count", "click_count", "open_count", "install_count")


def synthetic_app(**options):
    """The sandbox app the cassettes were recorded from, rebuilt without a server."""
    from jmlink_analytics.sandbox import Sandbox

    sb = Sandbox(**{"links": 8, "days": 60, "seed": SEED, "today": TODAY, **options})
    return sb


@pytest.fixture
def replay(socket_disabled, no_wait):
    """``replay(name)`` -> a context manager replaying ``cassettes/<name>.yaml``, network off."""
    def use(name: str):
        return replay_vcr(CASSETTES).use_cassette(f"{name}.yaml", allow_playback_repeats=False)
    return use


@pytest.fixture
def sandbox_meta():
    return synthetic_app()


def client(sb, **kwargs) -> JMLinkClient:
    kwargs.setdefault("backoff_factor", 0)
    return JMLinkClient(kwargs.pop("app_key", sb.app_key), kwargs.pop("master_secret", sb.master_secret),
                        base_url=CANONICAL_BASE, **kwargs)


def test_every_scenario_has_a_committed_cassette():
    missing = [s.name for s in SCENARIOS if not (CASSETTES / f"{s.name}.yaml").is_file()]
    assert missing == []


# -- what the client and the data layer make of the recordings ---------------------------------
def test_links_page(replay):
    sb = synthetic_app(links=30)
    with replay("links_page") as cassette, client(sb) as c:
        page = c.get_links_page(1, 20)
    assert page.total == 30 and page.records == sb.app.links[:20]
    assert cassette.play_count == 1


def test_full_listing_in_pages_of_500(replay):
    sb = synthetic_app(links=1250)
    with replay("links_full") as cassette, client(sb) as c:
        links = list(c.iter_links(page_size=500))
    assert len(links) == 1250 and len({link["id"] for link in links}) == 1250
    assert [link["link_key"] for link in links] == [link["link_key"] for link in sb.app.links]
    assert cassette.play_count == 6  # 3 pages, read twice (a listing of several pages always is)


@pytest.mark.parametrize("platform", ["all", "ios", "android"])
def test_stats_per_platform(replay, sandbox_meta, platform):
    key = sandbox_meta.app.links[-1]["link_key"]
    with replay(f"stats_{platform}") as cassette, client(sandbox_meta) as c:
        rows = c.get_link_stats(key, START, TODAY, platform=platform)
    assert rows == sandbox_meta.app.stats(key, START, TODAY, platform)
    assert len(rows) == 30 and cassette.play_count == 1


def test_recorded_all_equals_ios_plus_android(replay, sandbox_meta):
    key = sandbox_meta.app.links[-1]["link_key"]
    by_platform = {}
    for platform in ("all", "ios", "android"):
        with replay(f"stats_{platform}"), client(sandbox_meta) as c:
            by_platform[platform] = c.get_link_stats(key, START, TODAY, platform=platform)
    for total, ios, android in zip(*by_platform.values(), strict=True):
        assert all(total[k] == ios[k] + android[k] for k in COUNTERS)


def test_stat_answer_with_days_left_out(replay):
    sb = synthetic_app(omit_zero_days=True)
    key = link_with_most_idle_days(sb.app)
    with replay("stats_omitted_days"), client(sb) as c:
        rows = c.get_link_stats(key, START, TODAY)
    full = sb.app.stats(key, START, TODAY, "all")
    assert 0 < len(rows) < 30
    assert rows == [r for r in full if any(r[k] for k in COUNTERS)]


def test_fetch_stats_replayed_with_one_worker(replay):
    from jmlink_analytics.data import fetch_stats

    sb = synthetic_app(links=4)
    start = TODAY - dt.timedelta(days=13)
    with replay("fetch_stats_split") as cassette, client(sb) as c:
        stats = fetch_stats(c, start=start, end=TODAY, platform=["ios", "android"], max_workers=1, progress=False)
    assert cassette.all_played
    assert len(stats) == 4 * 2 * 14
    assert set(stats["platform"]) == {"ios", "android"}
    key = sb.app.links[0]["link_key"]
    ios = stats[(stats["link_key"] == key) & (stats["platform"] == "ios")]
    expected = sum(r["click_count"] for r in sb.app.stats(key, start, TODAY, "ios"))
    assert int(ios["click_count"].sum()) == expected


def test_a_capped_date_range_is_split_and_learned(replay):
    from jmlink_analytics.data import fetch_stats

    sb = synthetic_app(max_span_days=RANGE_CAP_DAYS)
    keys = range_cap_keys(sb.app)
    start = TODAY - dt.timedelta(days=89)
    with replay("stats_range_cap") as cassette, client(sb) as c:
        stats = fetch_stats(c, keys, start=start, end=TODAY, max_workers=1, progress=False)
    assert cassette.all_played
    spans, refused = {key: [] for key in keys}, {key: [] for key in keys}
    for request, response in zip(cassette.requests, cassette.responses, strict=True):
        key = request.path.split("/")[3]
        query = dict(request.query)
        days = (dt.date.fromisoformat(query["end_date"]) - dt.date.fromisoformat(query["start_date"])).days + 1
        (refused if response["status"]["code"] == 400 else spans)[key].append(days)
    first, second = keys
    assert refused[first] and min(refused[first]) > RANGE_CAP_DAYS  # only spans over the cap were refused
    assert max(spans[first] + spans[second]) == RANGE_CAP_DAYS  # the exact cap was found
    assert len(spans[second]) + len(refused[second]) < len(spans[first]) + len(refused[first])  # no probing again
    assert sum(spans[first]) == sum(spans[second]) == 90
    for key in keys:
        got = stats[stats["link_key"] == key]
        assert len(got) == 90
        assert int(got["click_count"].sum()) == sum(r["click_count"] for r in sb.app.stats(key, start, TODAY, "all"))


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "call", "cls", "code", "status"), [
    ("error_3002", lambda sb: client(sb, master_secret="not-the-secret").get_links_page(),
     e.AuthError, 3002, 401),
    ("error_3005", lambda sb: client(sb).get_link_stats("ZZZZ", START, TODAY), e.InvalidRequestError, 3005, 400),
    ("error_3007", lambda sb: JMLinkClient(sb.app_key, sb.master_secret, base_url=CANONICAL_BASE + "/v2")
     .get_links_page(), e.NotFoundError, 3007, 404),
    ("error_3009", lambda sb: client(sb, app_key=sb.blacklisted_app_key).get_links_page(),
     e.BlacklistedError, 3009, 405),
    ("error_3010", lambda sb: client(sb, app_key=sb.novip_app_key).get_links_page(), e.VipRequiredError, 3010, 405),
    ("error_3011", lambda sb: client(sb, max_retries=0).get_links_page(), e.ServerError, 3011, 500),
    ("malformed_body", lambda sb: client(sb).get_links_page(), e.ResponseFormatError, None, 200),
])
def test_recorded_errors_become_typed_errors(replay, sandbox_meta, name, call, cls, code, status):
    with replay(name) as cassette, pytest.raises(cls) as info:
        call(sandbox_meta)
    assert (info.value.code, info.value.http_status) == (code, status)
    assert cassette.play_count == 1  # final: exactly one request


def test_recorded_3006_after_one_page(replay, sandbox_meta):
    with replay("error_3006"), client(sandbox_meta, max_retries=0) as c:
        c.get_links_page()
        with pytest.raises(e.RateLimitError) as info:
            c.get_links_page()
    assert (info.value.code, info.value.http_status) == (3006, 403)


@pytest.mark.parametrize(("name", "method", "cls", "code", "status"), [
    ("error_3001", "GET", e.AuthError, 3001, 400),
    ("error_3008", "POST", e.MethodNotAllowedError, 3008, 405),
])
def test_recorded_raw_requests_map_to_typed_errors(replay, name, method, cls, code, status):
    # the client can't send these (it always authenticates and only GETs): recorded from raw requests
    with replay(name):
        response = requests.request(method, CANONICAL_BASE + "/v1/links",
                                    params={"page_index": 1, "page_size": 20} if method == "GET" else None,
                                    json={} if method == "POST" else None, timeout=5)
    err = e.error_from_response(response.status_code, response.content)
    assert (type(err), err.code, err.http_status) == (cls, code, status)


def test_recorded_3011_is_retried_then_succeeds(replay, sandbox_meta, no_wait):
    key = sandbox_meta.app.links[0]["link_key"]
    with replay("retry_3011_then_success") as cassette, client(sandbox_meta, max_retries=2) as c:
        rows = c.get_link_stats(key, START, TODAY)
    assert rows == sandbox_meta.app.stats(key, START, TODAY, "all")
    assert cassette.play_count == 2 and len(no_wait) == 1


def test_recorded_3006_is_waited_out_as_retry_after_says(replay, sandbox_meta, no_wait):
    with replay("wait_3006_then_success") as cassette, client(sandbox_meta, rate_limits={"links": (100, 1.0)}) as c:
        c.get_links_page()
        page = c.get_links_page()
    assert page.total == len(sandbox_meta.app.links)
    assert cassette.play_count == 3
    retry_after = float(cassette.responses[1]["headers"]["Retry-After"][0])
    assert len(no_wait) == 1 and retry_after <= no_wait[0] <= retry_after + 0.1


def test_a_request_not_in_the_cassette_fails_instead_of_escaping(replay, sandbox_meta):
    with replay("links_page"), client(sandbox_meta) as c, \
            pytest.raises(vcr.errors.CannotOverwriteExistingCassetteException):
        c.get_links_page(2, 20)


# -- the cassettes themselves -------------------------------------------------------------------
def all_cassette_files():
    return sorted(CASSETTES.rglob("*.yaml"))


def test_no_cassette_carries_a_credential():
    secret = synthetic_app().master_secret
    basic = re.compile(r"Basic\s+[A-Za-z0-9+/=]{8,}")
    files = all_cassette_files()
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "authorization" not in text.lower(), path
        assert not basic.search(text), path
        assert secret not in text, path


def normalized(path: Path) -> list[dict]:
    """A cassette's interactions without what legitimately varies between recordings (Date)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for item in data["interactions"]:
        request, response = item["request"], item["response"]
        headers = {k: v for k, v in response["headers"].items() if k.lower() != "date"}
        out.append({"method": request["method"], "uri": request["uri"], "body": request["body"],
                    "status": response["status"], "headers": headers, "response": response["body"]})
    return out


@pytest.mark.slow
def test_recording_again_reproduces_the_committed_cassettes(tmp_path):
    written = record(tmp_path)
    assert {p.name for p in written} == {f"{s.name}.yaml" for s in SCENARIOS}
    for path in written:
        assert normalized(path) == normalized(CASSETTES / path.name), f"{path.name} drifted: run `make cassettes`"


def test_live_recording_path_works_and_scrubs_the_secret(make_sandbox, monkeypatch, tmp_path):
    """``make cassettes-live`` against a sandbox standing in for the real API (same code path)."""
    from tests.cassette_scenarios import SCENARIOS as ALL
    from tests.cassette_scenarios import record_live

    sb = make_sandbox(links=12, days=60, today=None)  # live scenarios ask for the real "today"
    monkeypatch.setenv("JMLINK_APP_KEY", sb.app_key)
    monkeypatch.setenv("JMLINK_MASTER_SECRET", sb.master_secret)
    monkeypatch.setenv("JMLINK_BASE_URL", sb.base_url)
    written = record_live(tmp_path)
    assert {p.name for p in written} == {f"{s.name}.yaml" for s in ALL if s.live}
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert sb.master_secret not in text and "authorization" not in text.lower()
        assert yaml.safe_load(text)["interactions"], path


@pytest.mark.parametrize("app_key", ["k", "ke", "key", "a-much-longer-app-key-0001"])
def test_the_scrubber_masks_an_echoed_basic_token_in_headers_and_body_whatever_the_key_length(tmp_path, app_key):
    import base64

    from tests.hostile_server import HostileServer, Reply
    from tests.vcr_config import make_vcr

    secret = "s3cret-value-0123456789"
    token = base64.b64encode(f"{app_key}:{secret}".encode()).decode()

    def echo(seen):
        auth = seen.headers["Authorization"]
        return Reply({"echo": auth, "token": auth.split()[-1], "secret": secret}, status=200,
                     headers={"X-Echo-Authorization": auth, "X-Echo-Token": auth.split()[-1]})

    server = HostileServer(echo)
    try:
        recorder = make_vcr(tmp_path, record_mode="all", base_url=server.base_url, secrets=(secret,), app_key=app_key)
        with recorder.use_cassette("echo.yaml"):
            requests.get(server.base_url + "/v1/links", auth=(app_key, secret), timeout=5)
    finally:
        server.stop()
    assert len(server.requests) == 1 and server.requests[0].headers["Authorization"] == f"Basic {token}"
    text = (tmp_path / "echo.yaml").read_text(encoding="utf-8")
    assert secret not in text and token not in text and token.rstrip("=") not in text
    assert not re.search(r"Basic\s+[A-Za-z0-9+/=]{4,}", text)
    assert "X-Echo-Token" in text and "<scrubbed>" in text
