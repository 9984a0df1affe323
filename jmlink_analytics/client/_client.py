"""``JMLinkClient``: the JMLink REST API over HTTP, and nothing of pandas.

It authenticates and validates every argument before sending; its transport
(:mod:`._transport`) keeps each endpoint's sliding-window rate limit across threads and
processes, retries what is worth retrying, and turns every failure into a typed
:class:`~jmlink_analytics.errors.JMLinkError`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests

from .._dates import DateLike, format_date, to_date
from .._validate import check_base_url, check_credential, check_int, check_link_key, check_platform, path_segment
from ..errors import JMLinkError, MissingCredentialsError, ResponseFormatError, mask_secrets, masking
from ._credentials import BasicAuth, mask_key, open_slots, secret_forms
from ._listing import iter_listing
from ._ratelimit import EndpointLimiter
from ._responses import LinksPage, parse_links_page, parse_stat_rows
from ._transport import DEFAULT_POOL_SIZE, Transport, WaitListener, mount_pool
from .settings import Limits, RateLimits, Retries, Timeouts, replace

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


def _setting(group: str, name: str, doc: str) -> property:
    """A field of one of the transport's settings objects, read and set (checked) through the client."""
    def get(self: JMLinkClient) -> Any:
        value = getattr(getattr(self._transport, group), name)
        return value

    def set_(self: JMLinkClient, value: Any) -> None:
        setattr(self._transport, group, replace(getattr(self._transport, group), name, value))

    return property(get, set_, doc=doc)


def _set_timeout(self: JMLinkClient, value: float | tuple[float, float]) -> None:
    self._transport.timeouts = Timeouts.of(value, self._transport.timeouts.deadline)


