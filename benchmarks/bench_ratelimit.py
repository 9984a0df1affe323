"""Rate limiting under 8 threads: our sliding window vs a plain token bucket, side by side.

Both clients send the same 120 stat requests from 8 threads to one in-process sandbox whose
stats limit is scaled down to 20 calls per 1 s (the real one is 500 per 60 s). Printed:
elapsed time / the rate-limit floor, the most requests the server saw in any trailing
1 s window, and the 3006 answers. The token bucket (burst 20, refill 20/s) is what a
"calls per second" limiter usually is: it passes a second burst right after the first one,
which a sliding-window server refuses.

Run: ``.venv/bin/python benchmarks/bench_ratelimit.py``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from jmlink_analytics import errors
from jmlink_analytics.sandbox import Sandbox

CALLS, SECONDS = 20, 1.0
REQUESTS, THREADS = 120, 8
TODAY = dt.date(2024, 6, 30)


class TokenBucket:
    """The baseline: ``burst`` tokens, refilled at ``calls / seconds`` per second."""

    def __init__(self, calls: int, seconds: float):
        self.capacity = float(calls)
        self.tokens = float(calls)
        self.rate = calls / seconds
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def acquire(self) -> float:
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
                self.last = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return 0.0
                wait = (1 - self.tokens) / self.rate
            time.sleep(wait)

    def close(self) -> None:
        pass


def max_in_window(times: list[float], seconds: float) -> int:
    times = sorted(times)
    most = lo = 0
    for hi, t in enumerate(times):
        while times[lo] <= t - seconds:
            lo += 1
        most = max(most, hi - lo + 1)
    return most


def run(sb: Sandbox, limiter_factory=None) -> dict[str, float]:
    sb.clear_requests()
    keys = [link["link_key"] for link in sb.app.links]
    # no retries: a 3006 is counted, not waited out, so both runs send exactly REQUESTS requests
    with sb.client(max_retries=0) as client:
        if limiter_factory is not None:
            client._limiters["stats"] = limiter_factory()
        started = time.perf_counter()
        with ThreadPoolExecutor(THREADS) as pool:
            futures = [pool.submit(client.get_link_stats, keys[i % len(keys)], "2024-06-01", "2024-06-30")
                       for i in range(REQUESTS)]
            rejected = sum(1 for f in futures if isinstance(f.exception(), errors.RateLimitError))
        elapsed = time.perf_counter() - started
    served = [r for r in sb.requests if r.path.endswith("/stat")]
    admitted = [r.time for r in served if r.code != 3006]
    return {"elapsed": elapsed, "rejected": rejected, "max_window": max_in_window(admitted, SECONDS),
            "sent": len(served)}


def main() -> None:
    floor = (REQUESTS - 1) // CALLS * SECONDS
    with Sandbox(links=40, days=30, today=TODAY, rate_limits={"stats": (CALLS, SECONDS)}) as sb:
        sb.client().get_link_stats(sb.app.links[0]["link_key"], "2024-06-01", "2024-06-30")  # warm the app's cache
        time.sleep(SECONDS * 1.1)
        ours = run(sb)
        time.sleep(SECONDS * 1.1)
        bucket = run(sb, lambda: TokenBucket(CALLS, SECONDS))
    print(f"{REQUESTS} stat requests, {THREADS} threads, server limit {CALLS} per {SECONDS:.0f} s "
          f"(floor {floor:.2f} s)")
    for name, r in (("sliding window (ours)", ours), ("token bucket (baseline)", bucket)):
        print(f"  {name:24s} time/floor {r['elapsed'] / floor:5.3f}   most in any {SECONDS:.0f} s window "
              f"{r['max_window']:3d} (limit {CALLS})   3006 answers {r['rejected']:3d} of {r['sent']}")
    print(f"ratio token bucket 3006 answers / ours: {bucket['rejected']} / {ours['rejected']}")


if __name__ == "__main__":
    main()
