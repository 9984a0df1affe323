"""The adaptive 3006 limit (issue 18): a server that refuses earlier than the client believes.

Two cases, each against the sandbox in its own process enforcing its stats limit as a sliding
window over arrival times (scaled in time: 2 s windows, 50 ms latency):

- **two machines**: two child processes with ``shared_limits=False`` (and each its own
  ``XDG_CACHE_HOME``: nothing shared) on one appKey, each fetching its half of 300 links
  (one request each) while believing it owns the whole limit, 60 calls per 2 s; the sandbox
  enforces those 60 per 2 s for both together. Goal: combined time (first start to last end) /
  the floor of the 300 combined calls, ``(300 - 1) // 60 x 2 s + 50 ms`` = 8.05 s, <= 1.15;
  no link failed.
- **stricter than believed**: one process believing 60 per 2 s against a sandbox enforcing
  20 per 2 s (the issue's "500/min believed, 60 per 10 s enforced" made 3 x stricter and
  scaled in time), 120 links: time / the floor of the REAL limit, ``(120 - 1) // 20 x 2 s + 50
  ms`` = 10.05 s, <= 1.3; no link failed. With ``--mismatch``, also the issue's own ratio scaled in
  time by 1/5, where the windows differ: believing 500 per 12 s (41.7/s) against 60 per 2 s
  enforced (30/s), 300 links, floor 8.05 s.

Printed per case: the median of ``--runs`` runs (the cases alternate, each run after an empty
server window) of the time / floor, the 3006 answers the sandbox logged, the links that failed,
and the most requests the server admitted in any window (never above its limit: it refuses).
``--profile`` also prints, per run, how the sends spread over the windows (from the log).

Run: ``.venv/bin/python benchmarks/bench_adaptive.py [--runs 3] [--profile] [--mismatch]`` (about
100 s by default).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sandbox import SandboxProcess, floor_seconds, most_in_any_window, refusals, stat_entries

LATENCY = 0.05

CHILD = """
import json, sys, time, warnings
from jmlink_analytics.client import JMLinkClient
from jmlink_analytics.data import fetch_stats
base_url, app_key, secret, shared, calls, seconds = sys.argv[1:7]
keys = sys.argv[7:]
started = time.time()
with JMLinkClient(app_key, secret, base_url=base_url, rate_limits={"stats": (int(calls), float(seconds))},
                  shared_limits=shared == "1") as client, warnings.catch_warnings(record=True):
    df = fetch_stats(client, keys, start="2024-05-01", end="2024-05-30", progress=False, errors="warn")
