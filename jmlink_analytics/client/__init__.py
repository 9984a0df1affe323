"""The HTTP side of jmlink-analytics, pandas-free: :class:`JMLinkClient` and the pages it returns.

One GET goes through the limiter, the retries and the strict answer checks; everything above
this room sees records (lists of dicts) or typed :mod:`~jmlink_analytics.errors`.
"""

from __future__ import annotations

from ._client import DEFAULT_BASE_URL, JMLinkClient
from ._responses import LinksPage

__all__ = ["DEFAULT_BASE_URL", "JMLinkClient", "LinksPage"]
