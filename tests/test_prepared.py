"""Requests prepared once per client: the same requests as requests would build, proxies and session changes kept."""

from __future__ import annotations

import http.server
import json
import threading

import pytest
import requests

from jmlink_analytics import JMLinkClient
from jmlink_analytics._validate import path_segment
from jmlink_analytics.client._prepared import Prepared


@pytest.mark.parametrize("base", ["http://127.0.0.1:9", "http://127.0.0.1:9/api/v", "https://bücher.example",
                                  "http://[::1]:8080/x%20y"])
@pytest.mark.parametrize("key", ["AAAA", "a/b", "密钥", "a b+c", "~._-", "%41", "a?b#c", "..x"])
def test_a_prepared_request_is_the_one_requests_builds(base, key):
    session = requests.Session()
    session.headers["X-Team"] = "growth"
    auth = requests.auth.HTTPBasicAuth("app", "secret")
    headers = {"User-Agent": "ua", "Accept": "application/json"}
    prepared = Prepared(session, base, auth, headers)
    url = f"{base}/v1/links/{path_segment(key)}/stat"
    params = {"start_date": "2024-06-01", "end_date": "2024-06-30", "platform": "ios"}
    ours, settings = prepared.request(url, params)
    theirs = session.prepare_request(requests.Request("GET", url, params=params, auth=auth, headers=headers))
    assert ours.url == theirs.url
    assert dict(ours.headers) == dict(theirs.headers)
    assert settings == session.merge_environment_settings(theirs.url, {}, True, None, None)


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every GET with an empty links page; records the request line (a proxy sees the whole URL)."""

    seen: list[str]

    def do_GET(self):
        type(self).seen.append(self.path)
        self.server.headers_seen.append(dict(self.headers))  # type: ignore[attr-defined]
        body = json.dumps({"total": 0, "records": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    handler = type("Handler", (_Recorder,), {"seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.headers_seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, handler.seen
    server.shutdown()
    server.server_close()


def test_the_environments_proxy_is_used(recorder, monkeypatch):
    server, seen = recorder
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with JMLinkClient("app", "secret", base_url="http://jmlink.invalid", shared_limits=False, max_retries=0) as c:
        assert c.get_links_page(page_size=5).total == 0
        assert c.get_links_page(page_index=2, page_size=5).total == 0
    # the proxy got the absolute URLs: the client sent both requests through it
    assert seen == ["http://jmlink.invalid/v1/links?page_index=1&page_size=5",
                    "http://jmlink.invalid/v1/links?page_index=2&page_size=5"]


def test_no_proxy_sends_directly(recorder, monkeypatch):
    server, seen = recorder
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with JMLinkClient("app", "secret", base_url=base, shared_limits=False, max_retries=0) as c:
        assert c.get_links_page(page_size=5).total == 0
    assert seen == ["/v1/links?page_index=1&page_size=5"]


def test_an_injected_sessions_headers_and_cookies_changed_later_are_sent(recorder):
    server, _ = recorder
    session = requests.Session()
    session.trust_env = False
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with JMLinkClient("app", "secret", base_url=base, session=session, shared_limits=False) as c:
        c.get_links_page()
        session.headers["X-Team"] = "growth"
        c.get_links_page()
        session.cookies.set("sid", "42", domain="127.0.0.1", path="/")
        c.get_links_page()
    sent = server.headers_seen
    assert "X-Team" not in sent[0] and sent[1]["X-Team"] == "growth" and sent[2]["X-Team"] == "growth"
    assert "Cookie" not in sent[1] and sent[2]["Cookie"] == "sid=42"
    assert all(h["Authorization"].startswith("Basic ") for h in sent)
