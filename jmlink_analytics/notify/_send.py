"""Posting a message to a bot: within its documented rate, waiting and retrying when it says "too many".

Each destination keeps a sliding window of its sends per documented limit (WeCom and DingTalk
20 a minute, Feishu 100 a minute and 5 a second, Slack one a second), so this process never
sends faster than the bot allows. When the bot answers "rate limited" anyway (another sender
shares the bot), the send waits (the ``Retry-After`` the bot gave, else until its window has
room) and tries again, within ``max_wait`` seconds in all. A server fault or a lost connection
is retried the same way; any other refusal is a :class:`~jmlink_analytics.errors.WebhookError`
at once. Nothing here logs or raises the webhook's key or signing secret.
"""

from __future__ import annotations

import collections
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import WebhookError, mask_secrets
from ._platforms import BOT_RATES, Webhook, check_answer, prepare

__all__ = ["Sender"]

logger = logging.getLogger("jmlink_analytics")

#: Seconds to wait for a connection and for the answer.
TIMEOUT = (5.0, 20.0)
#: The loggers of the HTTP stack that write request lines (URL and query included) at DEBUG.
_HTTP_LOGGERS = ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry", "requests")


class _MaskFilter(logging.Filter):
    """Rewrites the HTTP stack's log records with the webhooks' keys, tokens and signatures masked."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            masked = _SIGN.sub(r"\1***", mask_secrets(text, self.secrets))
            if masked != text:
                record.msg, record.args = masked, ()
        return True


#: A signature in a query string (DingTalk's ``sign=``), masked in log lines too.
_SIGN = re.compile(r"([?&]sign=)[^&\s\"]+")


class Sender:
    """Sends messages to webhooks over one HTTP session, pacing each destination.

    Parameters
    ----------
    max_wait : float, default 120
        Seconds a message may spend waiting for a bot's rate limit or retrying, in all.
    attempts : int, default 4
        Tries per message.
    session : requests.Session, optional
        The HTTP session (a new one by default).
    clock, sleep : callables, optional
        Time source and sleep (for tests).
    """

    def __init__(self, *, max_wait: float = 120.0, attempts: int = 4, session: Any = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        import requests

        self.max_wait = float(max_wait)
        self.attempts = int(attempts)
        self._session = session if session is not None else requests.Session()
        self._clock, self._sleep = clock, sleep
        self._sent: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()
        self._mask = _MaskFilter()
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).addFilter(self._mask)

    def close(self) -> None:
        """Close the HTTP session (and stop masking the HTTP stack's log lines)."""
        self._session.close()
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).removeFilter(self._mask)

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _room_in(self, hook: Webhook) -> float:
        """Seconds until ``hook``'s documented windows have room for one more message (0: now)."""
        now = self._clock()
        sent = self._sent[hook.id]
        longest = max(seconds for _, seconds in BOT_RATES[hook.platform])
        while sent and sent[0] <= now - longest:
            sent.popleft()
        wait = 0.0
        for calls, seconds in BOT_RATES[hook.platform]:
            recent = [t for t in sent if t > now - seconds]
            if len(recent) >= calls:
                wait = max(wait, recent[-calls] + seconds - now)
        return wait

    def send(self, hook: Webhook, message: str, title: str) -> None:
        """Post ``message`` to ``hook``; raise :class:`WebhookError` when it is refused for good."""
        import requests

        self._mask.secrets.update(hook.secrets)
        waited = 0.0
        last: WebhookError | None = None
        for attempt in range(1, self.attempts + 1):
            with self._lock:
                pause = self._room_in(hook)
            if pause > 0:
                if waited + pause > self.max_wait:
                    break
                logger.info("%s: waiting %.1f s for the bot's rate limit", hook.masked, pause)
                self._sleep(pause)
                waited += pause
            url, body = prepare(hook, message, title, now=self._clock())
            with self._lock:
                self._sent[hook.id].append(self._clock())
            logger.debug("POST %s (%d bytes), attempt %d", hook.masked, len(body), attempt)
            try:
                answer = self._session.post(url, data=body, timeout=TIMEOUT,
                                            headers={"Content-Type": "application/json; charset=utf-8"})
                check_answer(hook, answer.status_code, answer.text, dict(answer.headers))
                logger.info("%s accepted the digest", hook.masked)
                return
            except requests.RequestException as exc:
                reason = mask_secrets(f"{type(exc).__name__}: {exc}", hook.secrets)
                last = WebhookError(hook.platform, f"no answer from {hook.masked}: {reason}")
            except WebhookError as exc:
                if not exc.retryable:
                    raise
                last = exc
            pause = self._retry_pause(hook, last, attempt)
            if attempt == self.attempts or waited + pause > self.max_wait:
                break
            logger.info("%s: %s; trying again in %.1f s", hook.masked, last, pause)
            self._sleep(pause)
            waited += pause
        if last is None:
            last = WebhookError(hook.platform, f"the bot's rate limit leaves no room within {self.max_wait:.0f} s")
        raise last

    def _retry_pause(self, hook: Webhook, error: WebhookError, attempt: int) -> float:
        if error.retry_after is not None:
            return min(error.retry_after, self.max_wait)
        if error.rate_limited:  # the bot counted sends this process did not make: wait out its window
            calls, seconds = min(BOT_RATES[hook.platform], key=lambda rate: rate[1])
            return seconds if seconds < 60 else seconds / calls * attempt
        return min(2.0 ** (attempt - 1), 30.0)
