"""The transport: an overall deadline, TLS, typed failures for whatever requests raises, one parse, Retry-After.

A server of the tests' own (on 127.0.0.1) gives the answers the sandbox never gives.
"""

from __future__ import annotations

import http.server
import json
import logging
import ssl
import subprocess
import threading
import time

import pytest
import requests

import jmlink_analytics.client._transport as transport_module
from jmlink_analytics import errors as e
from jmlink_analytics.client import JMLinkClient
from jmlink_analytics.data import fetch_stats

START, END = "2024-06-01", "2024-06-30"


# -- a server of the tests' own, for answers the sandbox never gives -----------------------------------
class Scripted(http.server.ThreadingHTTPServer):
    """Answers every request with ``answer(handler) -> (status, headers, body, trickle_s)``; counts requests."""

    daemon_threads = True

    def __init__(self, answer, *, tls: ssl.SSLContext | None = None):
        self.answer, self.count, self.paths = answer, 0, []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                server = self.server
                server.count += 1
                server.paths.append(self.path)
                status, headers, body, trickle = server.answer(self)
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    if trickle:
                        for i in range(len(body)):
                            self.wfile.write(body[i:i + 1])
                            self.wfile.flush()
                            time.sleep(trickle)
                    else:
                        self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, scheme="http"):
        return f"{scheme}://127.0.0.1:{self.server_port}"

    def stop(self):
        self.shutdown()
        self.server_close()


@pytest.fixture
def scripted():
    servers = []

    def start(answer, **kwargs):
        servers.append(Scripted(answer, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def ok_rows(handler):
    return 200, {"Content-Type": "application/json"}, b'{"data": []}', 0


def scripted_client(server, scheme="http", **kwargs):
    kwargs.setdefault("shared_limits", False)
    return JMLinkClient("k" * 24, "s" * 24, base_url=server.url(scheme), **kwargs)


# -- deadline, TLS, typed failures ---------------------------------------------------------------------------
def test_a_trickled_answer_is_cut_off_at_the_deadline(scripted, no_wait):
    server = scripted(lambda h: (200, {"Content-Type": "application/json"}, b'{"data": []}' + b" " * 200, 0.02))
    with scripted_client(server, timeout=5.0, deadline=0.5, max_retries=1) as client:
        started = time.monotonic()
        with pytest.raises(e.TransportError, match="deadline of 0.5 s"):
            client.get_link_stats("AAAA", START, END)
        elapsed = time.monotonic() - started
    assert elapsed < 2.5  # two attempts of 0.5 s, not the 4 s the trickle takes
    assert server.count == 2 and len(no_wait) == 1


def test_the_deadline_is_checked(scripted):
    with pytest.raises(ValueError, match="deadline must be a finite number of seconds > 0; got 0"):
        JMLinkClient("app", "secret", deadline=0)


def test_a_tls_certificate_failure_is_not_retried(scripted, no_wait, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True, timeout=60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = scripted(ok_rows, tls=context)
    attempts = []
    session = requests.Session()
    real_send = session.send
    session.send = lambda *a, **kw: (attempts.append(1), real_send(*a, **kw))[1]
    with scripted_client(server, "https", max_retries=5, session=session) as client, \
            pytest.raises(e.TransportError, match="TLS certificate check failed.*not retried") as info:
        client.get_link_stats("AAAA", START, END)
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert len(attempts) == 1 and no_wait == []
    session.close()


def test_other_tls_failures_are_retried_like_a_reset(scripted, no_wait):
    server = scripted(ok_rows)  # plain HTTP: a TLS handshake with it fails, but not over a certificate
    with scripted_client(server, "https", max_retries=1) as client, \
            pytest.raises(e.TransportError, match="TLS failed") as info:
        client.get_link_stats("AAAA", START, END)
    assert "certificate" not in str(info.value) and len(no_wait) == 1


def test_an_undecodable_body_is_a_format_error_and_costs_one_link(scripted, no_wait):
    def answer(handler):
        if "/BAD/" in handler.path:
            return 200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, b"not gzip at all", 0
        return 200, {"Content-Type": "application/json"}, b'{"data": []}', 0

    server = scripted(answer)
    with scripted_client(server) as client:
        with pytest.raises(e.ResponseFormatError, match="could not be decoded"):
            client.get_link_stats("BAD", START, END)
        assert server.count == 1 and no_wait == []
        with pytest.warns(UserWarning, match="1 link"):
            df = fetch_stats(client, ["AAAA", "BAD", "CCCC"], start=START, end=END, progress=False, errors="warn")
    assert list(df.attrs["failed"]) == ["BAD"] and set(df["link_key"]) == {"AAAA", "CCCC"}


def test_a_redirect_loop_is_a_transport_error_not_retried(scripted, no_wait):
    server = scripted(lambda h: (302, {"Location": h.path}, b"", 0))
    with scripted_client(server, max_retries=3) as client, pytest.raises(e.TransportError, match="redirects"):
        client.get_link_stats("AAAA", START, END)
    # changed (issue 19): redirects are followed by the client itself, and only to the same origin and path
    assert server.count == 1 + transport_module.MAX_REDIRECTS and no_wait == []


class RaisingSession(requests.Session):
    def __init__(self, exc):
        super().__init__()
        self.exc, self.sent = exc, 0

    def send(self, request, **kwargs):
        self.sent += 1
        raise self.exc


@pytest.mark.parametrize("exc", [
    requests.exceptions.InvalidURL("Failed to parse: http://127.0.0.1:99999"),
    UnicodeEncodeError("latin-1", "密", 0, 1, "ordinal not in range(256)"),
    requests.exceptions.InvalidHeader("Invalid leading whitespace"),
    ValueError("Invalid header value"),
])
def test_what_requests_raises_while_sending_becomes_a_final_transport_error(exc, no_wait):
    session = RaisingSession(exc)
    with JMLinkClient("app", "secret", base_url="http://127.0.0.1:9", session=session, shared_limits=False) as c, \
            pytest.raises(e.TransportError, match="could not be sent") as info:
        c.get_links_page()
    assert type(exc).__name__ in str(info.value) and "secret" not in str(info.value)
    assert session.sent == 1 and no_wait == []


def test_each_answer_body_is_parsed_once(make_sandbox, monkeypatch):
    sb = make_sandbox(links=600)
    calls = []
    real = json.loads  # patched in the json module itself: any parse anywhere counts
    monkeypatch.setattr(json, "loads", lambda text, *a, **kw: (calls.append(1), real(text, *a, **kw))[1])
    with sb.client() as client:
        page = client.get_links_page(page_size=500)
    assert len(page.records) == 500 and len(calls) == 1


# -- Retry-After ---------------------------------------------------------------------------------------
def test_a_retry_after_over_the_cap_is_a_warning_and_is_capped(scripted, no_wait, caplog):
    answers = iter([(403, {"Content-Type": "application/json", "Retry-After": "30"},
                     b'{"error": {"code": 3006, "message": "out of freq"}}', 0)])
    server = scripted(lambda h: next(answers, ok_rows(h)))
    caplog.set_level(logging.WARNING, logger="jmlink_analytics")
    told = []
    with scripted_client(server, rate_limits={"stats": (100, 1.0)}) as client, \
            client.observing_waits(lambda text, s: told.append((text, s))):
        assert client.get_link_stats("AAAA", START, END) == []
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "asked to wait 30 s (Retry-After)" in record.getMessage() and "cap of 2 s" in record.getMessage()
    assert len(no_wait) == 1 and 2.0 <= no_wait[0] <= 2.1
    assert told == [("server asked 30 s (Retry-After); waiting 2 s", 2.0)]


