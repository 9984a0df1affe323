"""What each ``jmlink-analytics`` command does, once its arguments are parsed (see :mod:`.cli`)."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from ..client import JMLinkClient
    from ..data.store import Store

__all__ = ["SANDBOX_OPTIONS", "CommandError", "UsageError", "out_problem", "run_cache", "run_links",
           "run_report", "run_stats"]

#: The app ``--sandbox`` serves: fixed, so runs are comparable; its "today" is the real today (UTC+8).
SANDBOX_OPTIONS: dict[str, Any] = {"links": 120, "days": 180, "seed": 0}


class UsageError(Exception):
    """A problem with what the user asked for, found after parsing (exit status 2)."""


class CommandError(Exception):
    """A failure with a clear cause that is not the API's (exit status 1, no traceback)."""


def _status(args: argparse.Namespace, message: str) -> None:
    """A progress line on stderr (none with ``--no-progress``)."""
    if not args.no_progress:
        print(message, file=sys.stderr, flush=True)


def _progress(args: argparse.Namespace) -> bool | None:
    """The fetch's bar: on a terminal only (its frames would fill a redirected stderr); none with --no-progress."""
    if args.no_progress:
        return False
    isatty = getattr(sys.stderr, "isatty", None)
    return None if isatty is not None and isatty() else False


def out_problem(out: str | os.PathLike[str], *, folder: bool) -> str | None:
    """Why ``--out`` cannot be written (a message naming the user's path), or ``None``; checked before any request.

    ``folder``: the report's folder, else one file (``"-"`` is stdout).
    """
    if str(out) == "-" and not folder:
        return None
    path = Path(out).expanduser()
    shown = str(out)
    if folder:
        if path.exists() and not path.is_dir():
            return f"--out {shown} exists and is not a folder: give the report a folder"
    elif path.is_dir():
        return f"--out {shown} is a folder: give a file name, such as {path / 'table.csv'}"
    elif path.exists() and not path.is_file():
        return f"--out {shown} is not a regular file (use --out - for stdout)"
    ancestor = path if folder else path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"--out {shown}: {ancestor} is a file, not a folder"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"--out {shown}: cannot write in {ancestor} (permission denied)"
    return _probe(ancestor, shown)


def _probe(folder: Path, shown: str) -> str | None:
    """Create and remove a file in ``folder``: the only sure test (root passes ``os.access`` even in /sys)."""
    import tempfile

    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=".jmlink-write-check-")
    except OSError as exc:
        return f"--out {shown}: cannot write in {folder} ({exc.strerror or exc})"
    os.close(handle)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return None


@contextlib.contextmanager
def _writing(out: str | os.PathLike[str]) -> Iterator[None]:
    """Turn a failure to write into a :class:`CommandError` naming the user's ``--out``, never a temporary file."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CommandError(f"cannot write --out {out}: {reason}") from exc


@contextlib.contextmanager
def _connect(args: argparse.Namespace) -> Iterator[tuple[JMLinkClient, str]]:
    """Yield a client and a description of the data source (never a credential)."""
    if args.sandbox:
        from ..sandbox import Sandbox

        with Sandbox(**SANDBOX_OPTIONS) as sandbox, sandbox.client() as client:
            app = sandbox.app
            yield client, (f"built-in sandbox app (synthetic data: {len(app.links)} links, seed "
                           f"{SANDBOX_OPTIONS['seed']}, today {app.today:%Y-%m-%d})")
        return
    from ..client import JMLinkClient
    from ..errors import MissingCredentialsError

    try:
        client = JMLinkClient.from_env()
    except MissingCredentialsError:
        raise
    except (TypeError, ValueError) as exc:
        raise UsageError(f"check JMLINK_BASE_URL: {exc}") from None
    with client:
        yield client, client.base_url


def _store(args: argparse.Namespace) -> contextlib.AbstractContextManager[Store | None]:
    """The cache for this run: ``--cache``, the default file, or none (``--no-cache``, or ``--sandbox``).

    A ``--sandbox`` app listens on a new port each run, so caching it would only fill the cache.
    """
    if args.no_cache or (args.sandbox and args.cache is None):
        return contextlib.nullcontext(None)
    from ..data.store import Store, default_path

    return Store(args.cache if args.cache is not None else default_path())


def _span(args: argparse.Namespace) -> str:
    platforms = "ios and android" if args.platform == "split" else args.platform
    return f"{args.start:%Y-%m-%d} to {args.end:%Y-%m-%d}, platform {platforms}"


# -- writing a table ---------------------------------------------------------------------------
def _table_format(args: argparse.Namespace) -> str:
    """``--format``, else the suffix of ``--out``; a usage error (exit 2) when neither says (see ``_formats``)."""
    from ._formats import table_format

    try:
        return table_format(args.out, args.format)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _json_text(df: pd.DataFrame) -> str:
    from ..export import prepare_frame

    return prepare_frame(df, sanitize=False).to_json(orient="records", force_ascii=False) + "\n"


def _write_table(df: pd.DataFrame, args: argparse.Namespace, noun: str) -> None:
    from .._files import atomic_path
    from ..export import prepare_frame, to_csv

    fmt = _table_format(args)
    if args.out == "-":
        # CRLF ends the rows (RFC 4180), so the csv module quotes every cell holding a CR or an LF:
        # no cell can end a row early or start one of its own
        text = prepare_frame(df).to_csv(index=False, lineterminator="\r\n") if fmt == "csv" else _json_text(df)
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.flush()
        _status(args, f"wrote {len(df):,} {noun} as {fmt.upper()} to stdout")
        return
    path = Path(args.out).expanduser()
    with _writing(args.out):
        if fmt == "csv":
            to_csv(df, path, encoding=args.encoding)
        elif fmt == "json":
            with atomic_path(path) as temp:
                temp.write_text(_json_text(df), encoding="utf-8")
        elif fmt == "xlsx":
            _write_xlsx(df, path, noun)
        else:
            from ..export import write_parquet

            write_parquet(df, path)
    print(f"wrote {len(df):,} {noun} as {fmt.upper()} to {path}")


def _write_xlsx(df: pd.DataFrame, path: Path, noun: str) -> None:
    from ..export import EXCEL_MAX_ROWS, fits_sheet, to_excel

    if not fits_sheet(len(df)):
        raise CommandError(f"{len(df):,} {noun} do not fit in one Excel sheet ({EXCEL_MAX_ROWS:,} rows with the "
                           "header): write .csv or .parquet instead")
    to_excel({"links" if noun == "links" else "stats": df}, path)


# -- the commands ------------------------------------------------------------------------------
def run_links(args: argparse.Namespace) -> int:
    """``jmlink-analytics links``: every link of the app as a table."""
    from ..data import fetch_links

    _table_format(args)  # a bad --out / --format is a usage error before any request
    with _connect(args) as (client, source), _store(args) as store:
        _status(args, f"listing the links of {source}...")
        links = fetch_links(client, store=store)
    _write_table(links, args, "links")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    """``jmlink-analytics stats``: the daily table, with the columns of the report's ``daily.csv``."""
    from ..data import fetch_links, fetch_stats
    from ..report import daily_table

    _table_format(args)  # a bad --out / --format is a usage error before any request
    with _connect(args) as (client, source), _store(args) as store:
        _status(args, f"listing the links of {source}...")
        links = fetch_links(client, store=store)  # names and channels; a mistyped key is named before any stats
        if args.links:
            _check_keys(args.links, links)
        which = f"{len(args.links)} link(s)" if args.links else "every link"
        _status(args, f"fetching daily stats of {which} from {source}: {_span(args)}...")
        stats = fetch_stats(client, args.links, start=args.start, end=args.end, platform=args.platforms,
                            store=store, progress=_progress(args))
    _write_table(daily_table(stats, links), args, "rows")
    return 0


