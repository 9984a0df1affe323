"""A small HTTP server of the tests' own, on 127.0.0.1, that answers whatever a test scripts.

Not the sandbox: the sandbox keeps the API's contract, this one breaks it on purpose. A
test gives it a function ``answer(request) -> Reply`` (or a list of replies, one per request)
and reads back every request it served.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

COUNTERS = ("exposure_count", "click_count", "open_count", "install_count")
#: The counters of every day in a good stat answer (distinct, so a shifted day shows).
GOOD = {"exposure_count": 40, "click_count": 12, "open_count": 5, "install_count": 2}


@dataclass(frozen=True)
class Seen:
    """One request the server answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Reply:
    """What to answer: a status, a body (JSON-encoded unless bytes/str) and headers.

    ``stream``: a function giving the body as chunks, sent as they come (chunked unless
    ``headers`` has a Content-Length), so a huge body never sits in the server's memory.
    ``header_trickle``: seconds between the bytes of the header block (status line excluded).
    """

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    stream: Callable[[], Iterable[bytes]] | None = None
    header_trickle: float | None = None

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


def good_rows(start: str, end: str, **override: Any) -> list[dict[str, Any]]:
    """A stat answer's rows, one per day from ``start`` to ``end``, each :data:`GOOD` (+ ``override``)."""
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return [{"iday": (first + dt.timedelta(days=i)).isoformat(), **GOOD, **override}
            for i in range((last - first).days + 1)]


def record(i: int, **override: Any) -> dict[str, Any]:
    """A link record of the listing."""
    return {"id": i, "link_key": f"K{i:0>3}", "name": f"link {i}", "channel": "QQ", "app_domain": "x.jmlk.co",
            "share_title": None, "share_desc": None, "android_uri": None, "ios_uri": None,
            "jump_link_type": "DOWNLOAD", "landing_page": "", "create_time": "2024-01-01",
            "update_time": "2024-01-02", **override}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are written apart: no delayed-ACK stall

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        seen = Seen("GET", unquote(parts.path), dict(parse_qsl(parts.query)), dict(self.headers.items()))
        server: HostileServer = self.server.owner  # type: ignore[attr-defined]
        reply = server.next_reply(seen)
        try:
            self._answer(reply)
        except OSError:  # the client hung up (a cap reached, a deadline passed)
            self.close_connection = True

    def _answer(self, reply: Reply) -> None:
        headers = {"Content-Type": "application/json", **reply.headers}
        body = b"" if reply.stream is not None else reply.encoded()
        if reply.stream is None:
            headers.setdefault("Content-Length", str(len(body)))
        elif "Content-Length" not in headers:
            headers["Transfer-Encoding"] = "chunked"
        if reply.header_trickle is not None:
            self.wfile.write(f"HTTP/1.1 {reply.status} Whatever\r\n".encode())
            block = "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
            for byte in block.encode("latin-1"):
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(reply.header_trickle)
            self.wfile.write(body)
            return
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if reply.stream is None:
            self.wfile.write(body)
            return
        chunked = headers.get("Transfer-Encoding") == "chunked"
        for chunk in reply.stream():
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args: Any) -> None:  # quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # the default backlog of 5 refuses bursts of connections


class HostileServer:
    """Serve scripted answers on 127.0.0.1 (a random port) until :meth:`stop`.

    Parameters
    ----------
    answer : callable or list
        ``answer(seen) -> Reply``; or a list of replies served in order (the last one repeats).
    """

    def __init__(self, answer: Callable[[Seen], Reply] | list[Reply]):
        self.answer = answer
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def next_reply(self, seen: Seen) -> Reply:
        with self._lock:
            self.requests.append(seen)
            count = len(self.requests)
        if callable(self.answer):
            return self.answer(seen)
        return self.answer[min(count, len(self.answer)) - 1]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
