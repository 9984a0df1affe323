"""The gateway's rules, free of HTTP: Basic credentials, sliding-window limits, query parameters."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import threading
from collections import defaultdict, deque
from collections.abc import Mapping

__all__ = ["SlidingWindows", "links_params", "parse_basic", "stats_params"]

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_UINT = re.compile(r"[0-9]{1,10}")
_INT_MAX = 2**31 - 1  # the API's integers are Java ints
PLATFORMS = ("all", "ios", "android")


def parse_basic(authorization: str | None) -> tuple[str, str] | None:
    """``(user, password)`` of a ``Basic`` Authorization header, or None when it is not a readable one."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError):
        return None
    return (user, password) if sep else None


class SlidingWindows:
    """Per (app key, endpoint) sliding windows over arrival times; thread-safe.

    A request is admitted while fewer than ``calls`` admitted arrivals lie in the trailing
    ``seconds``; a rejected request is not counted.
    """

    def __init__(self, limits: Mapping[str, tuple[int, float]]):
        self.limits = dict(limits)
        self._arrivals: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _wait(self, key: str, endpoint: str, now: float) -> float | None:
        calls, seconds = self.limits[endpoint]
        window = self._arrivals[key, endpoint]
        while window and window[0] <= now - seconds:
            window.popleft()
        if len(window) < calls:
            return None
        return window[len(window) - calls] + seconds - now

    def wait(self, key: str, endpoint: str, now: float) -> float | None:
        """Seconds from ``now`` until a slot frees, or None when one is free."""
        with self._lock:
            return self._wait(key, endpoint, now)

    def admit(self, key: str, endpoint: str, now: float) -> float | None:
        """Count an arrival at ``now`` and return None, or return the seconds until a slot frees."""
        with self._lock:
            wait = self._wait(key, endpoint, now)
            if wait is None:
                self._arrivals[key, endpoint].append(now)
            return wait


def _int_param(query: Mapping[str, str], name: str, default: int) -> int | None:
    """An optional integer parameter; None when it is present but not a plain integer in range."""
    if name not in query:
        return default
    value = query[name]
    if not _UINT.fullmatch(value) or int(value) > _INT_MAX:
        return None
    return int(value)


def _date_param(query: Mapping[str, str], name: str) -> dt.date | None:
    """A required ``yyyy-MM-dd`` date; None when missing or not a real date."""
    value = query.get(name)
    if value is None or not _DATE.fullmatch(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def links_params(query: Mapping[str, str]) -> tuple[int, int] | None:
    """``(page_index, page_size)`` of a listing request (defaults 1 and 20), or None if one is invalid."""
    page_index = _int_param(query, "page_index", 1)
    page_size = _int_param(query, "page_size", 20)
    if page_index is None or page_size is None or page_index < 1 or not 1 <= page_size <= 500:
        return None
    return page_index, page_size


def stats_params(query: Mapping[str, str]) -> tuple[dt.date, dt.date, str] | None:
    """``(start, end, platform)`` of a stat request (platform ``all`` by default), or None if invalid."""
    start, end = _date_param(query, "start_date"), _date_param(query, "end_date")
    platform = query.get("platform", "all")
    if start is None or end is None or start > end or platform not in PLATFORMS:
        return None
    return start, end, platform
