"""The group bots, each as its platform documents it: the address, the signature, the body, the answers.

A destination is a webhook URL as the platform shows it, with ``#secret=SEC...`` appended for a
bot that signs (the fragment is never sent). The platform is recognised from the URL's path
and query, never from its host, so a proxy or a local fake at another host works:

============  ==========================================  =======================================
platform      address                                     signature (optional)
============  ==========================================  =======================================
``wecom``     ``.../cgi-bin/webhook/send?key=KEY``        none (WeCom group robots do not sign)
``dingtalk``  ``.../robot/send?access_token=TOKEN``       query ``timestamp`` (ms) and ``sign`` =
                                                          urlencode(base64(HMAC-SHA256(key=secret,
                                                          msg=f"{timestamp}\\n{secret}")))
``feishu``    ``.../open-apis/bot/v2/hook/TOKEN``         body ``timestamp`` (s) and ``sign`` =
                                                          base64(HMAC-SHA256(key=f"{timestamp}\\n
                                                          {secret}", msg=b""))
``slack``     ``.../services/T.../B.../...``              none
============  ==========================================  =======================================

Sizes and rates (the platforms' documents): WeCom markdown content at most 4,096 bytes, 20
messages a minute per bot (errcode 45009 when over); DingTalk 20 a minute (errcode 130101,
then ten minutes' block), a message body at most 20,000 bytes (errcode 460101); Feishu 100 a
minute and 5 a second (code 11232), a request body at most 20 KB (code 9499); Slack about one
a second (HTTP 429 with Retry-After), 40,000 characters of text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

from ..errors import MASK, WebhookError, mask_secrets

__all__ = ["BOT_PLATFORMS", "LIMITS", "Webhook", "body_size", "check_answer", "parse_webhooks", "prepare"]

BOT_PLATFORMS = ("wecom", "dingtalk", "feishu", "slack")
#: Display names, for messages.
NAMES = {"wecom": "WeCom", "dingtalk": "DingTalk", "feishu": "Feishu", "slack": "Slack"}
#: Per platform: (what the limit counts, the limit in bytes).
LIMITS: dict[str, tuple[str, int]] = {
    "wecom": ("markdown.content", 4096),
    "dingtalk": ("request body", 20_000),
    "feishu": ("request body", 20 * 1024),
    "slack": ("text", 40_000),
}
#: Per platform: the messages allowed per window of seconds, as documented (Feishu has two windows).
BOT_RATES: dict[str, tuple[tuple[int, float], ...]] = {
    "wecom": ((20, 60.0),),
    "dingtalk": ((20, 60.0),),
    "feishu": ((100, 60.0), (5, 1.0)),
    "slack": ((1, 1.0),),
}
#: Answer codes that mean "too many messages": wait and send again.
RATE_LIMITED_CODES: dict[str, set[int | str]] = {
    "wecom": {45009}, "dingtalk": {130101, 410100}, "feishu": {11232, 99991400}, "slack": {"rate_limited"}}
#: Ranges of the "Done when" forms, for the message that refuses another URL.
FORMS = ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY",
         "https://oapi.dingtalk.com/robot/send?access_token=TOKEN[#secret=SEC...]",
         "https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN[#secret=SECRET]",
         "https://hooks.slack.com/services/T.../B.../...")
_FEISHU_PATH = re.compile(r"(?:^|/)open-apis/bot/v2/hook/([^/]+)/?$")
_SLACK_PATH = re.compile(r"(?:^|/)services/(T[^/]+/B[^/]+/[^/]+)/?$")


@dataclass(frozen=True)
class Webhook:
    """One destination: a group bot's webhook. Its repr and :attr:`masked` never show the key or secret.

    Build with :func:`parse_webhooks` (or :meth:`parse`).
    """

    platform: str
    url: str = field(repr=False)                 # without the fragment: what is sent (a secret: holds the key)
    token: str = field(repr=False)               # the key / access_token / hook token
    secret: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, text: str) -> Webhook:
        """The destination a webhook URL (with an optional ``#secret=...``) names.

        Raises
        ------
        ValueError
            For an address of no known bot, a signing secret WeCom or Slack cannot use, or a
            fragment other than ``secret=``; the message shows the address masked.
        """
        raw = text.strip()
        parts = urlsplit(raw)
        query = parse_qs(parts.query, keep_blank_values=True)
        secret = None
        if parts.fragment:
            if not parts.fragment.startswith("secret=") or len(parts.fragment) <= len("secret="):
                raise ValueError(f"destination {_mask_text(raw)}: the part after # must be secret=SIGNING_SECRET")
            secret = parts.fragment[len("secret="):]
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
        platform, token = _recognise(parts.path, query)
        if parts.scheme not in ("http", "https") or not parts.netloc or platform is None or not token:
            raise ValueError(f"destination {_mask_text(raw)} is no group bot webhook this knows; expected one of: "
                             + "; ".join(FORMS))
        if secret is not None and platform in ("wecom", "slack"):
            raise ValueError(f"destination {_mask_text(raw)}: {NAMES[platform]} webhooks are not signed; "
                             "remove the #secret=... part")
        return cls(platform, url, token, secret)

    @property
    def masked(self) -> str:
        """The address with its key or token shown as ``***`` (for logs, errors, dry runs)."""
        parts = urlsplit(self.url)
        if self.platform in ("wecom", "dingtalk"):
            name = "key" if self.platform == "wecom" else "access_token"
            query = "&".join(f"{name}={MASK}" if item.split("=", 1)[0] == name else item
                             for item in parts.query.split("&"))
            text = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
        else:  # the token is the path's tail
            path = parts.path.rstrip("/")
            text = urlunsplit((parts.scheme, parts.netloc, path[: len(path) - len(self.token)] + MASK, parts.query, ""))
        return text + ("#secret=***" if self.secret else "")

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values that must never be shown: the token, the secret, the whole URL."""
        return tuple(v for v in (self.url, self.token, self.secret) if v)

    @property
    def id(self) -> str:
        """A stable name of the destination that reveals nothing: SHA-256 of the address and secret."""
        return hashlib.sha256(f"{self.url}#{self.secret or ''}".encode()).hexdigest()

    @property
    def name(self) -> str:
        """The platform's display name."""
        return NAMES[self.platform]

    def __repr__(self) -> str:
        return f"Webhook(platform={self.platform!r}, url={self.masked!r})"


def _recognise(path: str, query: dict[str, list[str]]) -> tuple[str | None, str | None]:
    def one(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values and values[0] else None

    if path.rstrip("/").endswith("/cgi-bin/webhook/send"):
        return "wecom", one("key")
    if path.rstrip("/").endswith("/robot/send"):
        return "dingtalk", one("access_token")
    match = _FEISHU_PATH.search(path)
    if match:
        return "feishu", match.group(1)
    match = _SLACK_PATH.search(path)
    if match:
        return "slack", match.group(1)
    return None, None


def _mask_text(text: str) -> str:
    """An unrecognised address, its query values, path tail and fragment hidden."""
    parts = urlsplit(text)
    query = "&".join(f"{item.split('=', 1)[0]}={MASK}" if "=" in item else MASK
                     for item in parts.query.split("&") if item)
    path = parts.path
    if path.count("/") >= 2:
        path = path[: path.rfind("/") + 1] + MASK
    shown = urlunsplit((parts.scheme, parts.netloc, path, query, "secret=***" if parts.fragment else ""))
    return shown or MASK


def parse_webhooks(text: str | Iterable[str]) -> list[Webhook]:
    """Every destination of ``text`` (whitespace-separated URLs, or lines of a file), each once.

    Lines starting with ``#`` are comments. Duplicates (the same address and secret) count once.
    """
    items = text.split() if isinstance(text, str) else [
        word for line in text if not line.strip().startswith("#") for word in line.split()]
    found: dict[str, Webhook] = {}
    for item in items:
        hook = Webhook.parse(item)
        found.setdefault(hook.id, hook)
    return list(found.values())


# -- the request -----------------------------------------------------------------------------
def _hmac_b64(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign``: base64(HMAC-SHA256(key=secret, msg=f"{timestamp_ms}\\n{secret}")), not yet URL-encoded."""
    return _hmac_b64(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's ``sign``: base64(HMAC-SHA256(key=f"{timestamp_s}\\n{secret}", msg=b""))."""
    return _hmac_b64(f"{timestamp_s}\n{secret}".encode(), b"")


def payload(hook: Webhook, message: str, title: str) -> dict[str, Any]:
    """The JSON body of a message, unsigned."""
    if hook.platform == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": message}}
    if hook.platform == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": message}}
    if hook.platform == "feishu":
        return {"msg_type": "interactive",
                "card": {"config": {"wide_screen_mode": True},
                         "header": {"title": {"tag": "plain_text", "content": title}, "template": "blue"},
                         "elements": [{"tag": "markdown", "content": message}]}}
    return {"text": message}


def encode(body: dict[str, Any]) -> bytes:
    """The body as sent: compact UTF-8 JSON (Chinese and emoji as themselves, not ``\\u`` escapes)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


#: The largest sign fields a Feishu body gains when signed (a 10-digit timestamp, a 44-character sign).
_FEISHU_SIGN_BYTES = len(',"timestamp":"0000000000","sign":""') + 44


def body_size(hook: Webhook, title: str) -> Callable[[str], int]:
    """The bytes the platform's limit counts, for a message ``hook`` would send."""
    counted, _ = LIMITS[hook.platform]
    if counted == "markdown.content":
        return lambda message: len(message.encode("utf-8"))
    if counted == "text":
        return lambda message: len(message)  # Slack counts characters
    extra = _FEISHU_SIGN_BYTES if hook.platform == "feishu" and hook.secret else 0
    return lambda message: len(encode(payload(hook, message, title))) + extra


def prepare(hook: Webhook, message: str, title: str, *, now: float | None = None) -> tuple[str, bytes]:
    """The URL and body to POST, signed when the destination has a secret (``now``: the clock, for tests)."""
    body = payload(hook, message, title)
    url = hook.url
    now = time.time() if now is None else now
    if hook.secret and hook.platform == "dingtalk":
        timestamp = int(now * 1000)
        sign = quote(dingtalk_sign(hook.secret, timestamp), safe="")
        url = f"{url}{'&' if urlsplit(url).query else '?'}timestamp={timestamp}&sign={sign}"
    elif hook.secret and hook.platform == "feishu":
        timestamp = int(now)
        body = {"timestamp": str(timestamp), "sign": feishu_sign(hook.secret, timestamp), **body}
    return url, encode(body)


# -- the answer ------------------------------------------------------------------------------
def check_answer(hook: Webhook, status: int, text: str, headers: dict[str, str]) -> None:
    """Raise :class:`WebhookError` unless the answer says the message was accepted."""
    from ..errors import retry_after_seconds

    text = mask_secrets(text, hook.secrets)
    retry_after = retry_after_seconds(headers)
    if hook.platform == "slack":
        if 200 <= status < 300 and text.strip() == "ok":
            return
        word = text.strip().split()[0] if text.strip() else None
        limited = status == 429 or word == "rate_limited"
        raise WebhookError("slack", _excerpt(text) or f"HTTP {status}", code=word, http_status=status,
                           rate_limited=limited, retry_after=retry_after)
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise WebhookError(hook.platform, f"the answer is not the documented JSON: {_excerpt(text)!r}",
                           http_status=status, rate_limited=status == 429, retry_after=retry_after)
    key, msg_key = ("code", "msg") if hook.platform == "feishu" else ("errcode", "errmsg")
    code = answer.get(key, answer.get("StatusCode"))
    if code == 0 and 200 <= status < 300:
        return
    if isinstance(code, bool) or not isinstance(code, int):
        code = None
    message = mask_secrets(str(answer.get(msg_key) or answer.get("StatusMessage") or f"HTTP {status}"),
                           hook.secrets)
    limited = status == 429 or code in RATE_LIMITED_CODES[hook.platform]
    raise WebhookError(hook.platform, _excerpt(message), code=code, http_status=status, rate_limited=limited,
                       retry_after=retry_after)


def _excerpt(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
