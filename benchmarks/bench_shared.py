"""Two processes fetching at once on one appKey: one shared budget vs each process believing it owns it.

A cron job and a notebook on one machine share the API's per-appKey limit. Two child processes
start together, each running ``fetch_stats`` (default settings) over its own half of 300 links
against one sandbox in a third process (stats limit 60 calls per 2 s, 50 ms latency). Side by
side in one run:

- default settings: the clients share the appKey's slots through the file in the user cache
  folder (``shared_limits=True``);
- baseline ``shared_limits=False``: each process counts only its own calls (as before).

Printed: the 3006 answers the sandbox logged (goal 0 with the default), the links that failed,
the most requests in any 2 s window, and the combined time (first start to last end) / the floor
of the combined calls, ``(300 - 1) // 60 x 2 s + 50 ms`` = 8.05 s.

Run: ``.venv/bin/python benchmarks/bench_shared.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sandbox import SandboxProcess, floor_seconds, most_in_any_window, refusals, stat_entries

TODAY = dt.date(2024, 6, 30)
LINKS, CALLS, SECONDS, LATENCY = 300, 60, 2.0, 0.05

CHILD = """
import json, sys, time, warnings
from jmlink_analytics.client import JMLinkClient
from jmlink_analytics.data import fetch_stats
base_url, app_key, secret, shared, keys = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1", sys.argv[5:]
started = time.time()
with JMLinkClient(app_key, secret, base_url=base_url, rate_limits={"stats": (60, 2.0)},
                  shared_limits=shared) as client, warnings.catch_warnings(record=True):
    df = fetch_stats(client, keys, start="2024-05-01", end="2024-05-30", progress=False, errors="warn")
print(json.dumps({"start": started, "end": time.time(), "failed": len(df.attrs["failed"])}))
"""


def run(sandbox: SandboxProcess, keys: list[str], shared: bool) -> dict[str, float]:
    time.sleep(SECONDS * 1.05 + 0.3)  # an empty server window
    before = len(sandbox.served())
    env = {**os.environ, "XDG_CACHE_HOME": tempfile.mkdtemp(prefix="jmlink-bench-")}
    halves = (keys[: len(keys) // 2], keys[len(keys) // 2:])
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, sandbox.base_url, *sandbox.auth(), "1" if shared else "0",
                               *half], stdout=subprocess.PIPE, text=True, env=env) for half in halves]
    results = [json.loads(p.communicate(timeout=600)[0]) for p in procs]
    log = stat_entries(sandbox.served()[before:])
    admitted = [e["time"] for e in log if e["code"] == 3000]
    elapsed = max(r["end"] for r in results) - min(r["start"] for r in results)
    return {"elapsed": elapsed, "refused": refusals(log), "sent": len(log), "failed": sum(r["failed"] for r in results),
            "most": most_in_any_window(admitted, SECONDS)}


def main() -> int:
    floor = floor_seconds(LINKS, CALLS, SECONDS, LATENCY)
    with SandboxProcess("--links", str(LINKS), "--days", "60", "--seed", "0", "--today", TODAY.isoformat(),
                        "--latency", str(LATENCY), "--stats-limit", f"{CALLS}/{SECONDS:g}") as sandbox:
        with sandbox.client(shared_limits=False) as client:
            keys = sorted(link["link_key"] for link in client.iter_links(page_size=500))
        print(f"bench_shared: 2 processes x {LINKS // 2} links (one request each) on one appKey; sandbox in a third "
              f"process, latency {LATENCY * 1000:.0f} ms, stats limit {CALLS}/{SECONDS:g} s; floor of the "
              f"{LINKS} combined calls {floor:.2f} s")
        rows = [("shared_limits=True (default)", run(sandbox, keys, True)),
                ("shared_limits=False (baseline)", run(sandbox, keys, False))]
    for label, r in rows:
        print(f"  {label:32s}: combined {r['elapsed']:6.2f} s  time/floor {r['elapsed'] / floor:5.3f}   3006 answers "
              f"{r['refused']:3d} of {r['sent']} requests   links failed {r['failed']}   most in any "
              f"{SECONDS:g} s window {r['most']} (limit {CALLS})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
