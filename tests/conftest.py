"""Shared fixtures: sandboxes on 127.0.0.1 with a fixed seed and a fixed "today"."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

#: Every test that needs a sandbox app uses this "today", so data are deterministic.
TODAY = dt.date(2024, 6, 30)


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The most requests in any trailing window of ``seconds``: what a sliding-window server counts."""
    times = sorted(times)
    most = lo = 0
    for hi, t in enumerate(times):
        while times[lo] <= t - seconds:
            lo += 1
        most = max(most, hi - lo + 1)
    return most


def failures_at_the_same_moment(action: Callable[[Path], object], folder: Path, *, clients: int = 4,
                                rounds: int = 100) -> list[str]:
    """Run ``action(path)`` from ``clients`` threads released together, on a new file each round; the errors."""
    failures: list[str] = []
    for round_ in range(rounds):
        barrier = threading.Barrier(clients)

        def run(path: Path = folder / f"{round_}.sqlite", barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                action(path)
            except Exception as exc:  # any failure is what the caller counts
                failures.append(repr(exc))

        threads = [threading.Thread(target=run) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    return failures


@pytest.fixture(autouse=True)
def private_cache_dir(tmp_path_factory, monkeypatch):
    """Clients share rate limits through a file in the user cache folder: never the real one in tests."""
    folder = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


@pytest.fixture
def no_wait(monkeypatch):
    """Make the client's retry waits instant; returns the list of waits it asked for."""
    waits: list[float] = []
    monkeypatch.setattr("jmlink_analytics.client._transport._sleep", waits.append)
    return waits


@pytest.fixture
def make_sandbox():
    """Start sandboxes on demand (``make_sandbox(links=10, days=30, **options)``); all stop after the test."""
    from jmlink_analytics.sandbox import Sandbox

    started = []

    def start(**options):
        options.setdefault("links", 10)
        options.setdefault("days", 30)
        options.setdefault("today", TODAY)
        sandbox = Sandbox(**options)
        sandbox.start()
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


@pytest.fixture(scope="module")
def sandbox():
    """A small sandbox app shared by a module's tests (read-only use; clear its request log yourself)."""
    from jmlink_analytics.sandbox import Sandbox

    with Sandbox(links=12, days=40, today=TODAY, seed=7) as sb:
        yield sb


@pytest.fixture
def use_app(monkeypatch, tmp_path):
    """Point the JMLINK_* variables at a sandbox (its request log cleared); the user cache goes under tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))

    def use(sandbox):
        monkeypatch.setenv("JMLINK_APP_KEY", sandbox.app_key)
        monkeypatch.setenv("JMLINK_MASTER_SECRET", sandbox.master_secret)
        monkeypatch.setenv("JMLINK_BASE_URL", sandbox.base_url)
        sandbox.clear_requests()
        return sandbox

    return use
