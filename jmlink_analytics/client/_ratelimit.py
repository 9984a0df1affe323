"""Client-side sliding-window rate limits that count what the server counts, and adapt to what it enforces.

The server counts a call when it *arrives*; the client only knows when it sent the call and
when the answer came back, and the arrival lies somewhere between. So a call occupies a slot
of its endpoint's window from the moment it is sent until ``seconds`` after its answer
arrived: whatever the network did, the server's window never holds a call the client has
already forgotten, and no safety margin is needed. A call still in flight holds its slot.

The slots live in a small SQLite table. A client's own table is in memory; with
``shared_limits`` (the default of :class:`~jmlink_analytics.client.JMLinkClient`) it is a
file in the user cache directory named after a hash of the appKey and base URL (see
:mod:`._slotfile`), and every client of that appKey on the machine, in any process, takes its
slots from the same table under SQLite's write lock (``BEGIN IMMEDIATE``), so they share one
budget.

When the server refuses a call the window allowed (3006: another machine spends the same
budget, or the gateway is stricter than documented), the endpoint is held to a learned window
of fewer calls that grows back cubically, and doubles while every call in it is admitted
(:mod:`._adaptive`); it is a row of the same table, so every process of the appKey slows down
together.

Clocks: a shared file is stamped in wall time, and processes' wall clocks may disagree (a
clock stepped by NTP, a process under ``faketime``). The table keeps the latest time any
process wrote; a process whose clock is behind it adopts the difference (the table's time is
the fastest clock that wrote to it), so it neither waits for slots stamped "in its future"
nor stamps its own slots where a faster process would forget them. Whatever a process wrote,
no wait is longer than one window plus the request's deadline: a slot stamped later than the
deadline from now is stale and dropped, and a skew of more than a day is not adopted (such
stamps are dropped). A process that joins with a clock *ahead* of all the others cannot tell
their recent slots from old ones and forgets them once (then the others adopt its clock); a
refusal that follows is waited out by the learned window.

Why not pyrate-limiter (used before): its buckets stamp each call once, at admission, and
count it from that stamp; a call cannot be held while in flight and moved to its answer's
time, and its blocking wait is derived from the stamps. Both are what this module is for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._adaptive import cut_window, learned_calls
from ._memslots import MemorySlots
from ._slotfile import connect, file_id, shared_limits_path, sweep_stale

__all__ = ["EndpointLimiter", "Slot", "SlotTable", "shared_limits_path"]

logger = logging.getLogger("jmlink_analytics")

#: While a slot another process holds is in flight, its end is unknown: look again this often.
_POLL_S = 0.02
#: ``slots.in_flight`` of a refused call (1: in flight, 0: answered).
_REFUSED = 2
#: While a learned window holds a call back, look again this often: the window grows meanwhile.
_LEARNED_POLL_S = 0.25
#: Waits at least this long are reported to the wait listener (the progress bar's text).
REPORT_WAITS_FROM_S = 1.0
#: The largest disagreement between clocks that is adopted; stamps further ahead are garbage.
MAX_SKEW_S = 86400.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS slots (
    id INTEGER PRIMARY KEY,
    endpoint TEXT NOT NULL,
    until REAL NOT NULL,       -- answer time (or, while in flight, the latest it can come)
    in_flight INTEGER NOT NULL -- 1 in flight, 0 answered, 2 refused (3006: not counted by the server)
);
CREATE INDEX IF NOT EXISTS slots_by_until ON slots (endpoint, until);
CREATE TABLE IF NOT EXISTS clock (     -- the latest time any process wrote (the fastest clock)
    id INTEGER PRIMARY KEY CHECK (id = 0),
    latest REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS learned (   -- an endpoint the server refused earlier than its window
    endpoint TEXT PRIMARY KEY,
    w_max REAL NOT NULL,       -- the learned window's plateau, calls per window (see _adaptive)
    cut_at REAL NOT NULL       -- when it was learned
);
"""


@dataclass(frozen=True)
class Slot:
    """A slot taken: its row and the table's time when it was taken."""

    id: int
    taken: float