print(json.dumps({"start": started, "end": time.time(), "failed": len(df.attrs["failed"])}))
"""


@dataclass(frozen=True)
class Case:
    label: str
    links: int
    processes: int
    shared: bool
    believed: tuple[int, float]  # what each client is configured with
    enforced: tuple[int, float]  # what the sandbox enforces
    goal: float

    @property
    def floor(self) -> float:
        return floor_seconds(self.links, *self.enforced, LATENCY)


CASES = [
    Case("two machines: 2 x 150 links, each believes 60/2 s, server 60/2 s", 300, 2, False, (60, 2.0), (60, 2.0),
         1.15),
    Case("stricter: believes 60/2 s, server 20/2 s, 120 links", 120, 1, True, (60, 2.0), (20, 2.0), 1.30),
    Case("stricter (issue's ratio): believes 500/12 s, server 60/2 s, 300 links", 300, 1, True, (500, 12.0),
         (60, 2.0), 1.30),
]


def run(case: Case, sandbox: SandboxProcess, keys: list[str]) -> dict[str, Any]:
    time.sleep(case.enforced[1] * 1.05 + 0.3)  # an empty server window
    before = len(sandbox.served())
    parts = [keys[i::case.processes] for i in range(case.processes)]
    procs = []
    for part in parts:  # each process its own cache folder: no slot file, no learned pace shared
        env = {**os.environ, "XDG_CACHE_HOME": tempfile.mkdtemp(prefix="jmlink-bench-")}
        procs.append(subprocess.Popen([sys.executable, "-c", CHILD, sandbox.base_url, *sandbox.auth(),
                                       "1" if case.shared else "0", str(case.believed[0]), str(case.believed[1]),
                                       *part], stdout=subprocess.PIPE, text=True, env=env))
    results = [json.loads(p.communicate(timeout=600)[0]) for p in procs]
    log = stat_entries(sandbox.served()[before:])
    start = min(r["start"] for r in results)
    elapsed = max(r["end"] for r in results) - start
    return {"elapsed": elapsed, "ratio": elapsed / case.floor, "refused": refusals(log), "sent": len(log),
            "failed": sum(r["failed"] for r in results),
            "most": most_in_any_window([e["time"] for e in log if e["code"] == 3000], case.enforced[1]),
            "log": log}


def profile(case: Case, result: dict[str, Any]) -> str:
    """Per server window since the first send: admitted / refused arrivals."""
    log = result["log"]
    if not log:
        return "    (no request logged)"
    first = min(e["time"] for e in log)
    seconds = case.enforced[1]
    n = int((max(e["time"] for e in log) - first) // seconds) + 1
    ok, no = [0] * n, [0] * n
    for e in log:
        i = int((e["time"] - first) // seconds)
        (ok if e["code"] == 3000 else no)[i] += 1
    cells = "  ".join(f"{a}/{r}" for a, r in zip(ok, no, strict=True))
    return f"    per window of {seconds:g} s (admitted/refused): {cells}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each case, alternating (default: 3)")
    parser.add_argument("--profile", action="store_true", help="print how each run's sends spread over windows")
    parser.add_argument("--case", type=int, action="append", help="only the case(s) of this index (0, 1, 2)")
    parser.add_argument("--mismatch", action="store_true",
                        help="also the issue's ratio with windows that differ (case 2; some 40 s more)")
    args = parser.parse_args(argv)
    cases = [CASES[i] for i in args.case] if args.case else CASES if args.mismatch else CASES[:2]
    sandboxes: list[SandboxProcess] = []
    try:
        for case in cases:
            calls, seconds = case.enforced
            sandboxes.append(SandboxProcess("--links", str(case.links), "--days", "60", "--seed", "0", "--today",
                                            "2024-06-30", "--latency", str(LATENCY), "--stats-limit",
                                            f"{calls}/{seconds:g}"))
        keysets = []
        for sandbox in sandboxes:
            with sandbox.client(shared_limits=False) as client:
                keysets.append(sorted(link["link_key"] for link in client.iter_links(page_size=500)))
        print(f"bench_adaptive: sandbox in its own process per case, latency {LATENCY * 1000:.0f} ms; "
              f"{args.runs} alternating run(s) per case, medians")
        results: list[list[dict[str, Any]]] = [[] for _ in cases]
        for _ in range(args.runs):
            for i, case in enumerate(cases):
                results[i].append(run(case, sandboxes[i], keysets[i]))
                if args.profile:
                    r = results[i][-1]
                    print(f"  [{case.label}] {r['elapsed']:.2f} s, ratio {r['ratio']:.3f}, 3006 {r['refused']}")
                    print(profile(case, r))
    finally:
        for sandbox in sandboxes:
            sandbox.stop()
    for case, rs in zip(cases, results, strict=True):
        ratios = [r["ratio"] for r in rs]
        med = statistics.median(ratios)
        print(f"  {case.label}")
        runs = ", ".join(f"{x:.3f}" for x in ratios)
        print(f"    floor {case.floor:.2f} s; time/floor median {med:.3f} (runs {runs}; "
              f"goal <= {case.goal:.2f}: {'met' if med <= case.goal else 'MISSED'});  3006 answers median "
              f"{statistics.median(r['refused'] for r in rs):.0f} (of {statistics.median(r['sent'] for r in rs):.0f} "
              f"requests);  links failed {sum(r['failed'] for r in rs)};  most admitted in any {case.enforced[1]:g} s "
              f"window {max(r['most'] for r in rs)} (limit {case.enforced[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