class JMLinkClient:
    """A client of the JMLink REST API.

    Parameters
    ----------
    app_key : str
        The app's appKey (the HTTP Basic user name).
    master_secret : str
        The app's masterSecret (the HTTP Basic password). It is never shown in a repr,
        a log line or an exception, in any encoding a server might echo it.
    base_url : str, default "https://api.jmlk.co"
        The API's root. TLS certificates are verified. Redirects to another origin or
        path are refused (the API documents none).
    timeout : float or (float, float) or Timeouts, default 30.0
        Seconds to wait for a connection and for each read. A :class:`Timeouts` gives
        ``deadline`` too.
    deadline : float, default 60.0
        Seconds one request may take in all: connecting, the status line, the headers and
        the last byte of the body (a server that trickles is cut off here); then it counts
        as a timeout and is retried like one.
    max_retries : int or Retries, default 5
        How many times a request that failed for a passing reason (3011, a 5xx without
        JSON, a timeout, a refused or reset connection) is sent again; 3006 answers are
        waited out and retried up to the same number of times. Other errors are final. A
        :class:`Retries` gives the backoff settings too.
    rate_limits : mapping or RateLimits, optional
        ``{"links": (calls, seconds), "stats": (calls, seconds)}``; the documented
        ``{"links": (100, 60), "stats": (500, 60)}`` by default. Kept across all threads using
        this client (and, with ``shared_limits``, all clients of the appKey on this machine).
    session : requests.Session, optional
        A session to send with; it is used as is and never closed by the client (its own
        adapters: the deadline is then checked between reads of the body only). The
        environment's proxy settings (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``,
        ``REQUESTS_CA_BUNDLE``) are read once, when the client is made; the session's own
        headers, auth, cookies and proxies are taken as they are at each request.
    backoff_factor : float, default 0.5
        The first retry waits about this many seconds, doubling on each retry.
    backoff_max : float, default 30.0
        The longest wait between two retries.
    shared_limits : bool or path, default True
        ``True``: every client of this appKey and base URL on this machine, in any number of
        processes, shares one budget, kept in a small SQLite file in the user cache folder
        (``platformdirs.user_cache_dir("jmlink-analytics")``) named after a hash of the
        appKey and base URL (never the secret). A path: the folder to keep that file in
        instead. ``False``: this client counts only its own requests.
    max_answer_bytes : int, default 16 MiB
        The largest answer read, counted after decoding (gzip) and enforced while reading;
        a larger one is a :class:`~jmlink_analytics.errors.ResponseFormatError` naming the
        limit.

    Notes
    -----
    Under ``rate_limits``, no trailing window of ``seconds`` ever holds more than ``calls``
    requests of that endpoint as the server counts them: a request holds its slot from when
    it is sent until ``seconds`` after its answer arrived. The default ``max_answer_bytes``
    holds a 500-record page or a 3,660-day answer 40 times over.

    Examples
    --------
    With ``JMLINK_APP_KEY`` and ``JMLINK_MASTER_SECRET`` set (and ``JMLINK_BASE_URL``, here a
    :class:`~jmlink_analytics.Sandbox`'s):

    >>> with jm.JMLinkClient.from_env() as client:
    ...     page = client.get_links_page(page_size=50)
    ...     rows = client.get_link_stats(page.records[-1]["link_key"], "2024-06-01", "2024-06-07")
    >>> page
    LinksPage(total=12, records=<12 records>)
    >>> len(rows), rows[0]
    (7, {'iday': '2024-06-01', 'exposure_count': 1802, 'click_count': 380, 'open_count': 216, 'install_count': 36})
    """

    timeout = property(lambda self: self._transport.timeouts.timeout, _set_timeout,
                       doc="Seconds to wait for a connection and each read (a number or a (connect, read) pair).")
    deadline = _setting("timeouts", "deadline", "Seconds one request may take in all.")
    max_retries = _setting("retries", "max_retries", "Retries of a request that failed for a passing reason.")
    backoff_factor = _setting("retries", "backoff_factor", "About the first retry's wait, in seconds.")
    backoff_max = _setting("retries", "backoff_max", "The longest wait between two retries, in seconds.")
    max_answer_bytes = _setting("limits", "max_answer_bytes", "The largest answer read, after decoding.")

    def __init__(
        self,
        app_key: str,
        master_secret: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | tuple[float, float] | Timeouts = 30.0,
        deadline: float = 60.0,
        max_retries: int | Retries = 5,
        rate_limits: Mapping[str, tuple[int, float]] | RateLimits | None = None,
        session: requests.Session | None = None,
        backoff_factor: float = 0.5,
        backoff_max: float = 30.0,
        shared_limits: bool | str | os.PathLike[str] = True,
        max_answer_bytes: int = Limits.max_answer_bytes,
    ):
        for value, name in ((app_key, "app_key"), (master_secret, "master_secret")):
            if not isinstance(value, str) or not value.strip():
                raise MissingCredentialsError(
                    f"{name} must be a non-empty string (set JMLINK_APP_KEY and JMLINK_MASTER_SECRET)"
                )
            check_credential(value, name)
        self.base_url = check_base_url(base_url)
        timeouts = timeout if isinstance(timeout, Timeouts) else Timeouts.of(timeout, deadline)
        retries = max_retries if isinstance(max_retries, Retries) else Retries(max_retries, backoff_factor,
                                                                                backoff_max)
        limits = RateLimits.of(rate_limits)
        answer_limits = Limits(max_answer_bytes)
        self.rate_limits = limits.as_dict()
        self.app_key = app_key
        self._auth = BasicAuth(app_key, master_secret)
        #: What a server might echo back and must never reach a message or a log line.
        self._secrets = secret_forms(app_key, master_secret)
        self._slots = open_slots(app_key, self.base_url, shared_limits)
        limiters = {name: EndpointLimiter(name, calls, seconds, self._slots, hold=timeouts.deadline)
                    for name, (calls, seconds) in self.rate_limits.items()}
        owns_session = session is None
        if session is None:
            session = requests.Session()
            mount_pool(session, DEFAULT_POOL_SIZE)
        self.session = session
        self._transport = Transport(self.base_url, session, self._auth, timeouts=timeouts, retries=retries,
                                    limits=answer_limits, limiters=limiters, owns_session=owns_session)

    # -- what the data layer needs besides the endpoints (the DataClient protocol) --------------
    def reserve(self, workers: int) -> None:
        """Make room for ``workers`` requests at once (the client's own connection pool grows to match).

        Parameters
        ----------
        workers : int
            Requests that will be in flight together (``fetch_stats``' ``max_workers``).
        """
        self._transport.reserve(check_int(workers, "workers", 1))

    def observing_waits(self, listener: WaitListener) -> contextlib.AbstractContextManager[None]:
        """Within the block, call ``listener(text, seconds)`` whenever a long wait begins.

        Parameters
        ----------
        listener : callable
            ``listener(text, seconds)``: a wait of ``seconds`` for the rate limit or a
            server's ``Retry-After`` begins, described by ``text`` (e.g. a progress bar's
            text). Called from the threads that wait; an exception it raises is logged
            and ignored.

        Returns
        -------
        context manager
        """
        if not callable(listener):
            raise TypeError(f"listener must be callable (text, seconds); got {type(listener).__name__}")
        return self._transport.listening(listener)

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}(app_key={mask_key(self.app_key)!r}, base_url={self.base_url!r})"

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
        page: LinksPage = self._call("links", "/v1/links", {"page_index": page_index, "page_size": page_size},
                                     parse_links_page, where=f"GET /v1/links page {page_index}")
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
        return self._masked(iter_listing(self.get_links_page, page_size))

    def _masked(self, records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        # the listing's own checks quote ids and keys the server sent: mask them like _call's
        try:
            yield from records
        except JMLinkError as exc:
            _set_message(exc, mask_secrets(exc.message, self._secrets))
            raise

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
        rows: list[dict[str, Any]] = self._call(
            "stats", f"/v1/links/{path_segment(link_key)}/stat", params,
            lambda body: parse_stat_rows(body, link_key=link_key, platform=platform, start=start, end=end),
            where=f"stat answer of link {link_key!r}, platform {platform!r}")
        return rows

    def _call(self, endpoint: str, path: str, params: dict[str, Any], parse: Callable[[Any], Any],
              where: str | None = None) -> Any:
        """One GET through the transport and ``parse`` of its JSON, with the credentials masked in every error.

        ``where`` (e.g. "link 'AAAA', platform 'ios'") is put before the message of a
        :class:`ResponseFormatError` of the transport, so an unreadable answer names what was
        asked (``parse`` names it itself). The check of the answer runs inside the masking
        too: a record's value quoted in its message may carry an echoed secret.
        """
        with masking(self._secrets):
            try:
                try:
                    body = self._transport.get(endpoint, path, params)
                except ResponseFormatError as exc:
                    if where is not None:
                        _set_message(exc, f"{where}: {exc.message}")
                    raise
                return parse(body)
            except JMLinkError as exc:
                _set_message(exc, mask_secrets(exc.message, self._secrets))
                raise


def _set_message(error: JMLinkError, message: str) -> None:
    if message != error.message:
        error.message = message
        error.args = (message,)
