"""Records to typed DataFrames: :func:`fetch_links`, :func:`fetch_stats`, and the day-by-day :class:`Store`."""

from __future__ import annotations

from ._fetch import fetch_links, fetch_stats
from .store import Store, StoreInfo

__all__ = ["Store", "StoreInfo", "fetch_links", "fetch_stats"]
