"""The HTTP side of jmlink-analytics, pandas-free: :class:`JMLinkClient` and the pages it returns.

One GET goes through the limiter, the retries and the strict answer checks; everything above
this room sees records (lists of dicts) or typed :mod:`~jmlink_analytics.errors`. The data
layer needs only :class:`DataClient` of a client; the settings are the value objects
:class:`Timeouts`, :class:`Retries`, :class:`RateLimits`, :class:`Limits`.
"""

from __future__ import annotations

from ._client import DEFAULT_BASE_URL, JMLinkClient
from ._responses import INT64_MAX, LinksPage, StatRows
from .protocol import DataClient
from .settings import (
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_RATE_LIMITS,
    Limits,
    RateLimits,
    Retries,
    Timeouts,
    normalize_rate_limits,
)

__all__ = [
    "DEFAULT_BASE_URL", "DEFAULT_MAX_ANSWER_BYTES", "DEFAULT_RATE_LIMITS", "INT64_MAX", "DataClient", "JMLinkClient",
    "Limits", "LinksPage", "RateLimits", "Retries", "StatRows", "Timeouts", "normalize_rate_limits",
]
