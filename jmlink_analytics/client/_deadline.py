"""One overall deadline per request, the status line and the headers included.

requests' and urllib3's timeouts bound each socket operation, not a request: a server that
sends one header byte a second never trips a read timeout of 2 s and holds the call for as
long as it likes. Here one watchdog thread holds an alarm per request in flight; when a
request's deadline passes, it shuts the request's socket down, so the blocked read returns at
once and the transport reports the deadline.

The socket is found without touching a library's private parts: :class:`DeadlineAdapter`
(a requests ``HTTPAdapter``) gives its urllib3 pools connection classes whose public
``getresponse()`` arms the alarm of the calling thread's request (:func:`watch`) with their
socket before the status line is read. A session the user injected keeps its own adapters:
there the deadline is checked between reads of the body only.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["Alarm", "DeadlineAdapter", "watch"]

_current = threading.local()


class Alarm:
    """The deadline of one request: armed with a socket once it has one; ``fired`` once it cut it."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.fired = False
        self._sock: socket.socket | None = None
        self._cancelled = False
        self._lock = threading.Lock()

    def arm(self, sock: socket.socket | None) -> None:
        """Watch ``sock`` until :meth:`cancel` (a new socket replaces the old one)."""
        if sock is None:
            return
        with self._lock:
            if self._cancelled:
                return
            self._sock = sock
        _WATCHDOG.add(self)

    def cancel(self) -> None:
        """Stop watching: after this returns the socket is never cut by this alarm."""
        with self._lock:
            self._cancelled = True
            self._sock = None

    def _fire(self) -> None:
        with self._lock:
            if self._cancelled or self._sock is None:
                return
            self.fired = True
            sock, self._sock = self._sock, None
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the base method: an SSL socket's state is left alone


class _Watchdog:
    """One daemon thread that fires alarms at their deadlines (started on first use, again after a fork)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Alarm]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, alarm: Alarm) -> None:
        with self._cond:
            heapq.heappush(self._heap, (alarm.deadline, next(self._order), alarm))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="jmlink-deadline", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2]._cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait(60)
                    continue
                left = self._heap[0][0] - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                alarm = heapq.heappop(self._heap)[2]
            alarm._fire()


_WATCHDOG = _Watchdog()


@contextlib.contextmanager
def watch(deadline: float) -> Iterator[Alarm]:
    """Within the block, this thread's request is cut at ``deadline`` (time.monotonic) once it has a socket."""
    alarm = Alarm(deadline)
    previous = getattr(_current, "alarm", None)
    _current.alarm = alarm
    try:
        yield alarm
    finally:
        alarm.cancel()
        _current.alarm = previous


def _arm_current(sock: Any) -> None:
    alarm = getattr(_current, "alarm", None)
    if alarm is not None:
        alarm.arm(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def getresponse(self) -> Any:
        _arm_current(self.sock)
        return super().getresponse()


class _WatchedHTTPSConnection(HTTPSConnection):
    def getresponse(self) -> Any:
        _arm_current(self.sock)
        return super().getresponse()


class _HTTPPool(HTTPConnectionPool):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # A recorder that replaced urllib3's connection class (vcrpy under a cassette) keeps it:
        # its replayed answers have no socket to watch, and ours would send past it.
        base = HTTPConnectionPool.ConnectionCls
        self.ConnectionCls = _WatchedHTTPConnection if base is HTTPConnection else base
        super().__init__(*args, **kwargs)


class _HTTPSPool(HTTPSConnectionPool):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        base = HTTPSConnectionPool.ConnectionCls
        self.ConnectionCls = _WatchedHTTPSConnection if base is HTTPSConnection else base
        super().__init__(*args, **kwargs)


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """A requests adapter whose connections let :func:`watch` cut a request at its deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager
