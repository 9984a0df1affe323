"""What the fetch benchmarks share: the sandbox in a separate process, and reading its request log.

The server must enforce the documented sliding-window limit independently of the client under
test: ``python -m jmlink_analytics.sandbox`` runs in its own process (own clock, sockets, GIL)
and logs every request with its arrival time and the code it answered.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from typing import Any

import requests

from jmlink_analytics.client import JMLinkClient

_EXPORT = re.compile(r"(JMLINK_APP_KEY|JMLINK_MASTER_SECRET|JMLINK_BASE_URL)=['\"]?([^'\"\s]+)")


class SandboxProcess:
    """``python -m jmlink_analytics.sandbox OPTIONS`` in a child process; reads its credentials from stdout."""

    def __init__(self, *options: str, timeout: float = 60.0):
        self.process = subprocess.Popen([sys.executable, "-m", "jmlink_analytics.sandbox", "--port", "0", *options],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(lines,), daemon=True).start()
        found: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while len(found) < 3:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                raise RuntimeError("the sandbox did not print its JMLINK_* export lines in time")
            found.update(_EXPORT.findall(line))
        self.app_key = found["JMLINK_APP_KEY"]
        self._secret = found["JMLINK_MASTER_SECRET"]
        self.base_url = found["JMLINK_BASE_URL"].rstrip("/")

    def _pump(self, lines: queue.Queue[str | None]) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            lines.put(line)
        lines.put(None)

    def client(self, **kwargs: Any) -> JMLinkClient:
        return JMLinkClient(self.app_key, self._secret, base_url=self.base_url, **kwargs)

    def auth(self) -> tuple[str, str]:
        return self.app_key, self._secret

    def served(self) -> list[dict[str, Any]]:
        """The sandbox's request log (``GET /_sandbox/requests``)."""
        return requests.get(f"{self.base_url}/_sandbox/requests", timeout=30).json()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def stat_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if str(e.get("path", "")).endswith("/stat")]


def refusals(entries: list[dict[str, Any]]) -> int:
    """Stat requests the sandbox answered 3006."""
    return sum(1 for e in stat_entries(entries) if e.get("code") == 3006)


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The most arrivals in any trailing window of ``seconds``."""
    times = sorted(times)
    most = lo = 0
    for hi, t in enumerate(times):
        while times[lo] <= t - seconds:
            lo += 1
        most = max(most, hi - lo + 1)
    return most


def floor_seconds(n_requests: int, calls: int, seconds: float, latency: float) -> float:
    """The rate-limit floor: request i cannot leave before ``(i // calls) * seconds``, plus one answer."""
    return ((n_requests - 1) // calls) * seconds + latency
