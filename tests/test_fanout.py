"""The fan-out under ``fetch_stats``: as many threads as overlap waiting, results handed on where they arrive."""

from __future__ import annotations

import threading
import time

import pytest

import jmlink_analytics.errors as e
from jmlink_analytics.data import _fanout
from jmlink_analytics.data._fanout import run_tasks


class Recorder:
    """A ``work`` / ``consume`` pair that records threads, overlap and what was consumed."""

    def __init__(self, seconds_waiting: float = 0.0, seconds_computing: float = 0.0,
                 failing: dict[int, BaseException] | None = None):
        self.waiting, self.computing, self.failing = seconds_waiting, seconds_computing, failing or {}
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0
        self.started: list[int] = []
        self.consumed: dict[int, int] = {}
        self.threads: set[int] = set()
        self.consumed_on_worker = True

    def work(self, task: int) -> int:
        with self.lock:
            self.started.append(task)
            self.threads.add(threading.get_ident())
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.waiting:
                time.sleep(self.waiting)
            ends = time.thread_time() + self.computing
            while time.thread_time() < ends:  # Python holding the GIL, as decoding an answer does
                pass
            if task in self.failing:
                raise self.failing[task]
            return task * task
        finally:
            with self.lock:
                self.in_flight -= 1

    def consume(self, task: int, result: int) -> None:
        if threading.current_thread() is threading.main_thread():
            self.consumed_on_worker = False
        with self.lock:
            assert task not in self.consumed
            self.consumed[task] = result


def run(recorder: Recorder, tasks: list[int], **options) -> dict[str, str]:
    failed: dict[str, str] = {}
    options = {"max_workers": 16, "errors": "raise", **options}
    run_tasks(tasks, recorder.work, recorder.consume, failed=failed, key_of=lambda task: f"K{task}", **options)
    return failed


def test_tasks_that_wait_overlap_up_to_max_workers():
    recorder = Recorder(seconds_waiting=0.03)
    run(recorder, list(range(96)), max_workers=16)
    assert recorder.consumed == {task: task * task for task in range(96)}
    assert recorder.most_in_flight == 16
    assert recorder.consumed_on_worker


def test_tasks_that_compute_do_not_crowd_the_gil():
    # 300 tasks of 1 ms of Python each: another thread would only queue for the GIL (with
    # submit-per-task they ran on all 32 threads)
    recorder = Recorder(seconds_computing=0.001)
    run(recorder, list(range(300)), max_workers=32)
    assert len(recorder.consumed) == 300
    assert len(recorder.threads) <= 2  # one; a second when the machine paused this process twice in a row


def test_waiting_that_starts_later_still_gets_more_workers():
    # the first tasks compute (one worker is enough), then the tasks wait (a rate limit): workers are added
    recorder = Recorder()
    slow = set(range(100, 160))

    def work(task: int) -> int:
        if task in slow:
            time.sleep(0.03)
        else:
            ends = time.thread_time() + 0.002
            while time.thread_time() < ends:
                pass
        return recorder.work(task)

    failed: dict[str, str] = {}
    run_tasks(list(range(160)), work, recorder.consume, max_workers=8, errors="raise", failed=failed,
              key_of=str)
    assert len(recorder.consumed) == 160
    assert len(recorder.threads) == 8


def test_the_first_error_stops_the_queue_and_is_raised_after_the_tasks_in_flight():
    error = e.InvalidRequestError("unknown link", code=3005)
    recorder = Recorder(seconds_waiting=0.01, failing={5: error})
    with pytest.raises(e.InvalidRequestError) as raised:
        run(recorder, list(range(50)), max_workers=1)
    assert raised.value is error
    assert recorder.started == list(range(6))  # nothing started after the failed task
    assert recorder.consumed == {task: task * task for task in range(5)}


def test_in_flight_tasks_end_and_are_consumed_when_another_fails():
    error = e.InvalidRequestError("unknown link", code=3005)
    recorder = Recorder(seconds_waiting=0.05, failing={0: error})
    with pytest.raises(e.InvalidRequestError):
        run(recorder, list(range(200)), max_workers=8)
    assert len(recorder.started) < 200  # the queue was dropped
    assert set(recorder.consumed) == set(recorder.started) - {0}  # every other started task was consumed


