"""``JMLinkClient``: the JMLink REST API over HTTP, and nothing of pandas.

It authenticates and validates every argument before sending; its transport
(:mod:`._transport`) keeps each endpoint's sliding-window rate limit across threads and
processes, retries what is worth retrying, and turns every failure into a typed
:class:`~jmlink_analytics.errors.JMLinkError`.
"""

from __future__ import annotations

import base64
import logging
import math
import os
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from .._dates import DateLike, format_date, to_date
from .._validate import (
    check_base_url,
    check_credential,
    check_finite,
    check_int,
    check_link_key,
    check_platform,
    path_segment,
)
from .._version import __version__
from ..errors import JMLinkError, MissingCredentialsError, ResponseFormatError, mask_secrets, masking
from ._listing import iter_listing
from ._ratelimit import EndpointLimiter, SlotTable, normalize_rate_limits, shared_limits_path
from ._responses import LinksPage, parse_links_page, parse_stat_rows
from ._transport import DEFAULT_POOL_SIZE, Transport, mount_pool

__all__ = [
    "DEFAULT_BASE_URL",
    "JMLinkClient",
    "LinksPage",
    "MissingCredentialsError",
    "check_link_key",
    "check_platform",
]

logger = logging.getLogger("jmlink_analytics")

DEFAULT_BASE_URL = "https://api.jmlk.co"
MAX_PAGE_SIZE = 500


class _BasicAuth(requests.auth.HTTPBasicAuth):
    """HTTP Basic auth whose repr never shows the secret."""

    def __repr__(self) -> str:
        return f"<BasicAuth app_key={_mask(self.username)} master_secret=***>"


def _mask(value: str) -> str:
    return value if len(value) <= 8 else f"{value[:4]}…{value[-4:]}"


def _setting(name: str) -> property:
    """A retry or timeout setting of the client, kept by its transport (read and set through the client)."""
    return property(lambda self: getattr(self._transport, name),
                    lambda self, value: setattr(self._transport, name, value),
                    doc=f"The ``{name}`` the client was built with (see :class:`JMLinkClient`).")


