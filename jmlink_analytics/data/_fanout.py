"""Run many independent requests on a few threads, each result handed on in the thread that got it.

``fetch_stats`` sends one request per (link, platform, run of days). The requests wait on the
network, so they overlap on threads; but each answer is then decoded and checked in Python,
under the GIL. Two costs of a plain ``executor.submit`` per task + ``as_completed`` were
measured (``benchmarks/bench_frame.py``, answers served from memory, 900 answers):

- handing every result back to the calling thread woke that thread 900 times, each wake a
  GIL hand-over between two busy threads: 0.67 s with one worker against 0.48 s in one thread;
- 32 threads running Python at once took 0.83 s: they only queue for the GIL and for the
  limiter's lock.

So each worker takes the next task from a shared queue, runs it, and hands the result on
itself (``consume``, which must be safe to call from several threads: the fetch writes
disjoint slices of one array). The caller's thread only waits, and adds workers while the GIL
is mostly idle (:class:`_GilClock`), that is while the running ones wait rather than compute.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Generic, TypeVar

from ..errors import JMLinkError

__all__ = ["run_tasks"]

logger = logging.getLogger("jmlink_analytics")

T = TypeVar("T")
R = TypeVar("R")

#: Workers are added while this process was busy (its CPU time, and its threads' waits for a
#: CPU: :class:`_GilClock`) at most this share of the wall time between looks. One thread runs
#: Python at a time: below it the GIL is mostly idle, the workers wait (the network, the rate
#: limit) and more of them overlap more waiting; above it they compute (answers from memory, a
#: fast local server), and another thread would only add GIL hand-overs.
GIL_BUSY_SHARE = 0.5
#: How often the calling thread looks while workers can still be added (see :class:`_GilClock`):
#: on a slow network all 32 run 10 ms after the start.
TICK_S = 0.005
#: Each look that finds the GIL busy doubles the time to the next, up to this: every look
#: wakes the calling thread, which then takes the GIL from a worker (measured: 6 % of a fetch
#: from memory when looking every 5 ms throughout).
LONGEST_TICK_S = 0.5
#: The workers started before anything was measured.
START_WORKERS = 1


class _Queue(Generic[T]):
    """The shared queue of tasks and the stop flag."""

    def __init__(self, tasks: Sequence[T]):
        self._tasks = deque(tasks)
        self._lock = threading.Lock()
        self.stopped = threading.Event()

    def take(self) -> T | None:
        """The next task, or ``None`` when none is left or the run is stopping."""
        if self.stopped.is_set():
            return None
        with self._lock:
            return self._tasks.popleft() if self._tasks else None

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._tasks) and not self.stopped.is_set()


class _GilClock:
    """How many workers would keep the GIL busy :data:`GIL_BUSY_SHARE` of the time.

    Busy is this process's CPU time plus, on Linux, the time its threads waited for a CPU
    (``/proc/self/task/*/schedstat``): on a shared machine a process kept off the CPU is not
    idle, and counting it so would add threads that only queue. Measured over two looks in a
    row, both finding the GIL mostly idle, and the answer is proportional to how idle it was:
    a look fooled by a pause adds one worker, not a crowd.
    """

    def __init__(self) -> None:
        self._waits = _cpu_waits()
        self._waited = 0.0  # seconds threads alive at two looks in a row waited for a CPU, summed
        self._wall, self._busy = self._clocks()
        self._since: tuple[float, float] | None = None  # where the first idle look of two began
        self.tick = TICK_S  # until the next look: doubled after each busy look, up to LONGEST_TICK_S

    def _clocks(self) -> tuple[float, float]:
        waits = _cpu_waits()
        self._waited += sum(ns - self._waits[tid] for tid, ns in waits.items() if tid in self._waits) / 1e9
        self._waits = waits
        return time.monotonic(), time.process_time() + self._waited

    def workers_for(self, running: int) -> int:
        """The workers to run now, given ``running`` (``running`` itself: no change)."""
        wall, busy = self._clocks()
        last_wall, last_busy = self._wall, self._busy
        self._wall, self._busy = wall, busy
        if busy - last_busy > GIL_BUSY_SHARE * (wall - last_wall):
            self._since, self.tick = None, min(2 * self.tick, LONGEST_TICK_S)
            return running
        self.tick = TICK_S
        if self._since is None:
            self._since = (last_wall, last_busy)
            return running
        (began_wall, began_busy), self._since = self._since, None
        share = max(busy - began_busy, 1e-6) / max(wall - began_wall, 1e-6)
        return max(running + 1, math.ceil(running * GIL_BUSY_SHARE / share))


def _cpu_waits() -> dict[str, int]:
    """Nanoseconds each thread of this process waited for a CPU so far (Linux); ``{}`` elsewhere."""
    waits: dict[str, int] = {}
    try:
        threads = os.listdir("/proc/self/task")
    except OSError:
        return waits
    for tid in threads:
        try:
            with open(f"/proc/self/task/{tid}/schedstat", "rb") as stat:
                waits[tid] = int(stat.read().split()[1])
        except (OSError, ValueError, IndexError):  # the thread ended, or no scheduler statistics
            continue
    return waits


def run_tasks(tasks: Sequence[T], work: Callable[[T], R], consume: Callable[[T, R], None], *,
              max_workers: int, errors: str, failed: dict[str, str], key_of: Callable[[T], str],
              done: Callable[[], None] = lambda: None) -> None:
    """Run ``work`` over ``tasks`` on up to ``max_workers`` threads; ``consume(task, result)`` each as it ends.

    Parameters
    ----------
    tasks : sequence
        The tasks, taken in order.
    work : callable
        ``work(task)``, run on a worker thread.
    consume : callable
        ``consume(task, result)``, run on the same worker thread when ``work`` returned;
        it must be safe to call from several threads at once.
    max_workers : int
        The most threads at once. Workers are added while the GIL is mostly idle.
    errors : {"raise", "warn"}
        ``"warn"``: a task's :class:`JMLinkError` is put in ``failed`` under ``key_of(task)``
        and the run goes on. ``"raise"``: the first one stops the run: no task is started
        after it, the tasks in flight end (and are consumed), then it is raised.
    failed : dict
        Filled with ``errors="warn"``.
    key_of : callable
        The name of a task's link, for ``failed`` and the log.
    done : callable, optional
        Called after each task, consumed or failed (the progress bar).

    Notes
    -----
    Any other exception in a worker stops the run the same way and is raised; an exception in
    the calling thread (``KeyboardInterrupt``) stops it and propagates at once, the tasks in
    flight ending in their threads.
    """
    if not tasks:
        return
    queue = _Queue(tasks)
    lock = threading.Lock()
    first_error: list[BaseException] = []

    def stop(exc: BaseException) -> None:
        with lock:
            if not first_error:
                first_error.append(exc)
        queue.stopped.set()

    def worker() -> None:
        while (task := queue.take()) is not None:
            try:
                result = work(task)
            except JMLinkError as exc:
                if errors == "raise":
                    stop(exc)
                    return
                logger.info("fetch_stats: %s failed: %s", key_of(task), exc)
                with lock:
                    failed.setdefault(key_of(task), str(exc))
            except BaseException as exc:
                stop(exc)
                raise
            else:
                consume(task, result)
            finally:
                done()

    limit = min(max_workers, len(tasks))
    executor = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="jmlink-fetch")
    futures = [executor.submit(worker) for _ in range(min(START_WORKERS, limit))]
    gil = _GilClock()
    try:
        while True:
            running = [future for future in futures if not future.done()]
            if not running:
                break
            if len(futures) == limit:
                wait(running)
            elif not wait(running, timeout=gil.tick).not_done:
                continue
            elif queue:
                wanted = min(gil.workers_for(len(futures)), limit)
                futures += [executor.submit(worker) for _ in range(wanted - len(futures))]
    except BaseException:  # Ctrl-C in the calling thread: no new task starts
        queue.stopped.set()
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown(wait=True)
    logger.debug("fetch_stats: %d worker thread(s) of at most %d", len(futures), limit)
    if first_error:
        if isinstance(first_error[0], JMLinkError):
            logger.info("fetch_stats: stopped after %s; the requests in flight ended", first_error[0])
        raise first_error[0]
