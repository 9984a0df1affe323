"""Local fakes of the group bots, one small real HTTP server per platform on 127.0.0.1.

Each keeps its platform's documented contract, so a digest that passes here would pass there:
the path and the token, the signature and its one-hour timestamp window (DingTalk: query
``timestamp`` in ms and ``sign``; Feishu: body ``timestamp`` in s and ``sign``), the size limit
(WeCom markdown content 4,096 bytes; DingTalk body 20,000 bytes; Feishu body 20 KB), the rate
limits (WeCom and DingTalk 20 a minute; Feishu 100 a minute and 5 a second; Slack 1 a second)
and the error bodies the platforms document. ``accepted`` holds every message a bot took;
``requests`` every request it answered; ``throttle(n)`` answers the next ``n`` requests as
rate limited, as when another sender shares the bot.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ONE_HOUR_S = 3600


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class Request:
    """One request a fake answered."""

    path: str
    query: dict[str, str]
    body: bytes
    answer: Any


class FakeBot:
    """The shared server; subclasses implement :meth:`handle` as their platform does."""

    platform = ""
    rates: tuple[tuple[int, float], ...] = ()

    def __init__(self, token: str = "tok-3f9a0c1e-77ab", secret: str | None = None,
                 clock: Callable[[], float] = time.time):
        self.token, self.secret = token, secret
        self.clock = clock  # the platform's clock: rate windows and the signature's hour
        self.accepted: list[dict[str, Any]] = []
        self.requests: list[Request] = []
        self._arrivals: deque[float] = deque()
        self._throttle = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                with fake._lock:
                    answer = fake._answer(parts.path, query, body, dict(self.headers))
                    fake.requests.append(Request(parts.path, query, body, answer.body))
                data = answer.body if isinstance(answer.body, bytes) else (
                    answer.body.encode() if isinstance(answer.body, str) else json.dumps(answer.body).encode())
                self.send_response(answer.status)
                self.send_header("Content-Type", "text/plain" if isinstance(answer.body, str) else "application/json")
                for name, value in (answer.headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- running -------------------------------------------------------------------------
    def __enter__(self) -> FakeBot:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The webhook URL as the platform shows it (at this host), with ``#secret=`` when the bot signs."""
        return self.webhook() + (f"#secret={self.secret}" if self.secret else "")

    def webhook(self) -> str:
        raise NotImplementedError

    def throttle(self, n: int) -> None:
        """Answer the next ``n`` requests as rate limited."""
        self._throttle = n

    # -- the contract --------------------------------------------------------------------
    def _over_rate(self) -> bool:
        now = self.clock()
        self._arrivals.append(now)
        longest = max(seconds for _, seconds in self.rates)
        while self._arrivals and self._arrivals[0] <= now - longest:
            self._arrivals.popleft()
        return any(sum(1 for t in self._arrivals if t > now - seconds) > calls for calls, seconds in self.rates)

    def _answer(self, path: str, query: dict[str, str], body: bytes, headers: dict[str, str]) -> Answer:
        limited = self._over_rate() or self._throttle > 0
        if self._throttle > 0:
            self._throttle -= 1
        return self.handle(path, query, body, limited)

    def handle(self, path: str, query: dict[str, str], body: bytes, limited: bool) -> Answer:
        raise NotImplementedError


def _b64_hmac(key: bytes, msg: bytes) -> str:
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


class FakeWeCom(FakeBot):
    """``POST /cgi-bin/webhook/send?key=KEY``; markdown content at most 4,096 bytes; 20 a minute."""

    platform = "wecom"
    rates = ((20, 60.0),)

    def webhook(self) -> str:
        return f"{self.base}/cgi-bin/webhook/send?key={self.token}"

    def handle(self, path: str, query: dict[str, str], body: bytes, limited: bool) -> Answer:
        if path != "/cgi-bin/webhook/send" or query.get("key") != self.token:
            return Answer(200, {"errcode": 93000, "errmsg": "invalid webhook url, hint: [1733]"})
        if limited:
            return Answer(200, {"errcode": 45009, "errmsg": "api freq out of limit, hint: [1733]"})
        try:
            message = json.loads(body)
        except ValueError:
            return Answer(200, {"errcode": 40000, "errmsg": "invalid json request"})
        if message.get("msgtype") != "markdown" or not isinstance(message.get("markdown"), dict):
            return Answer(200, {"errcode": 40008, "errmsg": "invalid message type"})
        content = message["markdown"].get("content", "")
        if len(content.encode("utf-8")) > 4096:
            return Answer(200, {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096. invalid "
                                                            "Request Parameter"})
        self.accepted.append(message)
        return Answer(200, {"errcode": 0, "errmsg": "ok"})


