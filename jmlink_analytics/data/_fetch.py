"""``fetch_links`` / ``fetch_stats``: the API's records as typed pandas DataFrames.

``fetch_stats`` fans the stat requests of many links out over a thread pool; the client
keeps each endpoint's rate limit across those threads, so a large fetch runs at the limit.
With a :class:`~jmlink_analytics.store.Store`, only days never fetched and days that could
still change are requested, and every answer is stored as it arrives, so an interrupted
run (an error, Ctrl-C) resumes where it stopped.

This module knows pandas and the store, and nothing of HTTP.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import numpy as np
import pandas as pd
from tqdm.auto import tqdm as auto_tqdm
from tqdm.std import tqdm as text_tqdm

from .._dates import DateLike, china_today, to_date
from .._validate import check_int, check_link_keys, check_platforms
from ..client import DataClient
from ..schema import COUNTERS, PLATFORMS
from ._fanout import run_tasks
from ._frames import counters_from_rows, links_frame, stats_frame
from ._spans import SpanCap, fetch_in_spans
from .store import Store

__all__ = ["fetch_links", "fetch_stats"]

logger = logging.getLogger("jmlink_analytics")

_ERRORS = ("raise", "warn")
#: Concurrent requests by default. Measured (benchmarks/bench_fetch.py): with 8 workers a fetch
#: at 500 calls / 60 s and 150 ms latency took 1.17 x the rate-limit floor, with 32 it sits on
#: it; a window's calls must leave within a few round trips.
DEFAULT_MAX_WORKERS = 32
#: ``progress=None`` shows a bar when more than this many requests are needed.
SHOW_BAR_ABOVE = 8
_LISTED_IN_WARNING = 20  # failed link keys named in the warning (all of them are in df.attrs["failed"])


class _Task(NamedTuple):
    """One request: days ``offset .. offset + n_days - 1`` of link ``key`` on ``platform``."""

    key: int
    platform: int
    offset: int
    n_days: int


def fetch_links(client: DataClient, *, store: Store | None = None) -> pd.DataFrame:
    """Fetch every short link of the app as a typed DataFrame.

    Parameters
    ----------
    client : JMLinkClient or DataClient
        The client to list links with (``client.iter_links()``).
    store : Store, optional
        A cache: its link listing is reused while younger than ``store.max_age``,
        otherwise the links are listed again and the listing is saved.

    Returns
    -------
    pandas.DataFrame
        One row per link (unique ``id``), in the order the API listed them, with the
        API's columns in the API's order: ``id`` (int64), ``link_key``, ``name`` (string),
        ``channel``, ``app_domain`` (category), ``share_title``, ``share_desc``,
        ``android_uri``, ``ios_uri`` (string), ``jump_link_type`` (category),
        ``landing_page`` (string), ``create_time``, ``update_time`` (datetime64[ns],
        China local time as sent). JSON ``null`` is missing, ``""`` stays ``""``. An app
        without links gives an empty frame with the same columns and dtypes.

    Examples
    --------
    >>> links = jm.fetch_links(client)
    >>> links.groupby("channel", observed=True).size().to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'B站': 1, 'QQ': 2, '小红书': 1, '微信': 2, '抖音': 2, '朋友圈': 1, '百度': 1, '知乎': 1, '短信': 1}
    """
    _check_client(client)
    _check_store(store)
    records = None if store is None else store.load_links(client.app_key, client.base_url)
    if records is None:
        records = list(client.iter_links())
        if store is not None:
            store.save_links(client.app_key, client.base_url, records)
    else:
        logger.debug("fetch_links: %d links from the cache", len(records))
    return links_frame(records)


def fetch_stats(
    client: DataClient,
    link_keys: Sequence[str] | pd.Series | pd.Index | str | None = None,
    *,
    start: DateLike,
    end: DateLike | None = None,
    platform: str | Sequence[str] = "all",
    store: Store | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
    progress: bool | None = None,
    errors: str = "raise",
) -> pd.DataFrame:
    """Fetch daily statistics of many links as one tidy DataFrame.

    Parameters
    ----------
    client : JMLinkClient or DataClient
        The client; its rate limits hold across all worker threads.
    link_keys : list, tuple, set, Series, Index, numpy array or str, optional
        The links (duplicates ignored; one string means one link). ``None``: every link
        of the app (listed with :func:`fetch_links`, through ``store`` when given).
    start, end : str, date, datetime or pandas.Timestamp
        The first and last day, inclusive; ``end=None`` means today in China time (UTC+8).
    platform : {"all", "ios", "android"} or list of them, default "all"
    store : Store, optional
        A cache: only days never fetched, and days fetched while they could still change,
        are requested; every answer is stored as it arrives.
    max_workers : int, default 32
        The most concurrent requests (the client's connection pool grows to match); the client's
        rate limits hold whatever the number, and 32 keeps a fetch on their floor
        (``benchmarks/README.md``). Threads are added only while the running ones mostly wait
        (the network, the rate limit): answers that come at once, from a local server, are
        decoded on one thread, since more would only queue for the GIL.
    progress : bool or None, default None
        ``None`` shows a progress bar (a notebook bar under Jupyter, a text bar on stderr
        elsewhere) when more than 8 requests are needed; ``True`` always; ``False`` never.
        While the fetch waits for the rate limit (or a server's ``Retry-After``), the bar's
        text says so and for how long.
    errors : {"raise", "warn"}, default "raise"
        ``"raise"``: on the first failed request, pending requests are dropped, in-flight
        ones end (and are stored), then that :class:`~jmlink_analytics.JMLinkError` is
        raised. ``"warn"``: links with a failed request are left out, one warning names
        them, and ``df.attrs["failed"]`` maps each to its error message.

    Returns
    -------
    pandas.DataFrame
        One row per (``link_key``, ``platform``, ``date``) for every date from ``start`` to
        ``end`` (days the API left out are 0), sorted by those three, with a RangeIndex:
        ``link_key`` (category, the sorted keys), ``platform`` (category with the
        categories ``all``, ``ios``, ``android`` whatever was requested), ``date``
        (datetime64[ns]), ``exposure_count``, ``click_count``, ``open_count``,
        ``install_count`` (int64), ``is_partial`` (bool: today or yesterday in China time,
        the day may still change). ``df.attrs["failed"]`` is ``{}`` when nothing failed.

    Raises
    ------
    ValueError, TypeError
        For a bad argument, before any request is sent.
    JMLinkError
        With ``errors="raise"``, the first failed request's error; also when listing the
        links for ``link_keys=None`` fails.

    Examples
    --------
    >>> stats = jm.fetch_stats(client, start="2024-06-01", end="2024-06-30", platform=["ios", "android"])
    >>> stats.groupby("platform", observed=True)["click_count"].sum().to_dict()
    {'ios': 13045, 'android': 13291}
    """
    _check_client(client)
    selected = check_link_keys(link_keys)
    today = china_today()
    first = to_date(start, "start")
    last = today if end is None else to_date(end, "end")
    if first > last:
        raise ValueError(f"start must not be after end; got start={first} > end={last}")
    platforms = check_platforms(platform)
    max_workers = check_int(max_workers, "max_workers", 1)
    if not isinstance(errors, str) or errors not in _ERRORS:
        raise ValueError(f"errors must be 'raise' or 'warn'; got {errors!r}")
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be None, True or False; got {progress!r}")
    _check_store(store)

    keys: list[str] = (sorted(set(fetch_links(client, store=store)["link_key"].dropna())) if selected is None
                       else selected)
    started = time.monotonic()
    n_days = (last - first).days + 1
    partial_from = today - dt.timedelta(days=1)
    cube = np.zeros((len(COUNTERS), len(keys), len(platforms), n_days), dtype=np.int64)
    have = np.zeros((len(keys), len(platforms), n_days), dtype=bool)
    if store is not None and keys:
        _load_cached(store, client, keys, platforms, first, last, cube, have)
    tasks = _missing_ranges(have)
    logger.info("fetch_stats: %d links x %d platforms x %d days: %d requests (%d of %d days cached)",
                len(keys), len(platforms), n_days, len(tasks), int(have.sum()), have.size)

    spans = SpanCap()

    def work(task: _Task) -> np.ndarray:
        key, platform_name = keys[task.key], platforms[task.platform]
        day0 = first + dt.timedelta(days=task.offset)

        def ask(offset: int, n: int) -> np.ndarray:
            day = day0 + dt.timedelta(days=offset)
            rows = client.get_link_stats(key, day, day + dt.timedelta(days=n - 1), platform_name)
            counters = counters_from_rows(rows, day, n, link_key=key, platform=platform_name)
            if store is not None:
                final = (np.arange(n) + (day - partial_from).days) < 0
                store.save_days(client.app_key, client.base_url, key, platform_name, day, counters, final)
            return counters

        pieces = [cast(np.ndarray, counters) for _, counters in fetch_in_spans(task.n_days, spans, ask)]
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=1)

    failed: dict[str, str] = {}
    client.reserve(max(1, min(max_workers, len(tasks))))

    def consume(task: _Task, counters: np.ndarray) -> None:  # on the worker threads: disjoint slices
        cube[:, task.key, task.platform, task.offset:task.offset + task.n_days] = counters

    with _progress_bar(len(tasks), progress) as bar, client.observing_waits(bar.waiting):
        run_tasks(tasks, work, consume, max_workers=max_workers, errors=errors, failed=failed,
                  key_of=lambda t: keys[t.key], done=bar.update)
    if spans.fails is not None:
        logger.info("fetch_stats: the API refused ranges over %d days; asked in spans of %d", spans.fails - 1,
                    spans.works)
    if failed:
        keep = [i for i, key in enumerate(keys) if key not in failed]
        cube, keys = cube[:, keep], [keys[i] for i in keep]
        names = sorted(failed)
        listed = ", ".join(names[:_LISTED_IN_WARNING]) + (", …" if len(names) > _LISTED_IN_WARNING else "")
        warnings.warn(f"fetch_stats: {len(names)} link(s) failed and are left out: {listed} "
                      "(df.attrs['failed'] has each error)", UserWarning, stacklevel=2)
    frame = stats_frame(keys, platforms, first, cube, partial_from)
    frame.attrs["failed"] = failed
    logger.info("fetch_stats: %d rows in %.1f s", len(frame), time.monotonic() - started)
    return frame


# -- the tasks ------------------------------------------------------------------------------
def _missing_ranges(have: np.ndarray) -> list[_Task]:
    """One task per run of consecutive days not in ``have`` (shape links x platforms x days)."""
    n_keys, n_platforms, n_days = have.shape
    missing = np.zeros((n_keys * n_platforms, n_days + 2), dtype=np.int8)
    missing[:, 1:-1] = ~have.reshape(n_keys * n_platforms, n_days)
    steps = np.diff(missing, axis=1)
    rows, starts = np.nonzero(steps == 1)
    _, stops = np.nonzero(steps == -1)
    return [_Task(int(r // n_platforms), int(r % n_platforms), int(a), int(b - a))
            for r, a, b in zip(rows, starts, stops, strict=True)]


def _load_cached(store: Store, client: DataClient, keys: list[str], platforms: list[str], first: dt.date,
                 last: dt.date, cube: np.ndarray, have: np.ndarray) -> None:
    """Fill ``cube`` with stored days and mark the final ones in ``have``."""
    block = store.load_days(client.app_key, client.base_url, keys, platforms, first, last)
    position = np.full(len(PLATFORMS), -1, dtype=np.int64)
    position[[PLATFORMS.index(p) for p in platforms]] = np.arange(len(platforms))
    local = position[block.platform]
    cube[:, block.key_index, local, block.offset] = block.counters
    have[block.key_index, local, block.offset] = block.final


# -- the progress bar ------------------------------------------------------------------------
class _Bar:
    """A tqdm bar (or nothing) that also shows, in its text, a long wait in progress, counting down."""

    def __init__(self, bar: Any = None):
        self._bar = bar
        self._wait_ends = 0.0
        self._wait_text = ""
        self._ticker: threading.Thread | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, n: int = 1) -> None:
        if self._bar is None:
            return
        with self._lock:
            if self._wait_ends and time.monotonic() >= self._wait_ends:
                self._wait_ends = 0.0
                self._bar.set_postfix_str("", refresh=False)
        self._bar.update(n)

    def waiting(self, text: str, seconds: float) -> None:
        """A wait of ``seconds`` begins (called from worker threads): say so, counting down, until it is over.

        The first ``waiting N s`` of ``text`` is rewritten every :data:`_TICK_S` seconds with the
        seconds left, by a daemon thread that ends with the wait.
        """
        if self._bar is None:
            return
        with self._lock:
            ends = time.monotonic() + seconds
            if ends <= self._wait_ends - 0.5:
                return  # a longer wait is already shown
            self._wait_ends, self._wait_text = ends, text
            self._show_wait()
            if self._ticker is None or not self._ticker.is_alive():
                self._ticker = threading.Thread(target=self._tick, name="jmlink-progress-wait", daemon=True)
                self._ticker.start()

    def _show_wait(self) -> None:
        """Show the wait's text with the seconds left (the lock held)."""
        left = max(1, math.ceil(self._wait_ends - time.monotonic()))
        self._bar.set_postfix_str(_COUNTDOWN.sub(f"waiting {left} s", self._wait_text, count=1))

    def _tick(self) -> None:
        while True:
            time.sleep(_TICK_S)
            with self._lock:
                if not self._wait_ends or getattr(self._bar, "disable", False):  # over, or the bar is closed
                    return
                if time.monotonic() >= self._wait_ends:
                    self._wait_ends = 0.0
                    self._bar.set_postfix_str("")
                    return
                self._show_wait()


#: The part of a wait's text that counts down, and how often it does.
_COUNTDOWN = re.compile(r"waiting \d+ s")
_TICK_S = 0.25


def _progress_bar(total: int, progress: bool | None) -> _Bar:
    """``tqdm.auto`` (the notebook bar under Jupyter), or the text bar on stderr when that cannot be built."""
    if not (total > SHOW_BAR_ABOVE if progress is None else progress):
        return _Bar()
    options = {"total": total, "desc": "jmlink stats", "unit": "req", "dynamic_ncols": True}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TqdmExperimentalWarning, and "IProgress not found"
            return _Bar(auto_tqdm(**options))
    except Exception as exc:  # e.g. ImportError: IProgress not found (ipywidgets missing or too old)
        logger.debug("notebook progress bar unavailable (%s); using the text bar", exc)
        return _Bar(text_tqdm(file=sys.stderr, **options))


# -- argument checks ------------------------------------------------------------------------
def _check_client(client: Any) -> None:
    if not isinstance(client, DataClient):  # its members, by name (typing.runtime_checkable)
        missing = [name for name in ("app_key", "base_url", "get_links_page", "iter_links", "get_link_stats",
                                     "reserve", "observing_waits") if not hasattr(client, name)]
        raise TypeError(f"client must be a jmlink_analytics.JMLinkClient (e.g. JMLinkClient.from_env()) or "
                        f"implement jmlink_analytics.client.DataClient; got {type(client).__name__} without "
                        f"{', '.join(missing)}")


def _check_store(store: Any) -> None:
    if store is not None and not isinstance(store, Store):
        raise TypeError(f"store must be a jmlink_analytics.Store or None; got {type(store).__name__}")


