"""The sandbox on the wire: the HTTP handler and the threading server that tracks its connections.

Each request is decided the moment it arrives (see ``Sandbox.decide``), then the
configured latency passes in the handler's own thread (so concurrent requests overlap),
then the answer is written with a ``Content-Length``, keeping the connection alive.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import socketserver
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["ERRORS", "Answer", "Backend", "Request", "SandboxHandler", "SandboxServer", "error_answer"]

logger = logging.getLogger("jmlink_analytics.sandbox")

#: The contract's error table: code -> (HTTP status, message).
ERRORS: dict[int, tuple[int, str]] = {
    3001: (400, "missing auth"),
    3002: (401, "auth failed"),
    3003: (400, "missing body"),
    3004: (403, "invalid body"),
    3005: (400, "parameter invalid"),
    3006: (403, "out of freq"),
    3007: (404, "api not found"),
    3008: (405, "request method not support"),
    3009: (405, "app in black"),
    3010: (405, "this is vip function, pls contact to sales@jiguang.cn"),
    3011: (500, "server error"),
}
SUCCESS = 3000
JSON_TYPE = "application/json; charset=utf-8"
#: The documentation's own example body, which is not JSON: what a "malformed" fault sends.
MALFORMED_BODY = (b'{\n  "total": 2,\n  "records": [\n    {\n      "id": 1\n      "link_key": AAAA,\n'
                  b'      "name": "test001"\n      "channel": "QQ",\n    }\n  ]\n')
BAD_GATEWAY_BODY = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
                    b"</body>\r\n</html>\r\n")


class Answer:
    """What to send back: status, body, content type, extra headers; ``reset`` to send nothing."""

    __slots__ = ("body", "code", "content_type", "headers", "reset", "status")

    def __init__(self, status: int, body: bytes, code: int, *, content_type: str = JSON_TYPE,
                 headers: dict[str, str] | None = None, reset: bool = False):
        self.status, self.body, self.code = status, body, code
        self.content_type, self.headers, self.reset = content_type, headers or {}, reset


def dump_json(value: Any) -> bytes:
    """UTF-8 JSON, Chinese kept as is, keys in the order given (the API's field order)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def error_answer(code: int, headers: dict[str, str] | None = None) -> Answer:
    """The contract's answer for an error code: its HTTP status and ``{"error": {...}}``."""
    status, message = ERRORS[code]
    return Answer(status, dump_json({"error": {"code": code, "message": message}}), code, headers=headers)


class Request:
    """One parsed request: method, raw and decoded path, path segments, query, auth header."""

    __slots__ = ("arrival", "authorization", "method", "path", "query", "segments")

    def __init__(self, method: str, target: str, authorization: str | None, arrival: float):
        parts = urlsplit(target)
        raw_path = parts.path or "/"
        self.method = method
        self.arrival = arrival
        # Split first, decode each segment after: an encoded "/" (%2F) stays inside its segment.
        self.segments = [unquote(s, errors="replace") for s in raw_path.split("/")[1:]]
        # The decoded path, with a "/" decoded inside a segment shown as %2F again (unambiguous).
        self.path = "/" + "/".join(s.replace("/", "%2F") for s in self.segments)
        self.query: dict[str, str] = {}
        for name, value in parse_qsl(parts.query, keep_blank_values=True, errors="replace"):
            self.query.setdefault(name, value)  # a repeated parameter: the first one counts
        self.authorization = authorization


class Backend(Protocol):
    """What the handler needs of the sandbox (``Sandbox`` provides it; this module never imports it)."""

    latency: float

    def admin(self, request: Request) -> Answer: ...

    def decide(self, request: Request) -> tuple[Answer, str | None]: ...

    def log(self, request: Request, answer: Answer, app_key: str | None) -> None: ...


class SandboxHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler answering every method through one dispatcher."""

    protocol_version = "HTTP/1.1"
    server_version = "jmlink-sandbox/1"
    sys_version = ""
    timeout = 120  # seconds an idle keep-alive connection is kept open
    disable_nagle_algorithm = True  # TCP_NODELAY: answers leave at once
    sandbox: Backend  # set on the subclass each Sandbox makes

    def version_string(self) -> str:
        return self.server_version  # the same on every Python: recordings must not differ

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline, self.request_version, self.command = "", "", ""
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._dispatch()
            self.wfile.flush()
        except (TimeoutError, ConnectionError) as exc:
            logger.debug("sandbox connection ended: %r", exc)
            self.close_connection = True

    def _dispatch(self) -> None:
        arrival = time.monotonic()
        self._drain_body()
        request = Request(self.command, self.path, self.headers.get("Authorization"), arrival)
        sandbox = self.sandbox
        if request.segments[:1] == ["_sandbox"]:
            self._write(sandbox.admin(request), head=request.method == "HEAD")
            return
        answer, app_key = sandbox.decide(request)
        if sandbox.latency > 0:
            time.sleep(sandbox.latency)
        sandbox.log(request, answer, app_key)
        if answer.reset:
            self._reset()
            return
        self._write(answer, head=request.method == "HEAD")

    def _drain_body(self) -> None:
        """Read (and ignore) a request body, so the next request on the connection parses."""
        if self.headers.get("Transfer-Encoding", "").lower() not in ("", "identity"):
            self.close_connection = True  # not worth de-chunking: answer, then close
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length, self.close_connection = 0, True
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                break
            length -= len(chunk)

    def _write(self, answer: Answer, *, head: bool = False) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        # Head and body in one write: two small writes would meet the client's delayed ACK (~40 ms).
        buffer: list[bytes] = self._headers_buffer  # type: ignore[attr-defined]  # BaseHTTPRequestHandler's own
        buffer.append(b"\r\n")
        if not head:
            buffer.append(answer.body)
        self.flush_headers()

    def _reset(self) -> None:
        """Drop the connection with a TCP reset and no answer at all."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:  # pragma: no cover - already gone
            pass

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sandbox %s - %s", self.address_string(), format % args)


class SandboxServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its open connections and their threads, so ``stop`` can end them."""

    daemon_threads = True
    request_queue_size = 1024  # bursts of new connections (workers x processes) must not wait for SYN retransmits

    def __init__(self, address: tuple[str, int], handler: type[SandboxHandler]):
        self._open: dict[Any, threading.Thread] = {}
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def server_bind(self) -> None:  # skip HTTPServer's reverse DNS lookup (getfqdn)
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                  name=f"jmlink-sandbox:{self.server_port}:connection", daemon=True)
        with self._open_lock:
            self._open[request] = thread
        thread.start()

    def close_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.pop(request, None)
        super().close_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("sandbox: error while serving %s", client_address, exc_info=True)

    def close_connections(self, timeout: float = 5.0) -> None:
        """Shut down every open connection and wait for its handler thread."""
        with self._open_lock:
            open_now = list(self._open.items())
        for connection, _ in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for _, thread in open_now:
            if thread is not threading.current_thread():
                thread.join(timeout)