class SlotTable:
    """The slots and learned windows of every endpoint: in memory (one client) or a file (every process).

    Parameters
    ----------
    path : path or None
        The SQLite file; ``None`` keeps the table in memory.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = None if path is None else Path(path)
        # A file is read by other processes, whose monotonic clocks are not ours: wall time there.
        self.clock: Callable[[], float] = time.monotonic if path is None else time.time
        self.offset = 0.0  # what this process's clock is behind the table's (see the module's "Clocks")
        self.lock = threading.Condition()  # one transaction at a time in this process; notified on release
        self._conn: sqlite3.Connection | None = None
        self._file: tuple[int, int] | None = None
        #: The table in Python when no other process reads it (no SQL: see :mod:`._memslots`).
        self._memory: MemorySlots | None = None
        if self.path is None:
            self._memory = MemorySlots()
            return
        sweep_stale(self.path.parent, self.path)
        self._connect()  # at once, so a folder that cannot hold the file fails the client's construction

    def _connect(self) -> sqlite3.Connection:
        with self.lock:
            if self._conn is not None and self.path is not None and file_id(self.path) != self._file:
                # the file was removed (swept as stale, deleted by hand) or replaced: open the path again
                logger.debug("the shared rate-limit file %s was removed or replaced; opening it again", self.path)
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None
            if self._conn is None:  # the file's (a table in memory is Python: self._memory)
                assert self.path is not None
                self._conn = connect(self.path, _SCHEMA)
                self._file = file_id(self.path)
            return self._conn

    def __repr__(self) -> str:
        return f"SlotTable({'memory' if self.path is None else str(self.path)})"

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()  # a closed client used again opens its table again
        conn.execute("BEGIN IMMEDIATE")  # the write lock: other processes wait here
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _now(self, conn: sqlite3.Connection) -> float:
        """The table's time: this process's clock, moved up to the latest time any process wrote."""
        now = self.clock() + self.offset
        row = conn.execute("SELECT latest FROM clock WHERE id = 0").fetchone()
        ahead = 0.0 if row is None else row[0] - now
        if 0.0 < ahead <= MAX_SKEW_S:
            if ahead > 1.0:
                logger.info("rate limits: another process's clock is %.1f s ahead of this one's; counting in "
                            "its time", ahead)
            self.offset += ahead
            now = row[0]
        elif ahead > MAX_SKEW_S:
            logger.warning("rate limits: the shared file %s holds times %.0f s ahead of this clock; dropping them",
                           self.path, ahead)
            conn.execute("DELETE FROM slots WHERE until > ?", (now + MAX_SKEW_S,))
            conn.execute("DELETE FROM learned")
        conn.execute("INSERT OR REPLACE INTO clock (id, latest) VALUES (0, ?)", (now,))
        return now

    def try_take(self, endpoint: str, calls: int, seconds: float, hold: float
                 ) -> tuple[Slot | None, float, bool, int | None]:
        """Take a slot if the window has one: ``(slot, 0, True, learned)``; else ``(None, wait, exact, learned)``.

        ``hold`` is how long the slot is held if its answer never comes (the request's deadline).
        ``exact`` is False when the slot to free first is still in flight: its end is unknown, and
        ``wait`` is the least it can be (a whole window). ``learned`` is the calls per window
        the endpoint is held to after a refusal (fewer than ``calls``), or None.
        """
        if self._memory is not None:
            with self.lock:
                now = self.clock()
                slot, wait, exact, learned = self._memory.take(endpoint, calls, seconds, hold, now)
            return (None if slot is None else Slot(slot, now)), wait, exact, learned
        return self._guarded(lambda: self._take(endpoint, calls, seconds, hold),
                             lambda: self.try_take(endpoint, calls, seconds, hold))

    def _take(self, endpoint: str, calls: int, seconds: float, hold: float
              ) -> tuple[Slot | None, float, bool, int | None]:
        with self._transaction() as conn:
            now = self._now(conn)
            # Forget calls whose window is over, and any stamped later than a call sent now could be held:
            # whatever another process wrote, no wait is longer than one window plus the deadline.
            conn.execute("DELETE FROM slots WHERE endpoint = ? AND (until <= ? OR until > ?)",
                         (endpoint, now - seconds, now + hold))
            learned = self._learned(conn, endpoint, calls, seconds, now)
            limit = calls if learned is None else learned
            (count,) = conn.execute("SELECT COUNT(*) FROM slots WHERE endpoint = ?", (endpoint,)).fetchone()
            if learned is not None and limit < min(2 * count, calls) and not conn.execute(
                    "SELECT 1 FROM slots WHERE endpoint = ? AND in_flight != 0 LIMIT 1", (endpoint,)).fetchone():
                # every call of the window was admitted (none in flight, no refusal held): double, as TCP's slow
                # start (an overshoot is refused and measures again; a window too small costs a whole window)
                limit = min(2 * count, calls)
                conn.execute("INSERT OR REPLACE INTO learned (endpoint, w_max, cut_at) VALUES (?, ?, ?)",
                             (endpoint, cut_window(limit, seconds), now))
            if count >= limit:
                until, in_flight = conn.execute(
                    "SELECT until, in_flight FROM slots WHERE endpoint = ? ORDER BY until LIMIT 1 OFFSET ?",
                    (endpoint, count - limit)).fetchone()
                if in_flight == 1:  # its answer may come any moment: the window runs at least that long after it
                    return None, seconds, False, learned
                return None, max(0.0, until + seconds - now), True, learned
            cursor = conn.execute("INSERT INTO slots (endpoint, until, in_flight) VALUES (?, ?, 1)",
                                  (endpoint, now + hold))
            assert cursor.lastrowid is not None
            return Slot(cursor.lastrowid, now), 0.0, True, learned

    @staticmethod
    def _learned(conn: sqlite3.Connection, endpoint: str, calls: int, seconds: float, now: float) -> int | None:
        """The learned window's calls now (None: none; the row goes once the curve reaches ``calls``)."""
        row = conn.execute("SELECT w_max, cut_at FROM learned WHERE endpoint = ?", (endpoint,)).fetchone()
        if row is None:
            return None
        learned = learned_calls(row[0], row[1], now, seconds)
        if learned >= calls or row[1] > now:  # recovered (or stamped by a clock we no longer trust)
            conn.execute("DELETE FROM learned WHERE endpoint = ?", (endpoint,))
            return None
        return learned

    def refused(self, endpoint: str, slot: Slot, calls: int, seconds: float) -> tuple[int, float]:
        """The call of ``slot`` was refused (3006) though the window allowed it: learn a smaller window.

        The window restarts at the calls of the last ``seconds`` the server did not refuse (our
        calls in it, every process's, those still in flight too: an overshoot costs a refusal,
        an undershoot a window). The refused call did not count at the server and is never
        measured; it keeps its slot until our oldest admitted call leaves the window (when the
        server frees its first slot), at least one turn of the learned window: refusals are
        spaced, never a stream.
        Calls sent before the last cut were sent under the old window and do not cut it again
        (as TCP cuts once per window of losses); a call sent after it measures again (see
        :mod:`._adaptive`). Returns the calls per window now allowed, and the seconds until the
        refused call's slot frees (a retry sent earlier would only wait for it).
        """
        def cut() -> tuple[int, float]:
            with self._transaction() as conn:
                now = self._now(conn)
                row = conn.execute("SELECT w_max, cut_at FROM learned WHERE endpoint = ?", (endpoint,)).fetchone()
                learned = None if row is None else learned_calls(row[0], row[1], now, seconds)
                if row is None or slot.taken >= row[1] or learned is None or learned >= calls:
                    (admitted,) = conn.execute(
                        "SELECT COUNT(*) FROM slots WHERE endpoint = ? AND until > ? AND id != ? AND "
                        "in_flight IN (0, 1)", (endpoint, now - seconds, slot.id)).fetchone()
                    w_max = cut_window(admitted, seconds)
                    conn.execute("INSERT OR REPLACE INTO learned (endpoint, w_max, cut_at) VALUES (?, ?, ?)",
                                 (endpoint, w_max, now))
                    learned = learned_calls(w_max, now, now, seconds)
                    logger.info("rate limit %s: refused (3006) within the configured window; the server admitted "
                                "%d calls in the last %g s: %d per %g s from now, growing back", endpoint, admitted,
                                seconds, learned, seconds)
                learned = min(learned, calls)
                # the server frees its first slot when our oldest admitted call leaves the window: until then
                # the refused call keeps its slot (at least one turn), so refusals are spaced, never a stream
                (oldest,) = conn.execute("SELECT MIN(until) FROM slots WHERE endpoint = ? AND in_flight = 0 AND "
                                         "until > ? AND id != ?", (endpoint, now - seconds, slot.id)).fetchone()
                until = now - seconds + seconds / learned
                until = until if oldest is None else max(until, oldest)
                conn.execute(f"UPDATE slots SET in_flight = {_REFUSED}, until = ? WHERE id = ?", (until, slot.id))
                return learned, max(0.0, until + seconds - now)

        with self.lock:  # one transaction at a time on the connection
            if self._memory is not None:
                return self._memory.refused(endpoint, slot.id, slot.taken, calls, seconds, self.clock())
            learned, frees = self._guarded(cut, lambda: self.refused(endpoint, slot, calls, seconds))
            return int(learned), float(frees)

    def answered(self, slot: Slot) -> None:
        """The answer of ``slot``'s call arrived (or it failed): its window runs from now."""
        def update() -> None:
            with self._transaction() as conn:
                conn.execute("UPDATE slots SET until = ?, in_flight = 0 WHERE id = ?", (self._now(conn), slot.id))

        with self.lock:
            if self._memory is not None:
                self._memory.answered(slot.id, self.clock())
            else:
                self._guarded(update, lambda: self.answered(slot))
            self.lock.notify_all()

    def _guarded(self, operation: Callable[[], Any], in_memory: Callable[[], Any]) -> Any:
        """Run ``operation``; if the shared file fails (disk full, locked too long), go on in memory (``in_memory``)."""
        try:
            return operation()
        except sqlite3.Error as exc:
            if self.path is None:
                raise
            logger.warning("the shared rate-limit file %s failed (%s: %s); this client counts only its own "
                           "requests from now on", self.path, type(exc).__name__, exc)
            with self.lock:
                if self._conn is not None:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.close()
                self._conn, self.path, self.clock, self.offset = None, None, time.monotonic, 0.0
                self._memory = MemorySlots()
            return in_memory()

    def clear(self) -> None:
        """Forget every slot and learned window (tests and benchmarks)."""
        if self._memory is not None:
            with self.lock:
                self._memory.clear()
            return
        with self.lock, self._transaction() as conn:
            conn.execute("DELETE FROM slots")
            conn.execute("DELETE FROM learned")

    def close(self) -> None:
        """Close the connection (a memory table forgets its slots; using it again reopens it)."""
        with self.lock:
            if self._memory is not None:
                self._memory.clear()
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class EndpointLimiter:
    """At most ``calls`` calls of one endpoint in any window of ``seconds``, held from send to answer.

    After a refusal the window allowed, fewer calls per window are allowed for a while (:meth:`refused`).

    Parameters
    ----------
    name : str
        The endpoint's name (``"links"`` or ``"stats"``).
    calls, seconds : int, float
        The limit.
    table : SlotTable
        Where the slots are kept (shared by the endpoints of a client, or by every process).
    hold : float
        How long a call that never answers holds its slot (the request's deadline).
    """

    def __init__(self, name: str, calls: int, seconds: float, table: SlotTable, *, hold: float):
        self.name, self.calls, self.seconds = name, calls, seconds
        self.table = table
        self.hold = float(hold)
        #: The learned calls per window the last wait was for (after a refusal), or None: said in the wait's text.
        self.learned: int | None = None

    def __repr__(self) -> str:
        return f"EndpointLimiter({self.name!r}, {self.calls} per {self.seconds:g} s, {self.table!r})"

    def acquire(self, on_wait: Callable[[float], None] | None = None) -> Slot:
        """Block until the window has a slot; take it and return it (pass it to :meth:`release`).

        ``on_wait(seconds)`` is called once when a wait of :data:`REPORT_WAITS_FROM_S` or more begins.
        """
        started = time.monotonic()
        reported = False
        table = self.table
        with table.lock:
            while True:
                slot, wait, exact, self.learned = table.try_take(self.name, self.calls, self.seconds, self.hold)
                if slot is not None:
                    break
                if not reported and wait >= REPORT_WAITS_FROM_S and on_wait is not None:
                    reported = True
                    on_wait(wait)
                # A release in this process wakes us at once; another process's release is polled for; a
                # learned window grows with time (and a refusal measures it again): it is looked at again soon.
                if self.learned is not None:
                    wait = min(wait, _LEARNED_POLL_S)
                table.lock.wait(wait if exact or table.path is None else min(wait, _POLL_S))
        waited = time.monotonic() - started
        if waited > 0.5:
            learned = "" if self.learned is None else f", {self.learned} learned after a refusal"
            logger.debug("rate limit %s: waited %.2f s for a slot (%d calls / %g s%s)", self.name, waited,
                         self.calls, self.seconds, learned)
        return slot

    def release(self, slot: Slot) -> None:
        """The call of ``slot`` has its answer (or has failed)."""
        self.table.answered(slot)

    def refused(self, slot: Slot) -> tuple[int, float]:
        """The call of ``slot`` was answered 3006: slow this endpoint down.

        Returns the calls per window now allowed, and the seconds until the refused call's slot frees.
        """
        return self.table.refused(self.name, slot, self.calls, self.seconds)
