"""Client-side sliding-window rate limits that count what the server counts.

The server counts a call when it *arrives*; the client only knows when it sent the call and
when the answer came back, and the arrival lies somewhere between. So a call occupies a slot
of its endpoint's window from the moment it is sent until ``seconds`` after its answer
arrived: whatever the network did, the server's window never holds a call the client has
already forgotten, and no safety margin is needed. A call still in flight holds its slot.

The slots live in a small SQLite table. A client's own table is in memory; with
``shared_limits`` (the default of :class:`~jmlink_analytics.client.JMLinkClient`) it is a
file in the user cache directory named after a hash of the appKey and base URL, and every
client of that appKey on the machine, in any process, takes its slots from the same table
under SQLite's write lock (``BEGIN IMMEDIATE``), so they share one budget.

Why not pyrate-limiter (used before): its buckets stamp each call once, at admission, and
count it from that stamp; a call cannot be held while in flight and moved to its answer's
time, and its blocking wait is derived from the stamps. Both are what this module is for.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .._sqlite import use_wal

__all__ = ["DEFAULT_RATE_LIMITS", "EndpointLimiter", "SlotTable", "normalize_rate_limits", "shared_limits_path"]

logger = logging.getLogger("jmlink_analytics")

#: The documented limits: calls per window of seconds, per appKey and endpoint.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float]] = {"links": (100, 60.0), "stats": (500, 60.0)}

#: While a slot another process holds is in flight, its end is unknown: look again this often.
_POLL_S = 0.02
#: Waits at least this long are reported to the wait listener (the progress bar's text).
REPORT_WAITS_FROM_S = 1.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS slots (
    id INTEGER PRIMARY KEY,
    endpoint TEXT NOT NULL,
    until REAL NOT NULL,       -- answer time (or, while in flight, the latest it can come)
    in_flight INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS slots_by_until ON slots (endpoint, until);
"""


def normalize_rate_limits(rate_limits: Mapping[str, tuple[int, float]] | None) -> dict[str, tuple[int, float]]:
    """Validate a ``{"links": (calls, seconds), "stats": (calls, seconds)}`` mapping.

    Missing endpoints take the documented default; ``None`` means all defaults.

    Raises
    ------
    ValueError, TypeError
        For unknown endpoint names or limits that are not a positive ``(calls, seconds)`` pair.
    """
    limits = dict(DEFAULT_RATE_LIMITS)
    if rate_limits is None:
        return limits
    if not isinstance(rate_limits, Mapping):
        raise TypeError(
            "rate_limits must be a mapping like {'links': (100, 60), 'stats': (500, 60)} or None; "
            f"got {type(rate_limits).__name__}"
        )
    for name, value in rate_limits.items():
        if name not in DEFAULT_RATE_LIMITS:
            raise ValueError(f"rate_limits keys must be 'links' or 'stats'; got {name!r}")
        try:
            calls, seconds = value
        except (TypeError, ValueError):
            raise TypeError(f"rate_limits[{name!r}] must be a (calls, seconds) pair; got {value!r}") from None
        if isinstance(calls, bool) or not isinstance(calls, int) or calls < 1:
            raise ValueError(f"rate_limits[{name!r}] calls must be an integer >= 1; got {calls!r}")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < float("inf"):
            raise ValueError(f"rate_limits[{name!r}] seconds must be a finite number > 0; got {seconds!r}")
        limits[name] = (calls, float(seconds))
    return limits


def shared_limits_path(app_key: str, base_url: str, folder: str | os.PathLike[str] | None = None) -> Path:
    """The file holding the shared slots of ``app_key`` at ``base_url``.

    Named after a SHA-256 of the appKey and base URL (never the secret), in ``folder`` or the
    user cache directory (``platformdirs.user_cache_dir("jmlink-analytics")``).
    """
    if folder is None:
        from platformdirs import user_cache_dir

        folder = user_cache_dir("jmlink-analytics", appauthor=False)  # where Store.default() lives too
    digest = hashlib.sha256(f"{app_key}\n{base_url}".encode()).hexdigest()[:32]
    return Path(folder) / f"ratelimit-{digest}.sqlite"


def _set_up(conn: sqlite3.Connection, *, shared: bool) -> None:
    """Create the table; a shared file first goes to WAL, waiting out another client creating it."""
    if shared:
        use_wal(conn)
    conn.executescript(_SCHEMA)


