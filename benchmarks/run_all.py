"""Run every ``bench_*.py`` script in this folder, one after the other (``make bench``).

Each script runs in its own process with this interpreter; a script that fails is reported and
the others still run. Exit status: 0 when all ran, 1 otherwise.

Run: ``.venv/bin/python benchmarks/run_all.py [name-filter ...]``.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    filters = sys.argv[1:] if argv is None else argv
    scripts = sorted(p for p in HERE.glob("bench_*.py") if not filters or any(f in p.name for f in filters))
    print(f"benchmarks on {platform.node() or 'this machine'}: {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {platform.platform()}", flush=True)
    failed = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, check=False)
        print(f"=== {script.name}: exit {result.returncode} after {time.perf_counter() - started:.1f} s ===",
              flush=True)
        if result.returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
