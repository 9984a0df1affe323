"""Learning an undocumented cap on the date range of one stat request, once per fetch.

A gateway may refuse a stat request over "too many days" with 3005 "parameter invalid", the
same code as an unknown link key. So a multi-day 3005 is taken as a hint, not a verdict: the
range is split and asked again. What worked is remembered for the rest of the fetch, so the
other links ask in pieces of that size straight away and do not probe again. A link's
failures teach the others only once that link has worked with a shorter range (an unknown
link key fails at every span and must not shrink everyone's requests), and a 3005 on one
day, or on a span known to work, is a real :class:`~jmlink_analytics.errors.InvalidRequestError`.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterator

from ..errors import InvalidRequestError

__all__ = ["SpanCap", "fetch_in_spans"]

logger = logging.getLogger("jmlink_analytics")

#: A worker waiting for another link's probe gives up waiting after this many seconds.
_PROBE_WAIT_S = 120.0


class SpanCap:
    """What one fetch has learned about the longest range a stat request may span.

    Attributes
    ----------
    works : int
        The longest span (days) that was answered; 0 before any multi-day answer.
    fails : int or None
        The shortest span refused with 3005 by a link that then worked with less; ``None``
        while no cap has been seen.
    """

    def __init__(self) -> None:
        self.works = 0
        self.fails: int | None = None
        self._prober: int | None = None  # the thread probing for the cap; others wait for its result
        self._trier: int | None = None  # the thread trying a span between ``works`` and ``fails``
        self._changed = threading.Condition()

    def __repr__(self) -> str:
        return f"SpanCap(works={self.works}, fails={self.fails})"

    def _free(self, n_days: int) -> bool:
        return self._prober is None or self._prober == threading.get_ident() or n_days <= self.works

    def span_for(self, n_days: int) -> int:
        """The span to ask ``n_days`` in: all of them unless a cap is known (or being probed: then wait).

        Once a cap is known to lie between ``works`` and ``fails``, one request at a time tries
        the span halfway between, so the fetch converges on the exact cap in a few requests.
        """
        with self._changed:
            self._changed.wait_for(lambda: self._free(n_days), timeout=_PROBE_WAIT_S)
            if self.fails is not None and n_days >= self.fails:
                if self.fails - self.works > 1 and self._trier is None and self.works > 0:
                    self._trier = threading.get_ident()
                    return (self.works + self.fails) // 2
                return max(1, self.works)
            return n_days

    def refused(self, span: int) -> int:
        """``span`` days were answered 3005: return the span to try next.

        The first link refused probes; a link refused while another probes waits for its result.
        """
        with self._changed:
            if self._prober is None:
                self._prober = threading.get_ident()
            else:
                self._changed.wait_for(lambda: self._free(span), timeout=_PROBE_WAIT_S)
            if 0 < self.works < span:
                return self.works
        return math.ceil(span / 2)

    def settled(self, worked: int | None, refused: list[int]) -> None:
        """After ``refused`` spans were refused, ``worked`` days were answered (``None``: the link failed)."""
        with self._changed:
            if self._prober == threading.get_ident():
                self._prober = None
            if self._trier == threading.get_ident():
                self._trier = None
            if worked is not None:
                self.works = max(self.works, worked)
                longer = [r for r in refused if r > worked]
                if longer and (self.fails is None or min(longer) < self.fails):
                    self.fails = min(longer)
                    logger.info("stat requests over %d days are refused (3005); asking in spans of %d days",
                                self.fails - 1, self.works)
            self._changed.notify_all()

    def worked(self, n_days: int) -> None:
        """A request of ``n_days`` was answered at the first try."""
        with self._changed:
            if self._trier == threading.get_ident():
                self._trier = None
            self.works = max(self.works, n_days)
            self._changed.notify_all()

    def done(self) -> None:
        """The calling thread is done with a link: whatever it was probing or trying is over."""
        me = threading.get_ident()
        with self._changed:
            if self._prober == me:
                self._prober = None
            if self._trier == me:
                self._trier = None
            self._changed.notify_all()


def fetch_in_spans(n_days: int, cap: SpanCap, ask: Callable[[int, int], object]) -> Iterator[tuple[int, object]]:
    """Ask days ``0 .. n_days - 1`` with ``ask(offset, n)`` in spans ``cap`` allows; yield ``(offset, answer)``.

    A 3005 on more than one day, not known to work, splits the span (see :class:`SpanCap`).

    Raises
    ------
    InvalidRequestError
        A 3005 on one day, or on a span known to work: the request itself is wrong.
    """
    try:
        offset = 0
        span = cap.span_for(n_days)
        refused: list[int] = []
        while offset < n_days:
            span = min(span, n_days - offset)
            try:
                answer = ask(offset, span)
            except InvalidRequestError as exc:
                if exc.code != 3005 or span <= 1 or span <= cap.works:
                    if refused:
                        cap.settled(None, refused)
                    raise
                refused.append(span)
                span = cap.refused(span)
                logger.debug("3005 on %d days; asking %d days", refused[-1], span)
                continue
            except BaseException:
                if refused:
                    cap.settled(None, refused)
                raise
            if refused:
                cap.settled(span, refused)
                refused = []
            else:
                cap.worked(span)
            yield offset, answer
            offset += span
            span = cap.span_for(n_days - offset) if offset < n_days else span
    finally:
        cap.done()