class SlotTable:
    """The slots of every endpoint: in memory (one client) or in a file (every process of the appKey).

    Parameters
    ----------
    path : path or None
        The SQLite file; ``None`` keeps the table in memory.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = None if path is None else Path(path)
        # A file is read by other processes, whose monotonic clocks are not ours: wall time there.
        self.clock: Callable[[], float] = time.monotonic if path is None else time.time
        self.lock = threading.Condition()  # one transaction at a time in this process; notified on release
        self._conn: sqlite3.Connection | None = None
        self._connect()  # at once, so a folder that cannot hold the file fails the client's construction

    def _connect(self) -> sqlite3.Connection:
        with self.lock:
            if self._conn is None:
                if self.path is not None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(":memory:" if self.path is None else str(self.path), timeout=60.0,
                                       isolation_level=None, check_same_thread=False)
                try:
                    _set_up(conn, shared=self.path is not None)
                except sqlite3.Error:
                    conn.close()
                    raise
                self._conn = conn
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

    def try_take(self, endpoint: str, calls: int, seconds: float, hold: float) -> tuple[int | None, float, bool]:
        """Take a slot if the window has one: ``(slot id, 0, True)``, else ``(None, wait, exact)``.

        ``hold`` is how long the slot is held if its answer never comes (the request's deadline).
        ``exact`` is False when the slot to free first is still in flight: its end is unknown, and
        ``wait`` is the least it can be (a whole window).
        """
        return self._guarded(lambda: self._take(endpoint, calls, seconds, hold))

    def _take(self, endpoint: str, calls: int, seconds: float, hold: float) -> tuple[int | None, float, bool]:
        with self._transaction() as conn:
            now = self.clock()
            # Forget calls whose window is over, and any stamped absurdly far ahead (a clock set back).
            conn.execute("DELETE FROM slots WHERE endpoint = ? AND (until <= ? OR until > ?)",
                         (endpoint, now - seconds, now + hold + 3600.0))
            (count,) = conn.execute("SELECT COUNT(*) FROM slots WHERE endpoint = ?", (endpoint,)).fetchone()
            if count < calls:
                cursor = conn.execute("INSERT INTO slots (endpoint, until, in_flight) VALUES (?, ?, 1)",
                                      (endpoint, now + hold))
                return cursor.lastrowid, 0.0, True
            until, in_flight = conn.execute(
                "SELECT until, in_flight FROM slots WHERE endpoint = ? ORDER BY until LIMIT 1 OFFSET ?",
                (endpoint, count - calls)).fetchone()
        if in_flight:  # its answer may come any moment: the window runs at least that long after it
            return None, seconds, False
        return None, max(0.0, until + seconds - now), True

    def answered(self, slot: int) -> None:
        """The answer of ``slot``'s call arrived (or it failed): its window runs from now."""
        def update() -> None:
            with self._transaction() as conn:
                conn.execute("UPDATE slots SET until = ?, in_flight = 0 WHERE id = ?", (self.clock(), slot))

        with self.lock:
            self._guarded(update)
            self.lock.notify_all()

    def _guarded(self, operation: Callable[[], Any]) -> Any:
        """Run ``operation``; if the shared file fails (disk full, locked too long), go on in memory."""
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
                self._conn, self.path, self.clock = None, None, time.monotonic
            return operation()

    def clear(self) -> None:
        """Forget every slot (tests and benchmarks)."""
        with self.lock, self._transaction() as conn:
            conn.execute("DELETE FROM slots")

    def close(self) -> None:
        """Close the connection (a memory table forgets its slots; using it again reopens it)."""
        with self.lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class EndpointLimiter:
    """At most ``calls`` calls of one endpoint in any window of ``seconds``, held from send to answer.

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

    def __repr__(self) -> str:
        return f"EndpointLimiter({self.name!r}, {self.calls} per {self.seconds:g} s, {self.table!r})"

    def acquire(self, on_wait: Callable[[float], None] | None = None) -> int:
        """Block until the window has a slot; take it and return its id (pass it to :meth:`release`).

        ``on_wait(seconds)`` is called once when a wait of :data:`REPORT_WAITS_FROM_S` or more begins.
        """
        started = time.monotonic()
        reported = False
        table = self.table
        with table.lock:
            while True:
                slot, wait, exact = table.try_take(self.name, self.calls, self.seconds, self.hold)
                if slot is not None:
                    break
                if not reported and wait >= REPORT_WAITS_FROM_S and on_wait is not None:
                    reported = True
                    on_wait(wait)
                # A release in this process wakes us at once; another process's release is polled for.
                table.lock.wait(wait if exact or table.path is None else min(wait, _POLL_S))
        waited = time.monotonic() - started
        if waited > 0.5:
            logger.debug("rate limit %s: waited %.2f s for a slot (%d calls / %g s)",
                         self.name, waited, self.calls, self.seconds)
        return slot

    def release(self, slot: int) -> None:
        """The call of ``slot`` has its answer (or has failed)."""
        self.table.answered(slot)
