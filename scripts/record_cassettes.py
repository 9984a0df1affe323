"""Record the vcrpy cassettes in ``cassettes/`` from real HTTP traffic.

``make cassettes`` (``python -m scripts.record_cassettes --out cassettes``) runs every
scenario against a local sandbox over a real socket, with a fixed seed and a fixed
"today", so the recordings are deterministic. ``make cassettes-live`` records the
read-only scenarios against the real API with ``JMLINK_APP_KEY`` / ``JMLINK_MASTER_SECRET``
into ``cassettes/live/`` (never run by CI or the tests).

The scenarios live in ``tests/cassette_scenarios.py`` and the VCR configuration (with its
scrubber of credentials) in ``tests/vcr_config.py``, shared with the replay tests.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from jmlink_analytics import errors
from tests.cassette_scenarios import SCENARIOS_BY_NAME, record, record_live


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("cassettes"), help="folder to write (default: cassettes)")
    parser.add_argument("--live", action="store_true", help="record against the real API (JMLINK_* variables)")
    parser.add_argument("scenario", nargs="*", help=f"only these scenarios (of: {', '.join(SCENARIOS_BY_NAME)})")
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenario if name not in SCENARIOS_BY_NAME]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS_BY_NAME)}")
    logging.basicConfig(level=logging.WARNING)
    try:
        written = record_live(args.out) if args.live else record(args.out, args.scenario or None)
    except errors.JMLinkError as exc:
        print(f"recording failed: {exc}", file=sys.stderr)
        return 4
    for path in written:
        print(path)
    print(f"{len(written)} cassettes written to {args.out}/", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