def run_report(args: argparse.Namespace) -> int:
    """``jmlink-analytics report``: fetch, analyse, write the report folder."""
    from ..data import fetch_links, fetch_stats
    from ..report import write_report

    with _connect(args) as (client, source), _store(args) as store:
        _status(args, f"listing the links of {source}...")
        links = fetch_links(client, store=store)
        if args.links:
            _check_keys(args.links, links)
            links = links[links["link_key"].isin(args.links)].reset_index(drop=True)
        keys = list(dict.fromkeys(links["link_key"].dropna()))
        if not keys:
            raise CommandError(f"{source} has no links: there is nothing to report")
        # the N days before the report's N days too: the comparison's previous window, the anomalies' history
        history = args.start - (args.end - args.start + dt.timedelta(days=1))
        _status(args, f"fetching daily stats of {len(keys)} link(s): {_span(args)} (and {history:%Y-%m-%d} "
                      "onwards, to compare with)...")
        stats = fetch_stats(client, keys, start=history, end=args.end, platform=args.platforms,
                            store=store, progress=_progress(args))
    _status(args, f"writing the report to {args.out}...")
    with _writing(args.out):
        written = write_report(stats, links, args.out, encoding=args.encoding, formats=args.format, source=source,
                               period=(args.start, args.end))
    where = f"; open {written['index.html']}" if "index.html" in written else ""
    print(f"wrote {len(written)} files to {args.out}{where}")
    return 0


def _check_keys(keys: list[str], links: pd.DataFrame) -> None:
    """Raise :class:`UsageError` naming every key of ``--links`` the app does not have."""
    unknown = [key for key in keys if key not in set(links["link_key"].dropna().astype(str))]
    if unknown:
        raise UsageError(f"--links: no such link key(s) in the app: {', '.join(unknown)} "
                         "(`jmlink-analytics links` lists them)")


def run_cache(args: argparse.Namespace) -> int:
    """``jmlink-analytics cache info|clear``."""
    from ..data.store import Store, default_path

    path = (args.cache if args.cache is not None else default_path()).expanduser()
    if not path.exists():
        print(f"no cache at {path}" + (" (nothing to clear)" if args.action == "clear" else ""))
        return 0
    with Store(path) as store:
        if args.action == "clear":
            store.clear()
            print(f"cleared the cache {path}")
            return 0
        info = store.info()
    span = f"{info.first_date} to {info.last_date}" if info.first_date else "none"
    print(f"cache: {info.path}\n"
          f"size: {_size(info.size_bytes)}\n"
          f"apps: {info.apps:,}\n"
          f"links: {info.links:,}\n"
          f"stored days (link x platform x day): {info.rows:,}\n"
          f"date span: {span}")
    return 0


def _size(n_bytes: int) -> str:
    size = float(n_bytes)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n_bytes} bytes"  # pragma: no cover
