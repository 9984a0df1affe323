"""The transport: windows as the server counts them, one budget per appKey, deadlines, typed failures, waits shown.

Rate limits are scaled down (a few calls per second) so every test stays fast; what is asserted
comes from the sandbox's own request log, never from the client's idea of what it sent.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import logging
import os
import ssl
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import pytest
import requests

import jmlink_analytics.client._transport as transport_module
from jmlink_analytics import errors as e
from jmlink_analytics.client import JMLinkClient
from jmlink_analytics.client._ratelimit import shared_limits_path
from jmlink_analytics.data import fetch_stats

from .conftest import TODAY

START, END = "2024-06-01", "2024-06-30"


def stat_requests(sb):
    return [r for r in sb.requests if r.path.endswith("/stat")]


def most_in_any_window(times, seconds):
    times = sorted(times)
    most = lo = 0
    for hi, t in enumerate(times):
        while times[lo] <= t - seconds:
            lo += 1
        most = max(most, hi - lo + 1)
    return most


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


# -- 1. the limiter counts what the server counts --------------------------------------------------------
@pytest.mark.slow
def test_thirty_two_workers_with_latency_never_exceed_a_window_and_get_no_3006(make_sandbox):
    limits = {"stats": (10, 1.0)}
    sb = make_sandbox(links=40, rate_limits=limits, latency=0.05)
    keys = [link["link_key"] for link in sb.app.links]
    with sb.client(max_retries=0) as client:  # a single 3006 would fail the fetch
        df = fetch_stats(client, keys, start=START, end=END, max_workers=32, progress=False)
    served = stat_requests(sb)
    assert [r.code for r in served] == [3000] * 40
    assert most_in_any_window([r.time for r in served], 1.0) <= 10
    assert len(df) == 40 * 30


def test_a_call_holds_its_slot_until_its_answer_arrives(make_sandbox):
    # 2 calls per 0.5 s and answers that take 0.3 s: the third call may leave only 0.5 s after the
    # *answer* of the first (0.8 s), not 0.5 s after it was sent.
    sb = make_sandbox(links=3, rate_limits={"stats": (2, 0.5)}, latency=0.3)
    keys = [link["link_key"] for link in sb.app.links]
    with sb.client(max_retries=0) as client:
        fetch_stats(client, keys, start=START, end=END, max_workers=3, progress=False)
    first, _, third = sorted(r.time for r in stat_requests(sb))
    assert third - first >= 0.5 + 0.3 - 0.02


@pytest.mark.slow
def test_requests_that_reach_the_server_late_are_never_refused(make_sandbox):
    import random
    from concurrent.futures import ThreadPoolExecutor

    sb = make_sandbox(links=8, rate_limits={"stats": (5, 0.5)})
    keys = [link["link_key"] for link in sb.app.links]
    delays, lock = random.Random(1), threading.Lock()
    with sb.client(max_retries=0) as client:
        send = client.session.send

        def late_send(request, **kwargs):
            with lock:
                delay = delays.uniform(0, 0.15)
            time.sleep(delay)  # the slot is taken; the request reaches the server this much later
            return send(request, **kwargs)

        client.session.send = late_send
        with ThreadPoolExecutor(8) as pool:
            for job in [pool.submit(client.get_link_stats, keys[i % 8], START, END) for i in range(25)]:
                job.result()  # a 3006 would raise: retries are off
    served = stat_requests(sb)
    assert [r.code for r in served] == [3000] * 25
    assert most_in_any_window([r.time for r in served], 0.5) <= 5


# -- 2. one budget per appKey on the machine ---------------------------------------------------------------
CHILD = textwrap.dedent("""
    import sys
    from jmlink_analytics.client import JMLinkClient
    from jmlink_analytics.data import fetch_stats
    base_url, app_key, secret, folder, keys = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
    with JMLinkClient(app_key, secret, base_url=base_url, rate_limits={"stats": (10, 1.0)}, max_retries=0,
                      shared_limits=folder) as client:
        df = fetch_stats(client, keys, start="2024-06-01", end="2024-06-30", progress=False)
    print(len(df))