class JMLinkClient:
    """A client of the JMLink REST API.

    Parameters
    ----------
    app_key : str
        The app's appKey (the HTTP Basic user name).
    master_secret : str
        The app's masterSecret (the HTTP Basic password). It is never shown in a repr,
        a log line or an exception.
    base_url : str, default "https://api.jmlk.co"
        The API's root. TLS certificates are verified.
    timeout : float or (float, float), default 30.0
        Seconds to wait for a connection and for each read.
    deadline : float, default 60.0
        Seconds one request may take in all, from sending it to the last byte of its
        answer (a server that trickles its answer is cut off here); then it counts as a
        timeout and is retried like one.
    max_retries : int, default 5
        How many times a request that failed for a passing reason (3011, a 5xx without
        JSON, a timeout, a refused or reset connection) is sent again; 3006 answers are
        waited out and retried up to the same number of times. Other errors are final.
    rate_limits : mapping, optional
        ``{"links": (calls, seconds), "stats": (calls, seconds)}``; the documented
        ``{"links": (100, 60), "stats": (500, 60)}`` by default. No trailing window of
        ``seconds`` ever holds more than ``calls`` requests of that endpoint as the server
        counts them: a request holds its slot from when it is sent until ``seconds`` after
        its answer arrived, across all threads using this client (and, with
        ``shared_limits``, all clients of the appKey on this machine).
    shared_limits : bool or path, default True
        ``True``: every client of this appKey and base URL on this machine, in any number of
        processes, shares one budget, kept in a small SQLite file in the user cache folder
        (``platformdirs.user_cache_dir("jmlink-analytics")``) named after a hash of the
        appKey and base URL (never the secret). A path: the folder to keep that file in
        instead. ``False``: this client counts only its own requests.
    session : requests.Session, optional
        A session to send with; it is used as is and never closed by the client.
    backoff_factor : float, default 0.5
        The first retry waits about this many seconds, doubling on each retry.
    backoff_max : float, default 30.0
        The longest wait between two retries.

    Examples
    --------
    >>> with JMLinkClient.from_env() as client:                  # doctest: +SKIP
    ...     page = client.get_links_page(page_size=50)
    ...     rows = client.get_link_stats(page.records[0]["link_key"], "2024-05-01", "2024-05-07")
    """

    timeout = _setting("timeout")
    deadline = _setting("deadline")
    max_retries = _setting("max_retries")
    backoff_factor = _setting("backoff_factor")
    backoff_max = _setting("backoff_max")

    def __init__(
        self,
        app_key: str,
        master_secret: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | tuple[float, float] = 30.0,
        deadline: float = 60.0,
        max_retries: int = 5,
        rate_limits: Mapping[str, tuple[int, float]] | None = None,
        session: requests.Session | None = None,
        backoff_factor: float = 0.5,
        backoff_max: float = 30.0,
        shared_limits: bool | str | os.PathLike[str] = True,
    ):
        for value, name in ((app_key, "app_key"), (master_secret, "master_secret")):
            if not isinstance(value, str) or not value.strip():
                raise MissingCredentialsError(
                    f"{name} must be a non-empty string (set JMLINK_APP_KEY and JMLINK_MASTER_SECRET)"
                )
            check_credential(value, name)
        self.base_url = check_base_url(base_url)
        timeout = self._check_timeout(timeout)
        check_int(max_retries, "max_retries", 0)
        for value, name in ((backoff_factor, "backoff_factor"), (backoff_max, "backoff_max")):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
        if isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or not 0 < deadline < math.inf:
            raise ValueError(f"deadline must be a finite number of seconds > 0; got {deadline!r}")
        for name, value in rate_limits.items() if isinstance(rate_limits, Mapping) else ():
            for number in value if isinstance(value, (tuple, list)) else ():  # the limiter would take inf, NaN
                check_finite(number, f"rate_limits[{name!r}]")
        self.rate_limits = normalize_rate_limits(rate_limits)
        self.app_key = app_key
        self._auth = _BasicAuth(app_key, master_secret)
        token = base64.b64encode(f"{app_key}:{master_secret}".encode("latin-1")).decode("ascii")
        #: What a server might echo back and must never reach a message or a log line.
        self._secrets = tuple(dict.fromkeys(
            (f"Basic {token}", token, token.rstrip("="), master_secret, quote(master_secret, safe=""))))
        self._slots = self._open_slots(shared_limits)
        limiters = {name: EndpointLimiter(name, calls, seconds, self._slots, hold=float(deadline))
                    for name, (calls, seconds) in self.rate_limits.items()}
        owns_session = session is None
        if session is None:
            session = requests.Session()
            mount_pool(session, DEFAULT_POOL_SIZE)
        self.session = session
        self._headers = {"User-Agent": f"jmlink-analytics/{__version__} (+python-requests)",
                         "Accept": "application/json"}
        self._transport = Transport(
            base_url=self.base_url, session=session, owns_session=owns_session, auth=self._auth,
            headers=self._headers, timeout=timeout, deadline=float(deadline), max_retries=max_retries,
            backoff_factor=float(backoff_factor), backoff_max=float(backoff_max), rate_limits=self.rate_limits,
            limiters=limiters)

    def _open_slots(self, shared_limits: Any) -> SlotTable:
        """The rate-limit slots: this client's own, or the appKey's file shared by every process."""
        if shared_limits is False:
            return SlotTable()
        if shared_limits is True:
            path = shared_limits_path(self.app_key, self.base_url)
            try:
                return SlotTable(path)
            except (OSError, sqlite3.Error) as exc:
                logger.warning("cannot share the rate limits through %s (%s); this client counts only its own "
                               "requests", path, exc)
                return SlotTable()
        if not isinstance(shared_limits, (str, os.PathLike)) or not str(shared_limits):
            raise TypeError(f"shared_limits must be True, False or a folder path; got {shared_limits!r}")
        path = shared_limits_path(self.app_key, self.base_url, Path(shared_limits).expanduser())
        try:
            return SlotTable(path)
        except (OSError, sqlite3.Error) as exc:
            raise ValueError(f"shared_limits must be a folder where a file can be written; got "
                             f"{str(shared_limits)!r} ({exc})") from None

    # -- construction helpers -------------------------------------------------------------
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> JMLinkClient:
        """Build a client from ``JMLINK_APP_KEY``, ``JMLINK_MASTER_SECRET`` and ``JMLINK_BASE_URL``.

        Parameters
        ----------
        environ : mapping, optional
            Where to read the variables; ``os.environ`` by default.
        **kwargs
            Passed on to :class:`JMLinkClient` (``base_url`` overrides ``JMLINK_BASE_URL``).

        Raises
        ------
        MissingCredentialsError
            When either credential variable is unset or empty.
        """
        env = os.environ if environ is None else environ
        app_key = env.get("JMLINK_APP_KEY", "").strip()
        secret = env.get("JMLINK_MASTER_SECRET", "").strip()
        missing = [name for name, value in (("JMLINK_APP_KEY", app_key), ("JMLINK_MASTER_SECRET", secret))
                   if not value]
        if missing:
            raise MissingCredentialsError(
                f"missing credentials: set {' and '.join(missing)} "
                "(the appKey and masterSecret shown in the JMLink web console)"
            )
        if env.get("JMLINK_BASE_URL") and "base_url" not in kwargs:
            kwargs["base_url"] = env["JMLINK_BASE_URL"]
        return cls(app_key, secret, **kwargs)

    @staticmethod
    def _check_timeout(timeout: Any) -> float | tuple[float, float]:
        values = timeout if isinstance(timeout, tuple) else (timeout,)
        if len(values) not in (1, 2) or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf for v in values
        ):
            raise ValueError(f"timeout must be a number of seconds > 0 or a (connect, read) pair; got {timeout!r}")
        return timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}(app_key={_mask(self.app_key)!r}, base_url={self.base_url!r})"

    def __enter__(self) -> JMLinkClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the client's connections (an injected session is left open)."""
        if self._transport.owns_session:
            self.session.close()
        self._slots.close()

    # -- endpoints --------------------------------------------------------------------------
    def get_links_page(self, page_index: int = 1, page_size: int = 20) -> LinksPage:
        """Fetch one page of the app's short links (``GET /v1/links``).

        Parameters
        ----------
        page_index : int, default 1
            The page number, from 1.
        page_size : int, default 20
            Records per page, from 1 to 500.

        Returns
        -------
        LinksPage
            ``total`` (links of the app) and the page's ``records``.
        """
        check_int(page_index, "page_index", 1)
        check_int(page_size, "page_size", 1, MAX_PAGE_SIZE)
        body = self._call("links", "/v1/links", {"page_index": page_index, "page_size": page_size})
        page = parse_links_page(body)
        if len(page.records) > page_size:
            raise ResponseFormatError(f"GET /v1/links: page {page_index} holds {len(page.records)} records; "
                                      f"at most page_size={page_size} were asked for")
        return page

    def iter_links(self, page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Yield every link of the app exactly once, paging through the listing.

        The listing is live and its order undocumented, so records are de-duplicated on
        ``id``. While paging, links may be deleted or added: a deletion before the current page
        shifts a link onto a page already read, an insertion shifts one onto the next page
        again. A shift shows as a ``total`` that changed between pages or a link seen at
        another place in the listing; then the listing is read again from page 1, until a
        pass shows no shift or brings no new link. So no link that existed throughout is
        lost. It never reads more than ``3 * ceil(total / page_size) + 2`` pages (``total``
        of the first page). See :mod:`._listing`.

        Parameters
        ----------
        page_size : int, default 500
            Records per request, from 1 to 500.

        Raises
        ------
        ResponseFormatError
            When a page within the promised total is empty, a first pass's page brings no new
            link though the total did not change, a pass without a shift brings fewer links
            than its total, or the page budget is spent (after yielding the links that came).
        """
        check_int(page_size, "page_size", 1, MAX_PAGE_SIZE)
        return iter_listing(self.get_links_page, page_size)

    def get_link_stats(
        self, link_key: str, start_date: DateLike, end_date: DateLike, platform: str = "all"
    ) -> list[dict[str, Any]]:
        """Fetch the daily statistics of one link (``GET /v1/links/{link_key}/stat``).

        Parameters
        ----------
        link_key : str
            The link's key, sent URL-encoded as one path segment.
        start_date, end_date : str, date, datetime or pandas.Timestamp
            The first and last day, inclusive (``"yyyy-MM-dd"`` strings accepted).
        platform : {"all", "ios", "android"}, default "all"

        Returns
        -------
        list of dict
            The API's rows: ``iday`` and the four counters. Days without activity may be
            missing; the data layer fills them.
        """
        check_link_key(link_key)
        start = to_date(start_date, "start_date")
        end = to_date(end_date, "end_date")
        if start > end:
            raise ValueError(f"start_date must not be after end_date; got {start} > {end}")
        check_platform(platform)
        params = {"start_date": format_date(start), "end_date": format_date(end), "platform": platform}
        body = self._call("stats", f"/v1/links/{path_segment(link_key)}/stat", params,
                          where=f"stat answer of link {link_key!r}, platform {platform!r}")
        return parse_stat_rows(body, link_key=link_key, platform=platform, start=start, end=end)

    def _call(self, endpoint: str, path: str, params: dict[str, Any], where: str | None = None) -> Any:
        """One GET through the transport, with the credentials masked in every error built or raised on the way.

        ``where`` (e.g. "link 'AAAA', platform 'ios'") is put before the message of a
        :class:`ResponseFormatError`, so an unreadable answer names what was asked.
        """
        with masking(self._secrets):
            try:
                return self._transport.get(endpoint, path, params)
            except JMLinkError as exc:
                message = mask_secrets(exc.message, self._secrets)
                if where is not None and isinstance(exc, ResponseFormatError):
                    message = f"{where}: {message}"
                if message != exc.message:
                    exc.message = message
                    exc.args = (message,)
                raise

