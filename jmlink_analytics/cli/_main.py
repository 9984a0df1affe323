"""The ``jmlink-analytics`` command (and ``python -m jmlink_analytics``).

Commands: ``links``, ``stats``, ``report`` (fetch, then write a table or a report folder),
``sync`` (keep a Hive-partitioned Parquet dataset up to date), ``sandbox`` (serve the local
sandbox API) and ``cache`` (``info`` / ``clear``).

Credentials come from ``JMLINK_APP_KEY`` / ``JMLINK_MASTER_SECRET`` (and ``JMLINK_BASE_URL``),
never from a flag: a flag would land in the shell history and in ``ps``. ``--sandbox`` runs
against an in-process sandbox app instead.

Exit status: 0 ok; 1 unexpected failure; 2 usage error; 3 missing or rejected credentials;
4 any other API error. Results go to stdout or to files; progress, messages and (with ``-v``)
logs and tracebacks go to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from .._dates import china_today, to_date
from .._version import __version__
from ..data.store import default_path
from ..report import REPORT_FORMATS
from . import _commands as commands
from ._digest import add_digest_command
from ._formats import table_format
from ._sync import add_sync_command

__all__ = [
    "EXIT_API",
    "EXIT_AUTH",
    "EXIT_OK",
    "EXIT_UNEXPECTED",
    "EXIT_USAGE",
    "build_parser",
    "main",
    "parse_args",
]

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_API = 4
EXIT_INTERRUPTED = 130

PLATFORM_CHOICES = ("all", "ios", "android", "split")
TABLE_FORMATS = ("csv", "json", "parquet", "xlsx")
DEFAULT_DAYS = 30
#: The longest span a data command accepts (about ten years): more is a typo, not a request.
MAX_DAYS = 3660


# -- argument types: a bad value is an argparse error (exit 2, argparse's message) -------------
def _date_arg(text: str) -> dt.date:
    try:
        return to_date(text.strip(), "the date")
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a real date as YYYY-MM-DD; got {text!r}") from None


def _days_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"expected a whole number of days from 1 to {MAX_DAYS}; got {text!r}")
    return value


def _keys_arg(text: str) -> list[str]:
    keys = [key.strip() for key in text.split(",") if key.strip()]
    if not keys:
        raise argparse.ArgumentTypeError(f"expected link keys separated by commas (KEY,KEY,...); got {text!r}")
    return list(dict.fromkeys(keys))


def _control_character(argv: list[str]) -> str | None:
    """The first argument holding a control character (a pasted newline, a NUL, an escape), if any."""
    for arg in argv:
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in arg):
            return arg
    return None


def _formats_arg(text: str) -> tuple[str, ...]:
    values = [value.strip().lower() for value in text.split(",") if value.strip()]
    unknown = [value for value in values if value not in REPORT_FORMATS]
    if not values or unknown:
        raise argparse.ArgumentTypeError(
            f"expected one or more of {', '.join(REPORT_FORMATS)} separated by commas; got {text!r}")
    return tuple(dict.fromkeys(values))


# -- the parser ------------------------------------------------------------------------------
class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


_VERBOSE_HELP = "log to stderr (-v: info and tracebacks, -vv: debug, HTTP requests included)"


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0, help=_VERBOSE_HELP)
    return common


def _data_options() -> argparse.ArgumentParser:
    data = argparse.ArgumentParser(add_help=False)
    group = data.add_argument_group("where the data comes from")
    group.add_argument("--sandbox", action="store_true",
                       help="use a built-in sandbox app (local, synthetic, no credentials needed) instead of the "
                            "API named by JMLINK_APP_KEY, JMLINK_MASTER_SECRET and JMLINK_BASE_URL")
    cache = group.add_mutually_exclusive_group()
    cache.add_argument("--cache", metavar="PATH", type=Path,
                       help=f"the local cache file (default: {default_path()}; not used with --sandbox)")
    cache.add_argument("--no-cache", action="store_true", help="fetch everything, keep nothing")
    group.add_argument("--no-progress", action="store_true", help="no progress bar and no status lines on stderr")
    return data


def _date_options(parser: argparse.ArgumentParser, platform_default: str) -> None:
    group = parser.add_argument_group("what to fetch")
    span = group.add_mutually_exclusive_group()
    span.add_argument("--days", type=_days_arg, metavar="N",
                      help=f"the N days up to --end, today included (China time, UTC+8; 1 to {MAX_DAYS}, "
                           f"default {DEFAULT_DAYS})")
    span.add_argument("--start", type=_date_arg, metavar="YYYY-MM-DD", help="the first day")
    group.add_argument("--end", type=_date_arg, metavar="YYYY-MM-DD", help="the last day (default: today, UTC+8)")
    group.add_argument("--platform", choices=PLATFORM_CHOICES, default=platform_default,
                       help=f"all, ios, android, or split = ios and android side by side (default: {platform_default})")
    group.add_argument("--links", type=_keys_arg, metavar="KEY,...", help="only these link keys (default: every link)")


def _table_output_options(parser: argparse.ArgumentParser) -> None:
    """--out, --format and --encoding of the commands that write one table (links, stats)."""
    parser.add_argument("--out", default="-", metavar="FILE",
                        help="where to write: a file, or - for stdout (default: -)")
    parser.add_argument("--format", choices=TABLE_FORMATS,
                        help="csv, json, parquet or xlsx (default: from the --out suffix .csv, .json, .parquet or "
                             ".xlsx; csv on stdout)")
    _encoding_option(parser)


def _encoding_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoding", choices=("utf-8-sig", "utf-8"), default="utf-8-sig",
                        help="CSV files: utf-8-sig (with a BOM, for Excel; the default) or utf-8 (CSV on stdout is "
                             "always utf-8 without a BOM)")


def build_parser() -> argparse.ArgumentParser:
    """The ``jmlink-analytics`` argument parser (each command's handler is ``args.handler``)."""
    from ..sandbox import cli as sandbox_cli

    parser = argparse.ArgumentParser(
        prog="jmlink-analytics", formatter_class=_Formatter,
        description="JMLink short-link statistics: link listings, daily stats and full reports.",
        epilog="Credentials: export JMLINK_APP_KEY and JMLINK_MASTER_SECRET (and JMLINK_BASE_URL for another API "
               "root), or try everything with --sandbox.\nExit status: 0 ok, 1 unexpected failure, 2 usage error, "
               "3 missing or rejected credentials, 4 other API error.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # before the command too (`jmlink-analytics -v report ...`): counted apart, added up by parse_args
    parser.add_argument("-v", "--verbose", action="count", default=0, dest="verbose_before", help=_VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common, data = _common_options(), _data_options()

    links = sub.add_parser("links", parents=[common, data], formatter_class=_Formatter,
                           help="list the app's short links (CSV, JSON, Parquet or Excel)",
                           description="List every short link of the app as a table.")
    _table_output_options(links)
    links.set_defaults(handler=commands.run_links, command_parser=links)

    stats = sub.add_parser("stats", parents=[common, data], formatter_class=_Formatter,
                           help="daily statistics as a tidy table (CSV, JSON, Parquet or Excel)",
                           description="Daily statistics, one row per link, platform and day.")
    _date_options(stats, "all")
    _table_output_options(stats)
    stats.set_defaults(handler=commands.run_stats, command_parser=stats)

    report = sub.add_parser("report", parents=[common, data], formatter_class=_Formatter,
                            help="write a report folder: CSV tables, an Excel workbook, charts and index.html",
                            description="Fetch, analyse and write a report folder (open its index.html).")
    _date_options(report, "split")
    report.add_argument("--out", default="report", metavar="FOLDER", type=Path,
                        help="the report folder (default: report)")
    report.add_argument("--format", type=_formats_arg, default=("csv", "png", "html", "xlsx"), metavar="FORMATS",
                        help="what to write, separated by commas: csv, png, html, parquet, xlsx "
                             "(default: csv,png,html,xlsx)")
    _encoding_option(report)
    report.set_defaults(handler=commands.run_report, command_parser=report)

    sandbox = sub.add_parser("sandbox", formatter_class=_Formatter,
                             help="serve a local JMLink-compatible API with a synthetic app",
                             description="Serve the sandbox API in the foreground; prints the base URL and the "
                                         "export line of its credentials. Stop with Ctrl-C.")
    sandbox_cli.add_arguments(sandbox)
    sandbox.set_defaults(handler=sandbox_cli.run)

    add_sync_command(sub, [common, data], _date_options, _Formatter)
    add_digest_command(sub, [common, data], _Formatter)

    cache = sub.add_parser("cache", parents=[common], formatter_class=_Formatter,
                           help="show or clear the local cache",
                           description="Show what the local cache holds, or empty it.")
    cache.add_argument("action", choices=("info", "clear"), help="info: path, size and contents; clear: empty it")
    cache.add_argument("--cache", metavar="PATH", type=Path, help=f"the cache file (default: {default_path()})")
    cache.set_defaults(handler=commands.run_cache)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and check the arguments; exit 2 with argparse's message on a usage error.

    For the data commands, ``--days``/``--start``/``--end`` are resolved into ``args.start``
    and ``args.end`` (dates), and ``--platform`` into ``args.platforms`` (``split`` ->
    ``["ios", "android"]``).
    """
    parser = build_parser()
    raw = list(sys.argv[1:] if argv is None else argv)
    bad = _control_character(raw)
    if bad is not None:
        parser.error(f"an argument holds a control character (a pasted newline, tab or escape?): {bad!r}")
    args = parser.parse_args(raw)
    args.verbose = getattr(args, "verbose", 0) + args.verbose_before
    parser = getattr(args, "command_parser", parser)  # errors show the command's usage line
    if args.command in ("stats", "report", "sync"):
        today = china_today()
        for flag, value in (("--start", args.start), ("--end", args.end)):
            if value is not None and value > today:
                parser.error(f"{flag} {value} is in the future: today is {today} in China time (UTC+8), "
                             "the last day with data")
        end = args.end if args.end is not None else today
        start = args.start if args.start is not None else end - dt.timedelta(days=(args.days or DEFAULT_DAYS) - 1)
        if start > end:
            parser.error(f"--start {start} is after --end {end}")
        if (end - start).days + 1 > MAX_DAYS:
            parser.error(f"--start {start} to --end {end} spans {(end - start).days + 1:,} days; "
                         f"at most {MAX_DAYS:,} are fetched in one run")
        args.start, args.end = start, end
        args.platforms = ["ios", "android"] if args.platform == "split" else args.platform
    if args.command in ("links", "stats") and args.out == "-" and args.format == "parquet":
        parser.error("--format parquet needs --out FILE (Parquet is a binary format, not for stdout)")
    if args.command in ("links", "stats", "report"):
        problem = commands.out_problem(args.out, folder=args.command == "report")
        if problem is not None:
            parser.error(problem)
        if args.command == "report":
            wants_parquet = "parquet" in args.format
        else:
            try:  # the format from --format or --out's suffix: never CSV text under another name
                wants_parquet = table_format(args.out, args.format) == "parquet"
            except ValueError:  # the command itself says so, a usage error (exit 2) before any request
                wants_parquet = False
        if wants_parquet and not _has_pyarrow():
            parser.error("Parquet output needs pyarrow, which is not installed: pip install pyarrow "
                         "(or install jmlink-analytics with its [parquet] extra)")
    return args


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


# -- running -----------------------------------------------------------------------------------
class _LogSetup:
    """Send logs to stderr for one run; undone afterwards (``main`` may run in-process, e.g. in tests)."""

    def __init__(self, verbose: int):
        self.handler = logging.StreamHandler(sys.stderr)
        self.handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.root = logging.getLogger()
        self.package = logging.getLogger("jmlink_analytics")
        self.saved = (self.root.level, self.package.level)
        self.root.addHandler(self.handler)
        self.root.setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
        self.package.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING)
        logging.captureWarnings(True)

    def close(self) -> None:
        logging.captureWarnings(False)
        self.root.removeHandler(self.handler)
        self.root.setLevel(self.saved[0])
        self.package.setLevel(self.saved[1])


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (argparse exits with 2 on a usage error).

    Parameters
    ----------
    argv : list of str, optional
        The arguments (``sys.argv[1:]`` by default).
    """
    args = parse_args(argv)
    for stream in (sys.stdout, sys.stderr):  # a path or a name the terminal cannot show must not crash the run
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    verbose = getattr(args, "verbose", 0)
    logs = _LogSetup(verbose)
    try:
        return _run(args.handler, args, verbose)
    finally:
        logs.close()


def _fail(status: int, message: str, verbose: int, *, hint: str = "") -> int:
    if verbose:
        traceback.print_exc(file=sys.stderr)
    print(f"jmlink-analytics: error: {message}", file=sys.stderr)
    if hint and not verbose:
        print(hint, file=sys.stderr)
    return status


def _run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace, verbose: int) -> int:
    from ..errors import AuthError, JMLinkError, MissingCredentialsError, StoreError

    try:
        return handler(args)
    except MissingCredentialsError:
        return _fail(EXIT_AUTH, "no credentials: set JMLINK_APP_KEY and JMLINK_MASTER_SECRET (the appKey and "
                                "masterSecret of the JMLink web console), or use --sandbox to try the built-in "
                                "sandbox app", verbose)
    except AuthError as exc:
        return _fail(EXIT_AUTH, f"the API rejected the credentials ({exc}); check JMLINK_APP_KEY and "
                                "JMLINK_MASTER_SECRET", verbose)
    except JMLinkError as exc:
        return _fail(EXIT_API, f"the API call failed: {exc}", verbose)
    except commands.UsageError as exc:
        return _fail(EXIT_USAGE, str(exc), verbose)
    except KeyboardInterrupt:
        print("jmlink-analytics: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `jmlink-analytics stats | head`: the reader stopped reading, not a failure
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except (OSError, ImportError, StoreError, commands.CommandError) as exc:
        return _fail(EXIT_UNEXPECTED, str(exc), verbose)
    except Exception as exc:
        return _fail(EXIT_UNEXPECTED, f"unexpected {type(exc).__name__}: {exc}", verbose,
                     hint="Run again with -v for the traceback.")

