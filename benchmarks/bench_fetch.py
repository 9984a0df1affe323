"""Fetching stats of 120 links at a scaled rate limit: ours vs the rate-limit floor vs a naive loop.

The sandbox runs in a **separate process** (``python -m jmlink_analytics.sandbox``) with 50 ms
latency and a stats limit of 60 calls per 2 s, so the server's clock, sockets and GIL are not
ours. Side by side in one run:

- the rate-limit floor: with R requests and at most ``calls`` per ``seconds`` window, request
  i (0-based) cannot be sent before ``(i // calls) * seconds``, so the last answer cannot arrive
  before ``((R - 1) // calls) * seconds + latency``;
- ours: ``fetch_stats(client, keys, ...)`` (the client keeps the limit), with the default 8
  workers and with 32: a window's worth of requests (60) takes ceil(60 / workers) round trips
  to send, and the last window cannot start earlier than the first one did, so the floor is
  only reachable with enough workers to send a window's requests within a few round trips;
- naive: a sequential ``requests`` loop, one round trip at a time, then ``pd.json_normalize`` +
  ``pd.concat``.

Prints ours / floor (goal <= 1.10), naive / ours, and the 3006 answers the sandbox logged
(``GET /_sandbox/requests``; goal 0).

Run: ``.venv/bin/python benchmarks/bench_fetch.py [--links 120 --days 30 --latency 0.05 --limit 60/2]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import queue
import re
import subprocess
import sys
import threading
import time
from typing import Any

import pandas as pd
import requests

from jmlink_analytics.client import JMLinkClient
from jmlink_analytics.data import fetch_stats

TODAY = dt.date(2024, 6, 30)
_EXPORT = re.compile(r"(JMLINK_APP_KEY|JMLINK_MASTER_SECRET|JMLINK_BASE_URL)=['\"]?([^'\"\s]+)")


class SandboxProcess:
    """``python -m jmlink_analytics.sandbox`` in a child process; reads its credentials from stdout."""

    def __init__(self, *options: str, timeout: float = 60.0):
        self.process = subprocess.Popen([sys.executable, "-m", "jmlink_analytics.sandbox", *options],
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
        return requests.get(f"{self.base_url}/_sandbox/requests", timeout=30).json()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def naive(sandbox: SandboxProcess, keys: list[str], start: str, end: str) -> pd.DataFrame:
    """One request after the other with plain requests, then json_normalize + concat."""
    frames = []
    with requests.Session() as session:
        for key in keys:
            answer = session.get(f"{sandbox.base_url}/v1/links/{key}/stat", auth=sandbox.auth(), timeout=30,
                                 params={"start_date": start, "end_date": end, "platform": "all"})
            frame = pd.json_normalize(answer.json().get("data", []))
            frame["link_key"] = key
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def codes(entries: list[dict[str, Any]]) -> list[int]:
    return [e.get("code") for e in entries if str(e.get("path", "")).endswith("/stat")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=120)
    parser.add_argument("--days", type=int, default=30, help="days per request")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--limit", default="60/2", help="stats limit, calls/seconds")
    parser.add_argument("--workers", type=lambda text: [int(w) for w in text.split(",")], default=[8, 32],
                        help="max_workers values to run side by side (default: 8,32)")
    args = parser.parse_args(argv)
    calls, seconds = int(args.limit.split("/")[0]), float(args.limit.split("/")[1])

    sandbox = SandboxProcess("--port", "0", "--links", str(args.links), "--days", "60", "--seed", "0",
                             "--today", TODAY.isoformat(), "--latency", str(args.latency),
                             "--stats-limit", args.limit, "--links-limit", "100/60")
    try:
        with sandbox.client(rate_limits={"stats": (calls, seconds)}) as client:
            keys = [link["link_key"] for link in client.iter_links()]
            start, end = TODAY - dt.timedelta(days=args.days + 1), TODAY - dt.timedelta(days=2)
            n_requests = len(keys)
            floor = ((n_requests - 1) // calls) * seconds + args.latency
            print(f"bench_fetch: {len(keys)} links x {args.days} days, platform all = {n_requests} requests; sandbox "
                  f"in a separate process, latency {args.latency * 1000:.0f} ms, stats limit {calls}/{seconds:g} s")

            runs = []
            for workers in args.workers:
                time.sleep(seconds * 1.1 + 0.2)  # let the server's window empty: every run starts alike
                before = len(sandbox.served())
                t0 = time.perf_counter()
                ours = fetch_stats(client, keys, start=start, end=end, max_workers=workers, progress=False)
                runs.append((workers, time.perf_counter() - t0, len(ours), sandbox.served()[before:]))

        time.sleep(seconds * 1.1 + 0.2)  # the naive loop starts with an empty window too
        before = len(sandbox.served())
        t0 = time.perf_counter()
        slow = naive(sandbox, keys, start.isoformat(), end.isoformat())
        t_naive = time.perf_counter() - t0
        naive_log = sandbox.served()[before:]
    finally:
        sandbox.stop()

    print(f"  rate-limit floor ({n_requests - 1}//{calls} x {seconds:g} s + {args.latency * 1000:.0f} ms)  : "
          f"{floor:7.3f} s")
    windows = (n_requests - 1) // calls
    for workers, elapsed, rows, log in runs:
        # with w connections the first window's requests leave over ceil(calls / w) round trips, and the last
        # window's cannot leave earlier than their counterparts one window before: the floor for w workers
        floor_w = windows * seconds + math.ceil(min(calls, n_requests - windows * calls) / workers) * args.latency
        print(f"  ours: fetch_stats, max_workers={workers:<3d}      : {elapsed:7.3f} s  ({rows:,} rows; "
              f"{codes(log).count(3006)} of {len(codes(log))} answers 3006)")
        print(f"      ours / floor = {elapsed / floor:.3f} (goal <= 1.10); the floor with {workers} connections is "
              f"{floor_w:.3f} s: ours / that = {elapsed / floor_w:.3f}")
    best = min(elapsed for _, elapsed, _, _ in runs)
    print(f"  naive sequential requests loop          : {t_naive:7.3f} s  ({len(slow):,} rows; "
          f"{codes(naive_log).count(3006)} of {len(codes(naive_log))} answers 3006)")
    for workers, elapsed, _, _ in runs:
        print(f"  naive / ours (max_workers={workers})".ljust(42) + f": {t_naive / elapsed:7.2f} x")
    print(f"  3006 answers in all our runs            : {sum(codes(log).count(3006) for *_, log in runs)}   (goal 0)")
    print(f"  best ours / floor                       : {best / floor:7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