class FakeDingTalk(FakeBot):
    """``POST /robot/send?access_token=T[&timestamp=MS&sign=S]``; body at most 20,000 bytes; 20 a minute."""

    platform = "dingtalk"
    rates = ((20, 60.0),)

    def webhook(self) -> str:
        return f"{self.base}/robot/send?access_token={self.token}"

    def handle(self, path: str, query: dict[str, str], body: bytes, limited: bool) -> Answer:
        if path != "/robot/send" or query.get("access_token") != self.token:
            return Answer(200, {"errcode": 300001, "errmsg": "token is not exist"})
        if self.secret is not None:
            timestamp, sign = query.get("timestamp", ""), query.get("sign", "")  # parse_qs has URL-decoded sign
            if not timestamp.isdigit() or abs(self.clock() * 1000 - int(timestamp)) > ONE_HOUR_S * 1000:
                return Answer(200, {"errcode": 310000, "errmsg": "sign not match, more: timestamp is out of range"})
            expected = _b64_hmac(self.secret.encode(), f"{timestamp}\n{self.secret}".encode())
            if not hmac.compare_digest(sign, expected):
                return Answer(200, {"errcode": 310000, "errmsg": "sign not match, more: [https://ding-doc]"})
        if limited:
            return Answer(200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"})
        if len(body) > 20_000:
            return Answer(200, {"errcode": 460101, "errmsg": "message too long, exceed 20000 bytes"})
        try:
            message = json.loads(body)
        except ValueError:
            return Answer(200, {"errcode": 40035, "errmsg": "缺少参数 json"})
        if message.get("msgtype") != "markdown" or not message.get("markdown", {}).get("title"):
            return Answer(200, {"errcode": 40035, "errmsg": "缺少参数 markdown.title"})
        self.accepted.append(message)
        return Answer(200, {"errcode": 0, "errmsg": "ok"})


class FakeFeishu(FakeBot):
    """``POST /open-apis/bot/v2/hook/TOKEN``; sign in the body; body at most 20 KB; 100 a minute and 5 a second."""

    platform = "feishu"
    rates = ((100, 60.0), (5, 1.0))

    def webhook(self) -> str:
        return f"{self.base}/open-apis/bot/v2/hook/{self.token}"

    def handle(self, path: str, query: dict[str, str], body: bytes, limited: bool) -> Answer:
        if path != f"/open-apis/bot/v2/hook/{self.token}":
            return Answer(200, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid",
                                "data": {}})
        if len(body) > 20 * 1024:
            return Answer(200, {"code": 9499, "msg": "Bad Request", "data": {}})
        try:
            message = json.loads(body)
        except ValueError:
            return Answer(200, {"code": 9499, "msg": "Bad Request", "data": {}})
        if self.secret is not None:
            timestamp, sign = str(message.get("timestamp", "")), str(message.get("sign", ""))
            fresh = timestamp.isdigit() and abs(self.clock() - int(timestamp)) <= ONE_HOUR_S
            expected = _b64_hmac(f"{timestamp}\n{self.secret}".encode(), b"")
            if not fresh or not hmac.compare_digest(sign, expected):
                return Answer(200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour "
                                                          "from current time", "data": {}})
        if limited:
            return Answer(200, {"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]"
                                                      "appID[1]", "data": {}})
        if message.get("msg_type") not in ("text", "post", "interactive", "image", "share_chat"):
            return Answer(200, {"code": 19002, "msg": "params error, msg_type need", "data": {}})
        self.accepted.append(message)
        return Answer(200, {"code": 0, "msg": "success", "data": {}, "StatusCode": 0, "StatusMessage": "success"})


class FakeSlack(FakeBot):
    """``POST /services/T.../B.../X``: answers ``ok``, or 429 with ``Retry-After`` past one a second."""

    platform = "slack"
    rates = ((1, 1.0),)

    def __init__(self, token: str = "T0001/B0001/XXXXsecretXXXX", secret: str | None = None,
                 clock: Callable[[], float] = time.time):
        super().__init__(token, secret, clock)

    def webhook(self) -> str:
        return f"{self.base}/services/{self.token}"

    def handle(self, path: str, query: dict[str, str], body: bytes, limited: bool) -> Answer:
        if path != f"/services/{self.token}":
            return Answer(404, "no_service")
        if limited:
            return Answer(429, "rate_limited", {"Retry-After": "1"})
        try:
            message = json.loads(body)
        except ValueError:
            return Answer(400, "invalid_payload")
        if not message.get("text"):
            return Answer(400, "no_text")
        self.accepted.append(message)
        return Answer(200, "ok")


FAKES = {"wecom": FakeWeCom, "dingtalk": FakeDingTalk, "feishu": FakeFeishu, "slack": FakeSlack}
#: The platforms whose bots sign, with a secret as their consoles show one.
SECRETS = {"dingtalk": "SEC8d1f0b7c6a5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6b",
           "feishu": "kQ3mZ8pX1vR7tY2wB6nC"}


def message_text(platform: str, message: dict[str, Any]) -> str:
    """The text a person reads, from a message a fake accepted."""
    if platform == "wecom":
        return message["markdown"]["content"]
    if platform == "dingtalk":
        return message["markdown"]["text"]
    if platform == "feishu":
        return "".join(e.get("content", "") for e in message["card"]["elements"])
    return message["text"]
