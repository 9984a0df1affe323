"""Paging through the live link listing without losing a link that existed throughout.

The listing (``GET /v1/links``, newest first, order undocumented) changes while it is read.
A link deleted before the current page shifts every later link one place up: the first link
of the next page moves onto a page already read and is never seen in this pass. A link added
before the current page shifts them down: the last link of a page read comes again. Both are
visible from the answers: ``total`` changes between pages, or a link comes back at another
place than where this pass saw it. Either way, the pass may have missed a link, so the
listing is read again from page 1; passes go on until one shows no shift, or one brings no
link not seen before (links keep moving, but nothing is missing). A deletion before the
current page cancelled by an addition after it is the one change no answer shows (the total
stays, no link repeats; no listing API without a cursor can tell), and it hides the link it
shifted onto a page already read: so a listing of more than one page is always read at least
twice, and passes go on until one after the first shows no shift or brings no link not seen
before. A link that existed throughout is lost only if two passes both missed it. A listing of
one page is one answer and is read once.

Bounded: at most :data:`LISTING_PASSES` passes over the first page's total, plus
:data:`EXTRA_LISTING_PAGES`; an empty page within the promised total, a first-pass page of
links all seen before with no shift (a server ignoring ``page_index``), or a clean pass short
of its total is a :class:`~jmlink_analytics.errors.ResponseFormatError`, after yielding the
links that came.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import ResponseFormatError
from ._responses import LinksPage

__all__ = ["EXTRA_LISTING_PAGES", "LISTING_PASSES", "iter_listing"]

logger = logging.getLogger("jmlink_analytics")

#: Full passes over ``ceil(total / page_size)`` pages ``iter_links`` may read, and pages beyond.
LISTING_PASSES = 3
EXTRA_LISTING_PAGES = 2


def iter_listing(get_page: Callable[[int, int], LinksPage], page_size: int) -> Iterator[dict[str, Any]]:
    """Yield every link of the listing once; ``get_page(page_index, page_size)`` reads one page."""
    seen: dict[int, str] = {}  # id -> link_key, over all passes
    keys: dict[str, int] = {}  # link_key -> id
    pages, passes, budget = 0, 0, None
    total = 0

    def error(reason: str) -> ResponseFormatError:
        return ResponseFormatError(f"GET /v1/links: the listing promised {total} links but {len(seen)} came "
                                   f"back: {reason}")

    while True:
        where: dict[int, int] = {}  # id -> place in the listing, this pass
        shifted = total_changed = False
        new_in_pass, page_index = 0, 1
        while True:
            if budget is not None and pages >= budget:
                raise error(f"{pages} pages were read (at most {budget})")
            page = get_page(page_index, page_size)
            pages += 1
            if budget is None:
                budget = LISTING_PASSES * _pages(page.total, page_size) + EXTRA_LISTING_PAGES
            if page_index > 1 and page.total != total:
                shifted = total_changed = True
            total = page.total
            new = []
            first = (page_index - 1) * page_size
            for offset, record in enumerate(page.records):
                link_id, link_key = record["id"], record["link_key"]
                if seen.get(link_id, link_key) != link_key or keys.get(link_key, link_id) != link_id:
                    raise ResponseFormatError(f"GET /v1/links: id and link_key must each name one link; got id "
                                              f"{link_id} with {link_key!r} after {seen.get(link_id)!r} with id "
                                              f"{link_id} and id {keys.get(link_key)} with {link_key!r}")
                if where.setdefault(link_id, first + offset) != first + offset:
                    shifted = True  # a link this pass saw elsewhere: the listing moved under us
                if link_id not in seen:
                    seen[link_id], keys[link_key] = link_key, link_id
                    new.append(record)
            yield from new
            new_in_pass += len(new)
            last_page = _pages(total, page_size)
            if not page.records and page_index <= last_page:
                raise error(f"page {page_index} is empty")
            if passes == 0 and page.records and not new and not total_changed:
                raise error(f"page {page_index} brought no new link")
            if page_index >= last_page:
                break
            page_index += 1
        passes += 1
        if not shifted and len(where) < total:
            raise error(f"a full pass of {page_index} pages brought {len(where)}")
        if not shifted and (page_index == 1 or passes > 1):
            return  # one page is one answer; or a clean pass after another: what either missed, the other saw
        if passes > 1 and not new_in_pass:
            return  # a whole pass brought no link not seen before (links may keep moving: none is missing)
        if shifted:
            logger.info("link listing: links were added or deleted while paging; reading it again from page 1 "
                        "(%d links so far)", len(seen))
        else:
            logger.debug("link listing: %d pages read; reading them again to confirm that nothing moved unseen "
                         "(%d links)", page_index, len(seen))


def _pages(total: int, page_size: int) -> int:
    return -(-total // page_size)