""")


@pytest.mark.slow
def test_two_processes_on_one_app_key_share_the_budget(make_sandbox, tmp_path):
    sb = make_sandbox(links=30, rate_limits={"stats": (10, 1.0)})
    keys = [link["link_key"] for link in sb.app.links]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, sb.base_url, sb.app_key, sb.master_secret,
                               str(tmp_path), *part], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env)
             for part in (keys[:15], keys[15:])]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    assert [out.strip() for out, _ in outputs] == ["450", "450"]
    served = stat_requests(sb)
    assert [r.code for r in served].count(3006) == 0 and len(served) == 30
    assert most_in_any_window([r.time for r in served], 1.0) <= 10
    assert list(tmp_path.glob("ratelimit-*.sqlite")) == [shared_limits_path(sb.app_key, sb.base_url, tmp_path)]


def test_shared_limits_file_is_named_by_a_hash_in_the_user_cache_dir(private_cache_dir):
    app_key, secret = "a1b2c3d4e5f6a7b8c9d0e1f2", "0f9e8d7c6b5a4f3e2d1c0b9a"
    with JMLinkClient(app_key, secret, base_url="https://api.example.test") as client:
        path = client._slots.path
    assert path.parent == private_cache_dir / "jmlink-analytics" and path.is_file()
    assert app_key not in path.name and secret not in path.name and "example" not in path.name
    assert path == shared_limits_path(app_key, "https://api.example.test")
    assert path != shared_limits_path(app_key, "https://other.example.test")
    assert secret.encode() not in path.read_bytes()


def test_shared_limits_can_be_turned_off_or_pointed_elsewhere(private_cache_dir, tmp_path):
    with JMLinkClient("app", "secret", shared_limits=False) as client:
        assert client._slots.path is None
    with JMLinkClient("app", "secret", shared_limits=tmp_path / "limits") as client:
        assert client._slots.path.parent == tmp_path / "limits"
    assert not (private_cache_dir / "jmlink-analytics").exists()
    with pytest.raises(TypeError, match="shared_limits must be True, False or a folder path; got 1"):
        JMLinkClient("app", "secret", shared_limits=1)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="shared_limits must be a folder"):
        JMLinkClient("app", "secret", shared_limits=blocker)


def test_an_unusable_shared_file_falls_back_to_the_clients_own_count(make_sandbox, private_cache_dir, caplog):
    sb = make_sandbox(links=2)
    path = shared_limits_path(sb.app_key, sb.base_url)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a SQLite database" * 100)
    with caplog.at_level(logging.WARNING, logger="jmlink_analytics"), \
            JMLinkClient(sb.app_key, sb.master_secret, base_url=sb.base_url) as client:
        assert client.get_links_page().total == 2
        assert client._slots.path is None
    assert any("cannot share the rate limits" in r.getMessage() for r in caplog.records)


def test_a_shared_file_failing_mid_fetch_is_a_warning_not_a_sqlite_error(make_sandbox, tmp_path, caplog):
    sb = make_sandbox(links=3)
    keys = [link["link_key"] for link in sb.app.links]
    with sb.client(shared_limits=tmp_path) as client:
        client._slots._conn.close()  # as if the file had gone bad under the client
        with caplog.at_level(logging.WARNING, logger="jmlink_analytics"):
            df = fetch_stats(client, keys, start=START, end=END, progress=False)
    assert len(df) == 3 * 30
    assert any("shared rate-limit file" in r.getMessage() for r in caplog.records)


def test_a_closed_client_can_be_used_again(sandbox):
    client = sandbox.client()
    client.close()
    assert client.get_links_page().total == len(sandbox.app.links)
    client.close()


def test_two_clients_in_one_process_share_the_file_budget(make_sandbox, tmp_path):
    sb = make_sandbox(links=12, rate_limits={"stats": (6, 1.0)})
    keys = [link["link_key"] for link in sb.app.links]
    done = []

    def fetch(part):
        with sb.client(shared_limits=tmp_path, max_retries=0) as client:
            done.append(fetch_stats(client, part, start=START, end=END, progress=False))

    threads = [threading.Thread(target=fetch, args=(part,)) for part in (keys[:6], keys[6:])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(done) == 2
    served = stat_requests(sb)
    assert [r.code for r in served] == [3000] * 12
    assert most_in_any_window([r.time for r in served], 1.0) <= 6


# -- 3. an undocumented cap on the date range is learned -----------------------------------------------------
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


# -- 4. deadline, TLS, typed failures ---------------------------------------------------------------------------
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
    assert server.count == 31 and no_wait == []  # requests' 30 redirects, once


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
    real = transport_module.json.loads
    monkeypatch.setattr(transport_module.json, "loads", lambda text, *a, **kw: (calls.append(1), real(text))[1])
    with sb.client() as client:
        page = client.get_links_page(page_size=500)
    assert len(page.records) == 500 and len(calls) == 1


# -- 5. waits are told ---------------------------------------------------------------------------------------
def test_a_retry_after_over_the_cap_is_a_warning_and_is_capped(scripted, no_wait, caplog):
    answers = iter([(403, {"Content-Type": "application/json", "Retry-After": "30"},
                     b'{"error": {"code": 3006, "message": "out of freq"}}', 0)])
    server = scripted(lambda h: next(answers, ok_rows(h)))
    caplog.set_level(logging.WARNING, logger="jmlink_analytics")
    told = []
    with scripted_client(server, rate_limits={"stats": (100, 1.0)}) as client, \
            client._transport.listening(lambda text, s: told.append((text, s))):
        assert client.get_link_stats("AAAA", START, END) == []
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "asked to wait 30 s (Retry-After)" in record.getMessage() and "cap of 2 s" in record.getMessage()
    assert len(no_wait) == 1 and 2.0 <= no_wait[0] <= 2.1
    assert told == [("server asked 30 s (Retry-After); waiting 2 s", 2.0)]


@pytest.mark.slow
def test_the_progress_bar_says_when_it_waits_for_the_rate_limit(make_sandbox, capsys):
    sb = make_sandbox(links=5, rate_limits={"stats": (3, 1.5)})
    keys = [link["link_key"] for link in sb.app.links]
    with sb.client() as client:
        fetch_stats(client, keys, start=START, end=END, progress=True, max_workers=4)
    err = capsys.readouterr().err
    assert "jmlink stats" in err and "waiting 2 s for the stats rate limit (3 per 1.5 s)" in err


def test_no_connection_pool_is_full_warning_at_any_max_workers(make_sandbox, caplog):
    sb = make_sandbox(links=80, rate_limits={"stats": (10_000, 1.0)}, latency=0.05)
    keys = [link["link_key"] for link in sb.app.links]
    caplog.set_level(logging.WARNING, logger="urllib3")
    with sb.client() as client, warnings.catch_warnings():
        warnings.simplefilter("error")
        df = fetch_stats(client, keys, start=START, end=END, max_workers=64, progress=False)
    assert len(df) == 80 * 30
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]


def test_the_default_is_thirty_two_workers_and_a_pool_to_match():
    import inspect

    assert inspect.signature(fetch_stats).parameters["max_workers"].default == 32
    with JMLinkClient("app", "secret", shared_limits=False) as client:
        adapter = client.session.get_adapter("https://api.jmlk.co")
        assert adapter._pool_maxsize == 32


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
    import argparse

    from jmlink_analytics.sandbox.cli import add_arguments

    parser = add_arguments(argparse.ArgumentParser())
    assert parser.parse_args(["--max-span-days", "31"]).max_span_days == 31
    assert parser.parse_args([]).max_span_days is None
    with pytest.raises(SystemExit):
        parser.parse_args(["--max-span-days", "0"])
    assert TODAY  # the conftest's fixed today is what the sandboxes above serve
