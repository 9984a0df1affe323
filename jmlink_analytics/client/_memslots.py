"""The slots and paces of one client's own table, in Python: the rules of :mod:`._ratelimit`'s SQL, without SQLite.

A table no other process reads (``shared_limits=False``, or a shared file that failed) needs
no SQL: its slots live in two queues per endpoint, in the order of their ends, so taking and
releasing a slot are a few dict and deque operations (SQLite's ``COUNT(*)`` scanned every slot
of the window: about 0.17 ms per request at a large limit). The rules are those of
:meth:`SlotTable._take`, :meth:`SlotTable.refused` and :meth:`SlotTable._pace`, on the
process's monotonic clock; the caller holds the table's lock.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import deque
from dataclasses import dataclass, field

from ._adaptive import BETA, BURST_S, MEASURE_S, MIN_RATE, cut_rate, paced_rate

__all__ = ["MemorySlots"]

logger = logging.getLogger("jmlink_analytics")


@dataclass
class _Endpoint:
    #: Answered calls' window ends (their answer times), oldest first.
    answered: deque[float] = field(default_factory=deque)
    #: Calls in flight: slot id -> the latest their answer can come (taken + hold), oldest first.
    in_flight: dict[int, float] = field(default_factory=dict)
    #: After a refusal: [w_max, cut_at, next_at] (see the ``pace`` table of :mod:`._ratelimit`).
    pace: list[float] | None = None


class MemorySlots:
    """Every endpoint's slots and pace, for one process (the caller serializes the calls)."""

    def __init__(self) -> None:
        self._endpoints: dict[str, _Endpoint] = {}
        self._ids = itertools.count(1)
        self._endpoint_of: dict[int, _Endpoint] = {}

    def _get(self, endpoint: str) -> _Endpoint:
        state = self._endpoints.get(endpoint)
        if state is None:
            state = self._endpoints[endpoint] = _Endpoint()
        return state

    def take(self, endpoint: str, calls: int, seconds: float, hold: float, now: float
             ) -> tuple[int | None, float, bool, float | None]:
        """``(slot id, 0, True, pace)`` or ``(None, wait, exact, pace)``, as :meth:`SlotTable.try_take`."""
        state = self._get(endpoint)
        gone = now - seconds
        answered, in_flight = state.answered, state.in_flight
        while answered and answered[0] <= gone:
            answered.popleft()
        while in_flight:  # in flight longer than the hold and a window: forgotten, as in the SQL
            first = next(iter(in_flight))
            if in_flight[first] > gone:
                break
            del in_flight[first]
            self._endpoint_of.pop(first, None)
        count = len(answered) + len(in_flight)
        if count >= calls:
            ends = heapq.nsmallest(count - calls + 1, itertools.chain(((u, False) for u in answered),
                                                                      ((u, True) for u in in_flight.values())))
            until, flying = ends[-1]
            pace = self._pace(state, calls, now)[0]
            if flying:  # its answer may come any moment: the window runs at least that long after it
                return None, seconds, False, pace
            return None, max(0.0, until + seconds - now), True, pace
        pace, turn = self._pace(state, calls, now)
        if pace is not None and state.pace is not None:
            if turn - now > BURST_S:
                return None, turn - BURST_S - now, True, pace
            state.pace[2] = turn + 1.0 / pace
        slot = next(self._ids)
        in_flight[slot] = now + hold
        self._endpoint_of[slot] = state
        return slot, 0.0, True, pace

    @staticmethod
    def _pace(state: _Endpoint, calls: int, now: float) -> tuple[float | None, float]:
        if state.pace is None:
            return None, now
        w_max, cut_at, next_at = state.pace
        rate = paced_rate(w_max, cut_at, now)
        if rate >= calls or cut_at > now:
            state.pace = None
            return None, now
        turn = max(next_at, now)
        if turn > now + BURST_S + 1.0 / MIN_RATE:
            turn = now
        return rate, turn

    def refused(self, endpoint: str, taken: float, calls: int, now: float) -> float:
        """Cut the endpoint's pace after a 3006 (once per cut); return it in calls per second."""
        state = self._get(endpoint)
        row = state.pace
        current = None if row is None else paced_rate(row[0], row[1], now)
        if row is not None and taken < row[1] and current is not None and current < calls:
            return current
        since = now - MEASURE_S
        sent = sum(1 for u in state.answered if u > since) + sum(1 for u in state.in_flight.values() if u > since)
        w_max = cut_rate(sent / MEASURE_S, current)
        state.pace = [w_max, now, max(now + BURST_S, now if row is None else row[2])]
        logger.info("rate limit %s: refused (3006) within the configured window; pacing at %.2f calls/s "
                    "(was sending %.2f/s)", endpoint, BETA * w_max, sent / MEASURE_S)
        return float(BETA * w_max)

    def answered(self, slot: int, now: float) -> None:
        """The call of ``slot`` has its answer: its window runs from ``now``."""
        state = self._endpoint_of.pop(slot, None)
        if state is not None and state.in_flight.pop(slot, None) is not None:
            state.answered.append(now)

    def clear(self) -> None:
        """Forget every slot and pace."""
        self._endpoints.clear()
        self._endpoint_of.clear()
