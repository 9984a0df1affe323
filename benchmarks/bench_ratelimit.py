"""Counting what the server counts: our limiter vs one that stamps calls when sent, vs a token bucket.

A request that reaches the server late counts there in a later window than the client thought.
Here every request is held back 0-150 ms (seeded) between taking its slot and leaving, as on a
slow uplink, a proxy or a busy machine; 160 stat requests from 16 threads go to a sandbox in a
separate process whose stats limit is 20 calls per 1 s. Retries are off, so every 3006 is
counted. Side by side in one run:

- ours: a call holds its slot from when it is sent until 1 s after its answer arrived;
- send-stamped sliding window (the previous limiter, without its safety margin): a call counts
  from when its slot was taken;
- token bucket, burst 20, refilled at 20 per s: what a "calls per second" limiter usually is.

Printed: time / floor, the most requests the server admitted in any 1 s, and the 3006 answers.

Run: ``.venv/bin/python benchmarks/bench_ratelimit.py``.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sandbox import SandboxProcess, floor_seconds, most_in_any_window, refusals, stat_entries

from jmlink_analytics import errors

CALLS, SECONDS = 20, 1.0
REQUESTS, THREADS, DELAY = 160, 16, 0.15
TODAY = dt.date(2024, 6, 30)


class SendStamped:
    """A sliding-window log of the times slots were taken (what the server cannot see)."""

    def __init__(self) -> None:
        self.stamps: deque[float] = deque()
        self.lock = threading.Lock()

    def acquire(self, on_wait=None) -> int:
        while True:
            with self.lock:
                now = time.monotonic()
                while self.stamps and self.stamps[0] <= now - SECONDS:
                    self.stamps.popleft()
                if len(self.stamps) < CALLS:
                    self.stamps.append(now)
                    return 0
                wait = self.stamps[0] + SECONDS - now
            time.sleep(wait)

    def release(self, slot: int) -> None:
        pass


class TokenBucket:
    """``CALLS`` tokens, refilled at ``CALLS / SECONDS`` per second."""

    def __init__(self) -> None:
        self.tokens, self.last, self.lock = float(CALLS), time.monotonic(), threading.Lock()

    def acquire(self, on_wait=None) -> int:
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(CALLS, self.tokens + (now - self.last) * CALLS / SECONDS)
                self.last = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return 0
                wait = (1 - self.tokens) * SECONDS / CALLS
            time.sleep(wait)

    def release(self, slot: int) -> None:
        pass


def run(sandbox: SandboxProcess, keys: list[str], limiter=None) -> dict[str, float]:
    time.sleep(SECONDS * 1.1 + 0.2)
    before = len(sandbox.served())
    delays = random.Random(0)
    lock = threading.Lock()
    with sandbox.client(rate_limits={"stats": (CALLS, SECONDS)}, shared_limits=False, max_retries=0) as client:
        if limiter is not None:
            client._transport.limiters["stats"] = limiter
        send = client.session.send

        def late_send(request, **kwargs):
            with lock:
                delay = delays.uniform(0, DELAY)
            time.sleep(delay)  # the slot is taken; the request reaches the server this much later
            return send(request, **kwargs)

        client.session.send = late_send
        started = time.perf_counter()
        with ThreadPoolExecutor(THREADS) as pool:
            futures = [pool.submit(client.get_link_stats, keys[i % len(keys)], "2024-06-01", "2024-06-30")
                       for i in range(REQUESTS)]
            refused = sum(1 for f in futures if isinstance(f.exception(), errors.RateLimitError))
        elapsed = time.perf_counter() - started
    log = stat_entries(sandbox.served()[before:])
    assert refusals(log) == refused
    return {"elapsed": elapsed, "refused": refused, "sent": len(log),
            "most": most_in_any_window([e["time"] for e in log if e["code"] == 3000], SECONDS)}


def main() -> None:
    floor = floor_seconds(REQUESTS, CALLS, SECONDS, 0.0)
    with SandboxProcess("--links", "40", "--days", "30", "--today", TODAY.isoformat(),
                        "--stats-limit", f"{CALLS}/{SECONDS:g}") as sandbox:
        with sandbox.client(shared_limits=False) as client:
            keys = [link["link_key"] for link in client.iter_links()]
        rows = [("ours (held from send to answer)", run(sandbox, keys)),
                ("send-stamped sliding window", run(sandbox, keys, SendStamped())),
                ("token bucket, burst 20", run(sandbox, keys, TokenBucket()))]
    print(f"{REQUESTS} stat requests, {THREADS} threads, each reaching the server 0-{DELAY * 1000:.0f} ms after its "
          f"slot was taken; server limit {CALLS} per {SECONDS:g} s (separate process); floor {floor:.2f} s")
    for name, r in rows:
        print(f"  {name:32s} time/floor {r['elapsed'] / floor:5.3f}   most admitted in any {SECONDS:g} s "
              f"{r['most']:3d} (limit {CALLS})   3006 answers {r['refused']:3d} of {r['sent']}")


if __name__ == "__main__":
    main()
