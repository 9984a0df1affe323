"""A 365-day range against a gateway that refuses ranges over 31 days: requests per link.

The sandbox runs in a separate process with ``--max-span-days 31`` (an undocumented cap: it
answers 3005 to longer stat requests) and limits far above the work, so only the request
count matters. ``fetch_stats`` (default settings, 32 workers) fetches 365 days of 120 links;
the sandbox's log gives the requests of each link. Side by side: the minimum,
ceil(365 / 31) = 12 per link, and what a client that learns nothing would send (halving from
365 for every link: 4 refusals, then ceil(365 / 23) = 16 requests, 20 per link).

Printed: the first link's requests (it probes), then the mean and the most of the others
(goal: at most 2 x 12 = 24), the 3005 answers, and that the numbers equal the app's.

Run: ``.venv/bin/python benchmarks/bench_span.py``.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sandbox import SandboxProcess, stat_entries

from jmlink_analytics.data import fetch_stats
from jmlink_analytics.sandbox import SyntheticApp

TODAY = dt.date(2024, 6, 30)
LINKS, CAP, DAYS = 120, 31, 365


def main() -> int:
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="jmlink-bench-")
    end = TODAY - dt.timedelta(days=2)
    start = end - dt.timedelta(days=DAYS - 1)
    with SandboxProcess("--links", str(LINKS), "--days", "400", "--seed", "0", "--today", TODAY.isoformat(),
                        "--max-span-days", str(CAP), "--stats-limit", "100000/60") as sandbox:
        with sandbox.client(rate_limits={"stats": (100000, 60.0)}) as client:
            keys = sorted(link["link_key"] for link in client.iter_links(page_size=500))
            before = len(sandbox.served())
            t0 = time.perf_counter()
            frame = fetch_stats(client, keys, start=start, end=end, progress=False)
            elapsed = time.perf_counter() - t0
        log = stat_entries(sandbox.served()[before:])
    per_link: dict[str, list[dict]] = defaultdict(list)
    for entry in log:
        per_link[entry["path"].split("/")[3]].append(entry)
    order = sorted(per_link, key=lambda key: per_link[key][0]["time"])
    first, others = per_link[order[0]], [len(per_link[key]) for key in order[1:]]
    minimum = math.ceil(DAYS / CAP)
    app = SyntheticApp(LINKS, 400, seed=0, today=TODAY)
    check = order[len(order) // 2]
    expected = sum(r["click_count"] for r in app.stats(check, start, end, "all"))
    got = int(frame.loc[frame["link_key"] == check, "click_count"].sum())
    print(f"bench_span: {LINKS} links x {DAYS} days, sandbox (separate process) refusing stat ranges over {CAP} days; "
          f"{elapsed:.2f} s")
    print(f"  minimum per link ceil({DAYS}/{CAP})      : {minimum}")
    print(f"  no learning (halving from {DAYS} per link): {4 + math.ceil(DAYS / 23)}")
    print(f"  ours, first link (probes)             : {len(first)} ({sum(e['code'] == 3005 for e in first)} "
          f"answered 3005)")
    print(f"  ours, other links: mean {sum(others) / len(others):.2f}, most {max(others)}   (goal <= {2 * minimum}); "
          f"ratio mean / minimum {sum(others) / len(others) / minimum:.2f}")
    print(f"  3005 answers in all: {sum(e['code'] == 3005 for e in log)} of {len(log)} requests; "
          f"numbers right: {got == expected} ({got:,} clicks on {check})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