def test_errors_warn_records_each_failed_link_and_keeps_the_rest():
    recorder = Recorder(failing={3: e.InvalidRequestError("unknown link", code=3005),
                                 7: e.ServerError("busy", code=3999)})
    failed = run(recorder, list(range(10)), errors="warn")
    assert set(failed) == {"K3", "K7"}
    assert "3005" in failed["K3"] and "3999" in failed["K7"]
    assert set(recorder.consumed) == set(range(10)) - {3, 7}


def test_an_unexpected_error_in_a_task_is_raised_as_it_is():
    recorder = Recorder(failing={2: ZeroDivisionError("a bug")})
    with pytest.raises(ZeroDivisionError, match="a bug"):
        run(recorder, list(range(10)), errors="warn", max_workers=1)
    assert recorder.started == [0, 1, 2]


def test_no_task_runs_nothing():
    recorder = Recorder()
    run(recorder, [])
    assert recorder.started == [] and recorder.threads == set()


class FakeClocks:
    """Wall, CPU and per-thread CPU-wait clocks the test moves by hand, for :class:`_GilClock`."""

    def __init__(self, monkeypatch):
        self.wall = self.cpu = 0.0
        self.waits: dict[str, int] = {"1": 0}
        monkeypatch.setattr(_fanout.time, "monotonic", lambda: self.wall)
        monkeypatch.setattr(_fanout.time, "process_time", lambda: self.cpu)
        monkeypatch.setattr(_fanout, "_cpu_waits", lambda: dict(self.waits))

    def advance(self, wall: float, cpu: float = 0.0, waited: float = 0.0) -> None:
        self.wall += wall
        self.cpu += cpu
        if waited:
            self.waits["1"] += round(waited * 1e9)


def test_the_gil_clock_adds_workers_after_two_idle_looks_in_proportion(monkeypatch):
    clocks = FakeClocks(monkeypatch)
    gil = _fanout._GilClock()
    clocks.advance(0.005, cpu=0.0001)
    assert gil.workers_for(1) == 1  # one idle look: not yet
    clocks.advance(0.005, cpu=0.0001)
    assert gil.workers_for(1) == 25  # 2 % busy: 0.5 / 0.02 workers keep it half busy
    clocks.advance(0.005, cpu=0.002)
    assert gil.workers_for(25) == 25  # the next pair starts afresh
    clocks.advance(0.005, cpu=0.002)
    assert gil.workers_for(25) == 32  # 40 % busy: 25 * 0.5 / 0.4 = 31.25


def test_the_gil_clock_keeps_the_workers_while_busy_and_looks_less_often(monkeypatch):
    clocks = FakeClocks(monkeypatch)
    gil = _fanout._GilClock()
    ticks = []
    for _ in range(10):
        clocks.advance(gil.tick, cpu=gil.tick * 0.9)
        assert gil.workers_for(1) == 1
        ticks.append(gil.tick)
    assert ticks[:3] == [0.01, 0.02, 0.04] and ticks[-1] == _fanout.LONGEST_TICK_S
    clocks.advance(0.5, cpu=0.01)  # idle again: look often again
    assert gil.workers_for(1) == 1 and gil.tick == _fanout.TICK_S


def test_an_idle_look_between_busy_ones_adds_nothing(monkeypatch):
    clocks = FakeClocks(monkeypatch)
    gil = _fanout._GilClock()
    for cpu in (0.0, 0.005, 0.0, 0.005, 0.0):  # the machine paused the process now and then
        clocks.advance(0.005, cpu=cpu)
        assert gil.workers_for(1) == 1


def test_time_waiting_for_a_cpu_counts_as_busy(monkeypatch):
    # a shared machine kept the process off the CPU: its CPU time fell behind, it was not idle
    clocks = FakeClocks(monkeypatch)
    gil = _fanout._GilClock()
    for _ in range(4):
        clocks.advance(0.005, cpu=0.001, waited=0.004)
        assert gil.workers_for(1) == 1
    clocks.waits = {"2": 10**9}  # that thread ended, another began: no wait is made up
    clocks.advance(0.005, cpu=0.0001)
    clocks.advance(0.005, cpu=0.0001)
    assert gil.workers_for(1) == 1
    assert gil.workers_for(1) > 1
