"""Fetching at the rate-limit floor: ``fetch_stats`` with default settings against an independent server.

The sandbox runs in a **separate process** (``python -m jmlink_analytics.sandbox``) and enforces
the stats limit as a sliding window over arrival times; every figure about refusals comes from
its request log. Two scales:

- default (scaled in time): 120 links x 30 days = 120 requests at 60 calls per 2 s with 50 ms
  latency. Side by side in one run: ``fetch_stats`` with the default settings (32 workers), with
  ``max_workers=8`` (the old default) and 64, and a naive sequential ``requests`` loop;
- ``--real``: 1,000 requests at the documented 500 calls per 60 s with 150 ms latency, default
  settings only (takes over a minute: the floor is 60.15 s).

The floor: request i (0-based) cannot be sent before ``(i // calls) * seconds``, so the last
answer cannot arrive before ``((R - 1) // calls) * seconds + latency``. Printed: time / floor
(goals: <= 1.10 scaled, <= 1.05 real) and the 3006 answers (goal 0).

Run: ``.venv/bin/python benchmarks/bench_fetch.py [--real]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sandbox import SandboxProcess, floor_seconds, most_in_any_window, refusals, stat_entries

from jmlink_analytics.data import fetch_stats

TODAY = dt.date(2024, 6, 30)


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


def run(sandbox: SandboxProcess, label: str, keys: list[str], start: dt.date, end: dt.date, calls: int,
        seconds: float, floor: float, **options: object) -> float:
    """One fetch_stats run from an empty server window; prints and returns time / floor."""
    time.sleep(seconds * 1.05 + 0.3)  # let the server's window empty: every run starts alike
    before = len(sandbox.served())
    with sandbox.client(rate_limits={"stats": (calls, seconds)}) as client:
        t0 = time.perf_counter()
        frame = fetch_stats(client, keys, start=start, end=end, progress=False, **options)
        elapsed = time.perf_counter() - t0
    log = stat_entries(sandbox.served()[before:])
    admitted = [e["time"] for e in log if e["code"] == 3000]
    print(f"  {label:38s}: {elapsed:7.3f} s  time/floor {elapsed / floor:6.3f}   3006 answers {refusals(log)} of "
          f"{len(log)}   most in any {seconds:g} s window {most_in_any_window(admitted, seconds)} (limit {calls})"
          f"   {len(frame):,} rows")
    return elapsed / floor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", action="store_true", help="1,000 requests at 500 per 60 s, 150 ms latency")
    args = parser.parse_args(argv)
    # The default settings share limits through a file in the user cache folder: a temporary one here.
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="jmlink-bench-")
    if args.real:
        n_links, calls, seconds, latency = 1000, 500, 60.0, 0.15
    else:
        n_links, calls, seconds, latency = 120, 60, 2.0, 0.05
    days = 30
    start, end = TODAY - dt.timedelta(days=days + 1), TODAY - dt.timedelta(days=2)
    floor = floor_seconds(n_links, calls, seconds, latency)
    with SandboxProcess("--links", str(n_links), "--days", "60", "--seed", "0", "--today", TODAY.isoformat(),
                        "--latency", str(latency), "--stats-limit", f"{calls}/{seconds:g}",
                        "--links-limit", "100/60") as sandbox:
        with sandbox.client() as client:
            keys = sorted(link["link_key"] for link in client.iter_links())
        print(f"bench_fetch: {n_links} links x {days} days = {n_links} stat requests; sandbox in a separate process, "
              f"latency {latency * 1000:.0f} ms, stats limit {calls}/{seconds:g} s; floor "
              f"({n_links - 1}//{calls} x {seconds:g} s + {latency * 1000:.0f} ms) = {floor:.3f} s")
        if args.real:
            run(sandbox, "fetch_stats, default settings", keys, start, end, calls, seconds, floor)
            return 0
        ratios = {"default": run(sandbox, "fetch_stats, default (32 workers)", keys, start, end, calls, seconds,
                                 floor)}
        ratios[8] = run(sandbox, "fetch_stats, max_workers=8 (old default)", keys, start, end, calls, seconds, floor,
                        max_workers=8)
        ratios[64] = run(sandbox, "fetch_stats, max_workers=64", keys, start, end, calls, seconds, floor,
                         max_workers=64)
        time.sleep(seconds * 1.05 + 0.3)
        before = len(sandbox.served())
        t0 = time.perf_counter()
        naive(sandbox, keys, start.isoformat(), end.isoformat())
        t_naive = time.perf_counter() - t0
        print(f"  {'naive sequential requests loop':38s}: {t_naive:7.3f} s  time/floor {t_naive / floor:6.3f}   "
              f"3006 answers {refusals(sandbox.served()[before:])}")
    print(f"  default / floor = {ratios['default']:.3f} (goal <= 1.10); max_workers=8 / default = "
          f"{ratios[8] / ratios['default']:.3f}; naive / default = {t_naive / floor / ratios['default']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
