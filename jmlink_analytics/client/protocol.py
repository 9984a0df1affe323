"""What the data layer needs from a client: the :class:`DataClient` protocol.

:func:`~jmlink_analytics.fetch_links` and :func:`~jmlink_analytics.fetch_stats` talk to a
client only through these members. :class:`~jmlink_analytics.client.JMLinkClient` implements
them; so can a stand-in (a test double, a replay of recorded answers), with no HTTP and no
private attribute to imitate.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, Protocol, runtime_checkable

from ._responses import LinksPage

__all__ = ["DataClient"]


@runtime_checkable
class DataClient(Protocol):
    """The members of a client that the data layer uses.

    Attributes
    ----------
    app_key : str
        The appKey: with ``base_url``, it keys what a :class:`~jmlink_analytics.Store` holds.
    base_url : str
        The API's root.

    Notes
    -----
    ``get_link_stats`` returns the rows of one answer **already checked** against the
    contract (``iday`` a day of the range asked, once; four integer counters from 0 to
    2**63 - 1); the data layer builds its arrays from them and does not check again. A
    :class:`~jmlink_analytics.client.StatRows` (what ``JMLinkClient`` returns) also carries
    each row's day offset and counters; rows of another type are checked once by the data layer.
    """

    app_key: str
    base_url: str

    def get_links_page(self, page_index: int = 1, page_size: int = 20) -> LinksPage:
        """One page of the listing (``GET /v1/links``)."""
        ...

    def iter_links(self, page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every link of the app once, across pages."""
        ...

    def get_link_stats(self, link_key: str, start_date: dt.date, end_date: dt.date,
                       platform: str = "all") -> list[dict[str, Any]]:
        """The checked day rows of one link and platform, ``start_date`` to ``end_date`` inclusive."""
        ...

    def reserve(self, workers: int) -> None:
        """Prepare for ``workers`` requests at once (e.g. grow a connection pool); may do nothing."""
        ...

    def observing_waits(self, listener: Callable[[str, float], None]) -> contextlib.AbstractContextManager[None]:
        """Within the block, call ``listener(text, seconds)`` when a long wait begins; may never call it."""
        ...
