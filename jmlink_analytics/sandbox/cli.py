"""The sandbox on the command line: ``python -m jmlink_analytics.sandbox`` / ``jmlink-analytics sandbox``.

Serves a synthetic app in the foreground, prints its base URL and the ``export`` line of
its credentials, and runs until Ctrl-C or SIGTERM (exit status 0).
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from typing import Any

from .._dates import format_date, to_date

__all__ = ["add_arguments", "run"]


def _limit(text: str) -> tuple[int, float]:
    """Read ``CALLS/SECONDS`` (e.g. ``100/60``)."""
    calls, sep, seconds = text.partition("/")
    try:
        value = (int(calls), float(seconds))
    except ValueError:
        value = None
    if not sep or value is None or value[0] < 1 or not value[1] > 0:
        raise argparse.ArgumentTypeError(f"expected CALLS/SECONDS such as 100/60; got {text!r}")
    return value


def _today(text: str) -> Any:
    try:
        return to_date(text, "--today")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability from 0 to 1; got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0; got {text!r}")
    return value


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of days >= 1; got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the sandbox's options to ``parser`` (also used by the main CLI's ``sandbox`` command)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--links", type=int, default=120, help="links of the synthetic app (default: 120)")
    parser.add_argument("--days", type=int, default=180, help="span of the links' creation dates (default: 180)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the app and credentials (default: 0)")
    parser.add_argument("--today", type=_today, default=None, metavar="YYYY-MM-DD",
                        help="the app's today (default: today in China, UTC+8)")
    parser.add_argument("--latency", type=_seconds, default=0.0, metavar="SECONDS",
                        help="delay added to every answer (default: 0)")
    parser.add_argument("--links-limit", type=_limit, default=(100, 60.0), metavar="CALLS/SECONDS",
                        help="rate limit of GET /v1/links per app key (default: 100/60)")
    parser.add_argument("--stats-limit", type=_limit, default=(500, 60.0), metavar="CALLS/SECONDS",
                        help="rate limit of GET /v1/links/{key}/stat per app key (default: 500/60)")
    parser.add_argument("--fault-rate", type=_fraction, default=0.0, metavar="P",
                        help="probability of answering 3011 server error (default: 0)")
    parser.add_argument("--omit-zero-days", action="store_true", help="leave days without activity out of stats")
    parser.add_argument("--retry-after", action="store_true", help="send a Retry-After header with 3006 answers")
    parser.add_argument("--max-span-days", type=_days, default=None, metavar="DAYS",
                        help="answer 3005 to stat requests spanning more days than this (default: no cap)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Serve the sandbox described by ``args`` until Ctrl-C or SIGTERM; return the exit status."""
    from .server import Sandbox

    for name in ("links", "days", "seed"):
        if getattr(args, name) < (1 if name == "days" else 0):
            print(f"error: --{name} must be >= {1 if name == 'days' else 0}", file=sys.stderr)
            return 2
    try:
        sandbox = Sandbox(args.links, args.days, seed=args.seed, today=args.today, host=args.host, port=args.port,
                          rate_limits={"links": args.links_limit, "stats": args.stats_limit},
                          latency=args.latency, fault_rate=args.fault_rate,
                          omit_zero_days=args.omit_zero_days, retry_after=args.retry_after,
                          max_span_days=args.max_span_days)
        sandbox.start()
    except (OSError, ValueError) as exc:
        print(f"error: cannot start the sandbox: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        app, url = sandbox.app, sandbox.base_url
        (links_calls, links_s), (stats_calls, stats_s) = sandbox.rate_limits["links"], sandbox.rate_limits["stats"]
        print(f"# JMLink sandbox serving {url}: {len(app.links)} links over {app.days} days, seed {app.seed}, "
              f"today {format_date(app.today)}")
        print(f"export JMLINK_APP_KEY={shlex.quote(sandbox.app_key)} "
              f"JMLINK_MASTER_SECRET={shlex.quote(sandbox.master_secret)} JMLINK_BASE_URL={shlex.quote(url)}")
        print(f"# rate limits: links {links_calls}/{links_s:g}s, stats {stats_calls}/{stats_s:g}s; "
              f"app keys answering 3009: {sandbox.blacklisted_app_key}, 3010: {sandbox.novip_app_key}")
        if sandbox.max_span_days is not None:
            print(f"# stat requests over {sandbox.max_span_days} days are answered 3005")
        print("# request log: GET /_sandbox/requests; stop with Ctrl-C", flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print("# sandbox stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m jmlink_analytics.sandbox``."""
    parser = argparse.ArgumentParser(prog="python -m jmlink_analytics.sandbox",
                                     description="Serve a local JMLink-compatible API with a synthetic app.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
