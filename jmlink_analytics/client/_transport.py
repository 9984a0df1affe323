"""One GET on the wire: rate limit, deadline, retries, and every failure typed.

:class:`Transport` is the HTTP half of :class:`~jmlink_analytics.client.JMLinkClient`. For
each request it takes a slot of the endpoint's window (held until the answer arrives, see
:mod:`._ratelimit`), sends, reads the body within the request's overall deadline, parses it
once, and either returns the JSON or decides: wait and retry (3006, 3011, 5xx, timeouts,
resets), or raise the typed error. Whatever requests, urllib3 or the socket raise becomes a
:class:`~jmlink_analytics.errors.JMLinkError`, so one failed link never ends a whole fetch.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import math
import random
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from ..errors import JMLinkError, RateLimitError, ResponseFormatError, TransportError, error_from_response
from ._ratelimit import REPORT_WAITS_FROM_S, EndpointLimiter
from ._responses import DuplicateKeyError, no_duplicate_keys

__all__ = ["DEFAULT_POOL_SIZE", "Transport", "WaitListener", "mount_pool"]

logger = logging.getLogger("jmlink_analytics")

_sleep = time.sleep  # one seam, so tests and cassette replay can make waits instant

#: Connections kept per host: the default ``max_workers`` of ``fetch_stats``.
DEFAULT_POOL_SIZE = 32
_CHUNK = 65536

#: ``listener(text, seconds)``: a wait of ``seconds`` begins, described by ``text``.
WaitListener = Callable[[str, float], None]


class _FinalError(Exception):
    """Carries a typed error that must not be retried (TLS, redirects, bad URL, undecodable body)."""

    def __init__(self, error: JMLinkError):
        super().__init__(str(error))
        self.error = error


def mount_pool(session: requests.Session, size: int) -> None:
    """Mount adapters on ``session`` whose pools keep ``size`` connections per host."""
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)


class Transport:
    """Sends the client's GETs. Built by :class:`JMLinkClient`; see its parameters."""

    def __init__(self, *, base_url: str, session: requests.Session, owns_session: bool, auth: Any,
                 headers: dict[str, str], timeout: float | tuple[float, float], deadline: float,
                 max_retries: int, backoff_factor: float, backoff_max: float,
                 rate_limits: dict[str, tuple[int, float]], limiters: dict[str, EndpointLimiter]):
        self.base_url = base_url
        self.session, self.owns_session = session, owns_session
        self.auth, self.headers = auth, headers
        self.timeout, self.deadline = timeout, deadline
        self.max_retries = max_retries
        self.backoff_factor, self.backoff_max = backoff_factor, backoff_max
        self.rate_limits, self.limiters = rate_limits, limiters
        self.pool_size = DEFAULT_POOL_SIZE if owns_session else None
        self._listeners: list[WaitListener] = []

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
            try:
                status, body, headers = self._send(url, params, started + self.deadline)
            except _FinalError as final:
                logger.debug("GET %s -> %s", path, final.error)
                raise final.error from None
            except TransportError as exc:
                logger.debug("GET %s -> %s after %.0f ms", path, exc, (time.monotonic() - started) * 1000)
                error: JMLinkError | None = TransportError(f"GET {path} failed: {exc}")
            else:
                parsed, error = _decide(status, body, headers)
                logger.debug("GET %s -> %d%s in %.0f ms", path, status,
                             f" ({error.code})" if error is not None and error.code else "",
                             (time.monotonic() - started) * 1000)
                if error is None:
                    return parsed
            finally:
                limiter.release(slot)
            assert error is not None
            if isinstance(error, RateLimitError):
                # Refused though our window allowed it: slow the endpoint down (every process of the appKey),
                # and keep trying until the call's time budget (one window plus the deadline) is spent.
                pace = limiter.refused(slot)
                now = time.monotonic()
                first_refused = now if first_refused is None else first_refused
                budget = self.rate_limits[endpoint][1] + self.deadline
                delay = self._rate_limit_delay(endpoint, path, error.retry_after, pace)
                if self.max_retries == 0 or now - first_refused + delay > budget:
                    if self.max_retries:
                        logger.warning("GET %s: refused (3006) for %.0f s, the time budget of one call (one window "
                                       "of %g s plus the deadline of %g s)", path, now - first_refused,
                                       self.rate_limits[endpoint][1], self.deadline)
                    raise error
            elif error.retryable:
                failures += 1
                if failures > self.max_retries:
                    raise error
                delay = self._backoff(failures)
            else:
                raise error
            logger.info("GET %s: %s; retrying in %.1f s", path, error, delay)
            _sleep(delay)

    def _send(self, url: str, params: dict[str, Any], deadline: float) -> tuple[int, bytes, Any]:
        """Send and read the whole answer by ``deadline``; raise TransportError (retryable) or _FinalError."""
        connect, read = self.timeout if isinstance(self.timeout, tuple) else (self.timeout, self.timeout)
        left = deadline - time.monotonic()
        response = None
        try:
            response = self.session.get(url, params=params, auth=self.auth, headers=self.headers, stream=True,
                                        timeout=(min(connect, left), min(read, left)))
            chunks = []
            response.raw.decode_content = True  # gzip/deflate decoded as read (requests leaves it off)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TransportError(f"no complete answer within the deadline of {self.deadline:g} s")
                _set_read_timeout(response, min(read, left))
                chunk = response.raw.read1(_CHUNK)  # what one socket read brings
                if not chunk:
                    break
                chunks.append(chunk)
            status, headers = response.status_code, response.headers
            response.raw.release_conn()
            response = None
            return status, b"".join(chunks), headers
        except TransportError:
            raise
        except requests.exceptions.SSLError as exc:
            if _is_certificate_failure(exc):  # a certificate will not be different next time
                raise _FinalError(TransportError(f"TLS certificate check failed for {_origin(url)}: {_reason(exc)} "
                                                 "(not retried)")) from None
            raise TransportError(f"TLS failed: {_reason(exc)}") from None
        except (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError) as exc:
            if time.monotonic() >= deadline - 0.01:  # the read was bounded by the time left
                raise TransportError(f"no complete answer within the deadline of {self.deadline:g} s") from None
            raise TransportError(f"{type(exc).__name__}: {_reason(exc)}") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError,
                http.client.HTTPException, ConnectionError) as exc:
            raise TransportError(f"{type(exc).__name__}: {_reason(exc)}") from None
        except (requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError) as exc:
            raise _FinalError(ResponseFormatError(f"GET {_path(url)}: the answer could not be decoded: "
                                             f"{_reason(exc)}")) from None
        except requests.TooManyRedirects as exc:
            raise _FinalError(TransportError(f"GET {_path(url)}: too many redirects ({_reason(exc)})")) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError, UnicodeError, ValueError, OSError) as exc:
            # InvalidURL, InvalidHeader, a header that is not Latin-1, a socket error: final
            raise _FinalError(TransportError(f"GET {_path(url)} could not be sent: {type(exc).__name__}: "
                                        f"{_reason(exc)}")) from None
        finally:
            if response is not None:
                response.close()

    # -- waits ---------------------------------------------------------------------------------
    def _backoff(self, failures: int) -> float:
        """Capped exponential backoff with jitter ("equal jitter": half fixed, half random)."""
        ceiling = min(self.backoff_max, self.backoff_factor * 2 ** (failures - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _rate_limit_delay(self, endpoint: str, path: str, retry_after: float | None, pace: float) -> float:
        """How long to wait after a 3006: the server's word (up to a cap of two windows), else one paced turn."""
        window = self.rate_limits[endpoint][1]
        if retry_after is not None:
            cap = window * 2
            if retry_after > cap:
                logger.warning("GET %s: the server asked to wait %.0f s (Retry-After), longer than the cap of "
                               "%.0f s; waiting %.0f s, then retrying", path, retry_after, cap, cap)
                self._tell(f"server asked {retry_after:.0f} s (Retry-After); waiting {cap:.0f} s", cap)
            delay = min(retry_after, cap) + random.uniform(0, 0.1)
        else:  # the limiter paces the retry with every other call: wait about one turn, jittered
            delay = random.uniform(0.5, 1.0) / pace
        if delay >= REPORT_WAITS_FROM_S and not (retry_after is not None and retry_after > window * 2):
            self._tell(f"waiting {delay:.0f} s: refused for the {endpoint} rate limit (3006)", delay)
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


def _origin(url: str) -> str:
    """``scheme://host:port`` of ``url``."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.partition('/')[0]}"


def _set_read_timeout(response: requests.Response, seconds: float) -> None:
    """Bound the next socket read by the time left (urllib3 2 keeps the socket on ``_connection``)."""
    sock = getattr(getattr(response.raw, "_connection", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.settimeout(max(seconds, 0.001))


def _decide(status: int, body: bytes, headers: Any) -> tuple[Any, JMLinkError | None]:
    """Parse an answer once: ``(json, None)`` for a success, ``(None, error)`` otherwise."""
    if 200 <= status < 300:
        try:
            parsed = json.loads(body, object_pairs_hook=no_duplicate_keys)
        except DuplicateKeyError as exc:  # json.loads would keep the last of two values silently
            return None, ResponseFormatError(f"expected JSON objects with each field once; {exc}", http_status=status)
        except ValueError:
            parsed = None
        if parsed is not None and not (isinstance(parsed, dict) and isinstance(parsed.get("error"), dict)):
            return parsed, None
    error = error_from_response(status, body, headers=headers)
    if error is None:  # a success the fast path could not read (an error object with code 3000, odd UTF-8)
        try:
            return json.loads(body.decode("utf-8", "replace"), object_pairs_hook=no_duplicate_keys), None
        except ValueError:
            error = ResponseFormatError("expected a JSON object, got a body that is not JSON", http_status=status)
    return None, error


def _limit_text(limiter: EndpointLimiter, seconds: float) -> str:
    paced = "" if limiter.pace is None else f"; the server refused earlier, paced at {limiter.pace:.1f} per s"
    return (f"waiting {math.ceil(seconds):.0f} s for the {limiter.name} rate limit "
            f"({limiter.calls} per {limiter.seconds:g} s{paced})")


def _path(url: str) -> str:
    """The path of ``url`` (no scheme, host or query)."""
    return "/" + url.split("://", 1)[-1].partition("/")[2].partition("?")[0]


def _reason(exc: BaseException) -> str:
    """A short reason for a transport failure, without the request's headers."""
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "…"
