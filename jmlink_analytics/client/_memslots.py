"""The slots and learned windows of one client's own table, in Python: the rules of :mod:`._ratelimit`'s SQL.

A table no other process reads (``shared_limits=False``, or a shared file that failed) needs
no SQL: its slots live in three queues per endpoint (answered, in flight, refused), each in
the order of its ends, so taking and releasing a slot are a few dict and deque operations
(SQLite's ``COUNT(*)`` scanned every slot of the window: about 0.17 ms per request at a large
limit). The rules are those of :meth:`SlotTable._take`, :meth:`SlotTable._learned` and
:meth:`SlotTable.refused`, on the process's monotonic clock; the caller holds the table's
lock. ``tests/test_memslots.py`` runs one random sequence of calls through both and compares
every answer.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import logging
from collections import deque
from dataclasses import dataclass, field

from ._adaptive import cut_window, learned_calls

__all__ = ["MemorySlots"]

logger = logging.getLogger("jmlink_analytics")


@dataclass
class _Endpoint:
    #: Answered calls: (window end = answer time, slot id), oldest first.
    answered: deque[tuple[float, int]] = field(default_factory=deque)
    #: Calls in flight: slot id -> the latest their answer can come (taken + hold), oldest first.
    in_flight: dict[int, float] = field(default_factory=dict)
    #: Refused calls (3006, not counted by the server, held to space the retries): (until, id), sorted.
    refused: list[tuple[float, int]] = field(default_factory=list)
    #: After a refusal: (w_max, cut_at), as the ``learned`` table of :mod:`._ratelimit`.
    learned: tuple[float, float] | None = None


class MemorySlots:
    """Every endpoint's slots and learned window, for one process (the caller serializes the calls)."""

    def __init__(self) -> None:
        self._endpoints: dict[str, _Endpoint] = {}
        self._ids = itertools.count(1)
        self._endpoint_of: dict[int, _Endpoint] = {}

    def _get(self, endpoint: str) -> _Endpoint:
        state = self._endpoints.get(endpoint)
        if state is None:
            state = self._endpoints[endpoint] = _Endpoint()
        return state

    def _forget(self, state: _Endpoint, gone: float) -> None:
        """Drop the slots whose window ended at or before ``gone``.

        Every end here is at most ``now + hold`` (in flight: taken + hold; answered and refused:
        at most now), so the SQL's second rule (stamped later than that) never applies in memory.
        """
        answered, in_flight, refused = state.answered, state.in_flight, state.refused
        while answered and answered[0][0] <= gone:
            self._endpoint_of.pop(answered.popleft()[1], None)
        while in_flight:  # in flight longer than the hold and a window: forgotten, as in the SQL
            first = next(iter(in_flight))
            if in_flight[first] > gone:
                break
            del in_flight[first]
            self._endpoint_of.pop(first, None)
        while refused and refused[0][0] <= gone:
            self._endpoint_of.pop(refused.pop(0)[1], None)

    def take(self, endpoint: str, calls: int, seconds: float, hold: float, now: float
             ) -> tuple[int | None, float, bool, int | None]:
        """``(slot id, 0, True, learned)`` or ``(None, wait, exact, learned)``, as :meth:`SlotTable.try_take`."""
        state = self._get(endpoint)
        self._forget(state, now - seconds)
        learned = self._learned(state, calls, seconds, now)
        limit = calls if learned is None else learned
        count = len(state.answered) + len(state.in_flight) + len(state.refused)
        if learned is not None and limit < min(2 * count, calls) and not state.in_flight and not state.refused:
            limit = min(2 * count, calls)  # all admitted (nothing in flight, no refusal held): double, as a slow start
            state.learned = (cut_window(limit, seconds), now)
        if count >= limit:
            ends = heapq.nsmallest(count - limit + 1, itertools.chain(
                ((u, s, False) for u, s in state.answered),
                ((u, s, True) for s, u in state.in_flight.items()),
                ((u, s, False) for u, s in state.refused)))
            until, _, flying = ends[-1]
            if flying:  # its answer may come any moment: the window runs at least that long after it
                return None, seconds, False, learned
            return None, max(0.0, until + seconds - now), True, learned
        slot = next(self._ids)
        state.in_flight[slot] = now + hold
        self._endpoint_of[slot] = state
        return slot, 0.0, True, learned

    @staticmethod
    def _learned(state: _Endpoint, calls: int, seconds: float, now: float) -> int | None:
        if state.learned is None:
            return None
        w_max, cut_at = state.learned
        learned = learned_calls(w_max, cut_at, now, seconds)
        if learned >= calls or cut_at > now:  # recovered
            state.learned = None
            return None
        return learned

    def refused(self, endpoint: str, slot: int, taken: float, calls: int, seconds: float, now: float
                ) -> tuple[int, float]:
        """Learn a smaller window after a 3006; return it and the seconds until the refused slot frees.

        As :meth:`SlotTable.refused`: the window restarts at the calls of the last ``seconds``
        the server admitted (answered or in flight, the refused one left out), once per cut;
        the refused call keeps its slot until our oldest admitted call leaves the window.
        """
        state = self._get(endpoint)
        mine = self._take_out(state, slot)
        learned = None if state.learned is None else learned_calls(*state.learned, now, seconds)
        if state.learned is None or taken >= state.learned[1] or learned is None or learned >= calls:
            gone = now - seconds
            admitted = sum(1 for u, _ in state.answered if u > gone) + sum(
                1 for u in state.in_flight.values() if u > gone)
            w_max = cut_window(admitted, seconds)
            state.learned = (w_max, now)
            learned = learned_calls(w_max, now, now, seconds)
            logger.info("rate limit %s: refused (3006) within the configured window; the server admitted "
                        "%d calls in the last %g s: %d per %g s from now, growing back", endpoint, admitted,
                        seconds, learned, seconds)
        learned = min(learned, calls)
        oldest = next((u for u, _ in state.answered if u > now - seconds), None)
        until = now - seconds + seconds / learned
        until = until if oldest is None else max(until, oldest)
        if mine:
            bisect.insort(state.refused, (until, slot))
            self._endpoint_of[slot] = state
        return learned, max(0.0, until + seconds - now)

    def _take_out(self, state: _Endpoint, slot: int) -> bool:
        """Remove ``slot`` from wherever it is (its answer came just before: look from the newest)."""
        if state.in_flight.pop(slot, None) is not None:
            return True
        for index in range(len(state.answered) - 1, -1, -1):
            if state.answered[index][1] == slot:
                del state.answered[index]
                return True
        for index, (_, other) in enumerate(state.refused):
            if other == slot:
                del state.refused[index]
                return True
        return False

    def answered(self, slot: int, now: float) -> None:
        """The call of ``slot`` has its answer: its window runs from ``now``."""
        state = self._endpoint_of.get(slot)
        if state is not None and state.in_flight.pop(slot, None) is not None:
            state.answered.append((now, slot))

    def clear(self) -> None:
        """Forget every slot and learned window."""
        self._endpoints.clear()
        self._endpoint_of.clear()
