"""One GET on the wire: rate limit, deadline, size cap, redirects, retries, and every failure typed.

:class:`Transport` is the HTTP half of :class:`~jmlink_analytics.client.JMLinkClient`. For
each request it takes a slot of the endpoint's window (held until the answer arrives, see
:mod:`._ratelimit`), sends, reads the answer within the request's overall deadline and size
cap, parses it once (:mod:`._decode`), and either returns the JSON or decides from the typed
error's ``retryable``: wait and retry (3006, 3011, 5xx, timeouts, resets), or raise. Whatever
requests, urllib3 or the socket raise becomes a :class:`~jmlink_analytics.errors.JMLinkError`,
so one failed link never ends a whole fetch.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import math
import random
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions

from .._version import __version__
from ..errors import JMLinkError, RateLimitError, ResponseFormatError, TransportError
from ._deadline import DeadlineAdapter, watch
from ._decode import decode_answer
from ._prepared import Prepared
from ._ratelimit import REPORT_WAITS_FROM_S, EndpointLimiter, Slot
from .settings import Limits, Retries, Timeouts

__all__ = ["DEFAULT_POOL_SIZE", "MAX_REDIRECTS", "Transport", "WaitListener", "mount_pool"]

logger = logging.getLogger("jmlink_analytics")

_sleep = time.sleep  # one seam, so tests and cassette replay can make waits instant

#: Connections kept per host: the default ``max_workers`` of ``fetch_stats``.
DEFAULT_POOL_SIZE = 32
#: Redirects followed when they keep the origin and the path (the API documents none).
MAX_REDIRECTS = 5
_CHUNK = 65536
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

#: ``listener(text, seconds)``: a wait of ``seconds`` begins, described by ``text``.
WaitListener = Callable[[str, float], None]


def mount_pool(session: requests.Session, size: int) -> None:
    """Mount adapters on ``session`` whose pools keep ``size`` connections per host (and keep deadlines)."""
    adapter = DeadlineAdapter(pool_connections=4, pool_maxsize=size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)


class Transport:
    """Sends the client's GETs. Built by :class:`JMLinkClient` from its settings objects.

    Parameters
    ----------
    base_url : str
        The API's root (checked).
    session : requests.Session
        Sends the requests.
    auth : requests.auth.AuthBase
        The HTTP Basic credentials.
    timeouts, retries, limits : Timeouts, Retries, Limits
        The client's settings, taken whole.
    limiters : mapping of str to EndpointLimiter
        One sliding-window limiter per endpoint (``"links"``, ``"stats"``).
    owns_session : bool
        Whether the session was made here (its pool may grow; it is closed with the client).
    """

    def __init__(self, base_url: str, session: requests.Session, auth: Any, *, timeouts: Timeouts,
                 retries: Retries, limits: Limits, limiters: Mapping[str, EndpointLimiter], owns_session: bool):
        self.base_url, self.session, self.auth = base_url, session, auth
        self.timeouts, self.retries, self.limits = timeouts, retries, limits
        self.limiters = dict(limiters)
        self.owns_session = owns_session
        self.headers = {"User-Agent": f"jmlink-analytics/{__version__} (+python-requests)",
                        "Accept": "application/json"}
        self.pool_size = DEFAULT_POOL_SIZE if owns_session else None
        self._origin = _origin(base_url)
        self._listeners: list[WaitListener] = []
        #: The session's settings and the environment's proxies merged once (see :mod:`._prepared`).
        self.prepared = Prepared(session, base_url, auth, self.headers)

    # -- connections and listeners ------------------------------------------------------------
    def reserve(self, workers: int) -> None:
        """Make room for ``workers`` concurrent requests in the connection pool (own sessions only)."""
        if self.pool_size is not None and workers > self.pool_size:
            logger.debug("connection pool: %d -> %d connections per host", self.pool_size, workers)
            mount_pool(self.session, workers)
            self.pool_size = workers

    @contextlib.contextmanager
    def listening(self, listener: WaitListener) -> Iterator[None]:
        """Call ``listener(text, seconds)`` whenever a long wait begins, while in the block."""
        self._listeners.append(listener)
        try:
            yield
        finally:
            self._listeners.remove(listener)

    def _tell(self, text: str, seconds: float) -> None:
        for listener in list(self._listeners):
            try:
                listener(text, seconds)
            except Exception:  # a progress bar never makes a request fail
                logger.debug("wait listener failed", exc_info=True)

    # -- one GET ------------------------------------------------------------------------------
    def get(self, endpoint: str, path: str, params: dict[str, Any]) -> Any:
        """Send one GET with rate limiting and retries; return the parsed JSON body."""
        url = self.base_url + path
        limiter = self.limiters[endpoint]
        failures = 0
        first_refused: float | None = None
        while True:
            slot = limiter.acquire(on_wait=lambda s: self._tell(_limit_text(limiter, s), s))
            started = time.monotonic()
            error: JMLinkError | None
            try:
                status, body, headers = self._send(url, params, started + self.timeouts.deadline)
                parsed, error = decode_answer(status, body, headers)
            except JMLinkError as exc:
                parsed, error, status = None, exc, None
            finally:
                limiter.release(slot)
            logger.debug("GET %s -> %s in %.0f ms", path,
                         status if error is None else f"{status or ''}{' ' if status else ''}{error}",
                         (time.monotonic() - started) * 1000)
            if error is None:
                return parsed
            if isinstance(error, RateLimitError):
                first_refused = time.monotonic() if first_refused is None else first_refused
                delay = self._after_refusal(limiter, slot, path, error, first_refused)
            elif error.retryable:
                failures += 1
                if failures > self.retries.max_retries:
                    raise error
                delay = self._backoff(failures)
            else:
                raise error
            logger.info("GET %s: %s; retrying in %.1f s", path, error, delay)
            _sleep(delay)

    def _send(self, url: str, params: dict[str, Any] | None, deadline: float) -> tuple[int, bytes, Any]:
        """Send and read the whole answer by ``deadline``, within the size cap, following no foreign redirect.

        Raises a typed error: :class:`TransportError` (retryable unless it is a certificate
        failure, a redirect or an unsendable request) or :class:`ResponseFormatError`.
        """
        for _ in range(MAX_REDIRECTS + 1):
            status, body, headers = self._send_once(url, params, deadline)
            if status not in _REDIRECTS or not headers.get("Location"):
                return status, body, headers
            target = urljoin(url, headers["Location"])
            if _origin(target) != self._origin or urlsplit(target).path != urlsplit(url).path:
                raise TransportError(f"GET {_path(url)}: the server redirected ({status}) from {_show(url)} to "
                                     f"{_show(target)}; the API documents no redirect, and one that changes the "
                                     "origin or the path is not followed (nor are the credentials sent there)",
                                     http_status=status, retryable=False)
            url, params = target, None  # the query is the one of the location
        raise TransportError(f"GET {_path(url)}: too many redirects (more than {MAX_REDIRECTS}) to the same path",
                             retryable=False)

    def _send_once(self, url: str, params: dict[str, Any] | None, deadline: float) -> tuple[int, bytes, Any]:
        connect, read = self.timeouts.connect, self.timeouts.read
        cap = self.limits.max_answer_bytes
        response = None
        with watch(deadline) as alarm:
            try:
                left = max(deadline - time.monotonic(), 0.001)
                request, settings = self.prepared.request(url, params)
                response = self.session.send(request, allow_redirects=False,
                                             timeout=(min(connect, left), min(read, left)), **settings)
                response.raw.decode_content = True  # gzip/deflate decoded as read (requests leaves it off)
                chunks, size = [], 0
                while True:
                    if time.monotonic() >= deadline:
                        raise TransportError(self._deadline_text())
                    chunk = response.raw.read1(_CHUNK)  # what one socket read brings, at most _CHUNK decoded
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > cap:
                        raise ResponseFormatError(
                            f"GET {_path(url)}: the answer is larger than max_answer_bytes={cap:,} (counted after "
                            "decoding); it was not read further", http_status=response.status_code)
                    chunks.append(chunk)
                if alarm.fired:  # the watchdog cut the socket: what came is not the whole answer
                    raise TransportError(self._deadline_text())
                alarm.cancel()
                status, headers = response.status_code, response.headers
                response.raw.release_conn()
                response = None
                return status, b"".join(chunks), headers
            except JMLinkError:
                raise
            except requests.exceptions.SSLError as exc:
                if _is_certificate_failure(exc):  # a certificate will not be different next time
                    raise TransportError(f"TLS certificate check failed for {_origin(url)}: {_reason(exc)} "
                                         "(not retried)", retryable=False) from None
                raise self._failure(alarm.fired, f"TLS failed: {_reason(exc)}") from None
            except (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError) as exc:
                raise self._failure(alarm.fired or time.monotonic() >= deadline - 0.01,
                                    f"{type(exc).__name__}: {_reason(exc)}") from None
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                    urllib3.exceptions.ProtocolError, http.client.HTTPException, ConnectionError) as exc:
                raise self._failure(alarm.fired, f"{type(exc).__name__}: {_reason(exc)}") from None
            except (requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError) as exc:
                raise ResponseFormatError(f"GET {_path(url)}: the answer could not be decoded: {_reason(exc)}",
                                          retryable=False) from None
            except (requests.RequestException, urllib3.exceptions.HTTPError, UnicodeError, ValueError, OSError) as exc:
                if alarm.fired:
                    raise TransportError(self._deadline_text()) from None
                # InvalidURL, InvalidHeader, a header that is not Latin-1, a socket error: final
                raise TransportError(f"GET {_path(url)} could not be sent: {type(exc).__name__}: {_reason(exc)}",
                                     retryable=False) from None
            finally:
                if response is not None:
                    response.close()

    def _deadline_text(self) -> str:
        return f"no complete answer within the deadline of {self.timeouts.deadline:g} s"

    def _failure(self, past_deadline: bool, text: str) -> TransportError:
        """A retryable transport failure; the deadline's message when the deadline cut it."""
        return TransportError(self._deadline_text() if past_deadline else text)

    # -- waits ---------------------------------------------------------------------------------
    def _backoff(self, failures: int) -> float:
        """Capped exponential backoff with jitter ("equal jitter": half fixed, half random)."""
        ceiling = self.retries.backoff_ceiling(failures)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _after_refusal(self, limiter: EndpointLimiter, slot: Slot, path: str, error: RateLimitError,
                       first_refused: float) -> float:
        """The 3006 policy, whole: the seconds to wait before sending again, or raise ``error`` when spent.

        Refused though our own window allowed the call, the endpoint slows down (for every process
        of the appKey: :meth:`EndpointLimiter.refused`), and the call keeps trying until its time
        budget, one window plus the deadline from its first refusal, is spent. ``max_retries=0``
        gives up at once.
        """
        learned, frees = limiter.refused(slot)
        now = time.monotonic()
        budget = limiter.seconds + self.timeouts.deadline
        # at least the turn the refused call's slot is held (the wait is then in the delay, counted against the
        # budget); not the whole hold until the server frees a slot: a server window shorter than ours frees sooner
        delay = max(self._rate_limit_delay(limiter, path, error.retry_after, learned),
                    min(frees, limiter.seconds / max(learned, 1)))
        if self.retries.max_retries == 0 or now - first_refused + delay > budget:
            if self.retries.max_retries:
                logger.warning("GET %s: refused (3006) for %.0f s, the time budget of one call (one window of %g s "
                               "plus the deadline of %g s)", path, now - first_refused, limiter.seconds,
                               self.timeouts.deadline)
            raise error
        return delay

    def _rate_limit_delay(self, limiter: EndpointLimiter, path: str, retry_after: float | None,
                          learned: int) -> float:
        """How long to wait after a 3006: the server's word (up to a cap of two windows), else a turn of the window."""
        window = limiter.seconds
        if retry_after is not None:
            cap = window * 2
            if retry_after > cap:
                logger.warning("GET %s: the server asked to wait %.0f s (Retry-After), longer than the cap of "
                               "%.0f s; waiting %.0f s, then retrying", path, retry_after, cap, cap)
                self._tell(f"server asked {retry_after:.0f} s (Retry-After); waiting {cap:.0f} s", cap)
            delay = min(retry_after, cap) + random.uniform(0, 0.1)
        else:  # the learned window spaces the retry with every other call: wait about one turn, jittered
            delay = random.uniform(0.5, 1.0) * window / max(learned, 1)
        if delay >= REPORT_WAITS_FROM_S and not (retry_after is not None and retry_after > window * 2):
            self._tell(f"waiting {delay:.0f} s: refused for the {limiter.name} rate limit (3006)", delay)
        return delay


def _is_certificate_failure(exc: BaseException) -> bool:
    """Whether a TLS error is a failed certificate check (anywhere in its chain of causes)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        error = todo.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, ssl.SSLCertVerificationError):
            return True
        todo += [e for e in (error.__cause__, error.__context__, getattr(error, "reason", None), *error.args)
                 if isinstance(e, BaseException)]
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of ``url``, the port filled in for http and https."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def _show(url: str) -> str:
    """``url`` without its query (which might carry anything) and without user info."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{'' if parts.port is None else f':{parts.port}'}{parts.path}"


def _limit_text(limiter: EndpointLimiter, seconds: float) -> str:
    paced = "" if limiter.learned is None else f"; the server refused earlier: {limiter.learned} per window for now"
    return (f"waiting {math.ceil(seconds):.0f} s for the {limiter.name} rate limit "
            f"({limiter.calls} per {limiter.seconds:g} s{paced})")


def _path(url: str) -> str:
    """The path of ``url`` (no scheme, host or query)."""
    return "/" + url.split("://", 1)[-1].partition("/")[2].partition("?")[0]


def _reason(exc: BaseException) -> str:
    """A short reason for a transport failure, without the request's headers."""
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "…"
