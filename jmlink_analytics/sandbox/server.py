"""``Sandbox``: a local JMLink-compatible HTTP server that serves a :class:`SyntheticApp`.

How a request is decided, first rule that applies wins (as an API gateway does it):

1. ``/_sandbox/...``: the admin endpoint (no auth, never logged, no latency).
2. Routing: an unknown path is 3007 (whatever the method); a known path with a method
   other than GET is 3008.
3. Auth: no ``Authorization`` header is 3001; a malformed Basic header or wrong
   credentials are 3002.
4. The app: the blacklisted app key gets 3009, the app key without VIP gets 3010.
5. Scripted faults (:meth:`Sandbox.fail_next`), first in, first out. They stand in for
   the whole answer and do not count against the rate limit.
6. The rate limit: per app key and endpoint, a sliding window over arrival times. A
   request that finds ``calls`` arrivals in the trailing ``seconds`` gets 3006 and is
   not counted itself (rejected requests do not fill the window).
7. Random server faults (``fault_rate``): 3011; the request counted against the limit.
8. Parameters: each invalid one is 3005.
9. The answer (3000).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import random
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..client import JMLinkClient, normalize_rate_limits
from ._handler import (
    BAD_GATEWAY_BODY,
    ERRORS,
    MALFORMED_BODY,
    SUCCESS,
    Answer,
    Request,
    SandboxHandler,
    SandboxServer,
    dump_json,
    error_answer,
)
from ._rules import SlidingWindows, links_params, parse_basic, stats_params
from .app import SyntheticApp

__all__ = ["FAULT_KINDS", "Sandbox", "ServedRequest"]

#: The non-API faults :meth:`Sandbox.fail_next` can script.
FAULT_KINDS = ("malformed", "bad_gateway", "reset")
_ENDPOINTS = ("links", "stats")


@dataclass(frozen=True)
class ServedRequest:
    """One request the sandbox answered, as logged.

    Attributes
    ----------
    time : float
        ``time.monotonic()`` when the request arrived.
    method, path : str
        The HTTP method and the percent-decoded path (a ``/`` inside one segment, such as
        a link key, is kept as ``%2F``).
    query : dict of str to str
        The query parameters (the first value of a repeated one).
    status : int
        The HTTP status sent; 0 when the connection was reset without an answer.
    code : int
        The API code: 3000 for success, the error code otherwise, 0 for the non-API
        faults (malformed body, bad gateway, reset).
    app_key : str or None
        The appKey of the request's Basic credentials, when it had readable ones.
    """

    time: float
    method: str
    path: str
    query: dict[str, str]
    status: int
    code: int
    app_key: str | None


def _credential(seed: int, role: str) -> str:
    return hashlib.sha256(f"jmlink-sandbox/{seed}/{role}".encode()).hexdigest()[:24]


class Sandbox:
    """A local JMLink-compatible API serving a deterministic synthetic app.

    Parameters
    ----------
    links : int, default 120
        Links of the synthetic app.
    days : int, default 180
        Span of the links' creation dates, ending ``today``.
    seed : int, default 0
        Seed of the synthetic app, the credentials and the ``fault_rate`` draws.
    today : date or str, optional
        The app's today (a partial day); China's today (UTC+8) by default.
    host : str, default "127.0.0.1"
    port : int, default 0
        0 picks a free port when the sandbox starts.
    rate_limits : mapping, optional
        ``{"links": (calls, seconds), "stats": (calls, seconds)}``, per app key and endpoint;
        the documented 100 and 500 per 60 s by default.
    latency : float, default 0.0
        Seconds every API answer is delayed (in the handler thread; requests overlap).
    fault_rate : float, default 0.0
        Probability of answering 3011 to an admitted request (seeded, reproducible).
    omit_zero_days : bool, default False
        Leave days whose four counters are all zero out of stat answers.
    retry_after : bool, default False
        Send ``Retry-After`` (whole seconds until a slot frees) with 3006 answers.
    max_span_days : int, optional
        An undocumented cap on the date range of one stat request: a request spanning more
        days than this is answered 3005 "parameter invalid", as a real gateway might.
        ``None`` (the default): no cap.

    Attributes
    ----------
    app : SyntheticApp
        The served app: ``links``, ``stats(...)``, ``spikes``, ``today``.
    base_url : str
        ``http://127.0.0.1:PORT`` while running (``start()`` / ``with``; ``stop()`` ends it).
    app_key, master_secret : str
        The app's credentials, deterministic for the seed.
    blacklisted_app_key, novip_app_key : str
        App keys (with the same master secret) answered with 3009 and 3010.
    requests : list of ServedRequest
        A snapshot of the request log (also at ``GET /_sandbox/requests``).

    Examples
    --------
    >>> with Sandbox(links=10, days=30) as sb, sb.client() as client:
    ...     client.get_links_page().total
    10
    """

    def __init__(self, links: int = 120, days: int = 180, *, seed: int = 0, today: dt.date | str | None = None,
                 host: str = "127.0.0.1", port: int = 0, rate_limits: Mapping[str, tuple[int, float]] | None = None,
                 latency: float = 0.0, fault_rate: float = 0.0, omit_zero_days: bool = False,
                 retry_after: bool = False, max_span_days: int | None = None):
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an integer from 0 to 65535; got {port!r}")
        for value, name, high in ((latency, "latency", math.inf), (fault_rate, "fault_rate", 1.0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
                raise ValueError(f"{name} must be a number from 0 to {high}; got {value!r}")
        if max_span_days is not None and (isinstance(max_span_days, bool) or not isinstance(max_span_days, int)
                                          or max_span_days < 1):
            raise ValueError(f"max_span_days must be None or an integer >= 1; got {max_span_days!r}")
        self.max_span_days = max_span_days
        self.app = SyntheticApp(links, days, seed=seed, today=today)
        self.seed = seed
        self.host, self.port = host, port
        self.rate_limits = normalize_rate_limits(rate_limits)
        self.latency = float(latency)
        self.fault_rate = float(fault_rate)
        self.omit_zero_days = bool(omit_zero_days)
        self.retry_after = bool(retry_after)
        self.app_key = _credential(seed, "app")
        self.master_secret = _credential(seed, "secret")
        self.blacklisted_app_key = _credential(seed, "blacklisted")
        self.novip_app_key = _credential(seed, "novip")
        self._apps = {self.app_key: SUCCESS, self.blacklisted_app_key: 3009, self.novip_app_key: 3010}
        self._lock = threading.Lock()
        self._log: list[ServedRequest] = []
        self._faults: deque[tuple[int | str, str | None]] = deque()
        self._windows = SlidingWindows(self.rate_limits)
        self._random = random.Random(seed)
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.base_url if self._server else "stopped"
        return f"Sandbox({where}, app={self.app!r})"

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> Sandbox:
        """Start serving in a background daemon thread (no-op when already running)."""
        if self._server is not None:
            return self
        handler = type("BoundSandboxHandler", (SandboxHandler,), {"sandbox": self})
        self._server = SandboxServer((self.host, self.port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"jmlink-sandbox:{self._server.server_port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: close the listening socket and open connections, join the thread."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the running sandbox."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running: use `with Sandbox(...) as sb` or sb.start()")
        host = self._server.server_name
        return f"http://{f'[{host}]' if ':' in host else host}:{self._server.server_port}"

    def client(self, **kwargs: Any) -> JMLinkClient:
        """A :class:`~jmlink_analytics.client.JMLinkClient` bound to this sandbox.

        The sandbox's ``rate_limits`` unless given, and ``shared_limits=False`` unless given
        (a sandbox listens on a new port each time: a shared file would only fill the cache
        folder); other keyword arguments are passed on.
        """
        kwargs.setdefault("rate_limits", self.rate_limits)
        kwargs.setdefault("shared_limits", False)
        return JMLinkClient(kwargs.pop("app_key", self.app_key), kwargs.pop("master_secret", self.master_secret),
                            base_url=kwargs.pop("base_url", self.base_url), **kwargs)

    # -- the app and scripted faults --------------------------------------------------------
    def add_links(self, n: int = 1) -> list[dict[str, Any]]:
        """Create ``n`` links now; they lead the newest-first listing. Returns them."""
        return self.app.add_links(n)

    def fail_next(self, code: int | str, *, times: int = 1, endpoint: str | None = None) -> None:
        """Script faults for the next ``times`` requests (of ``endpoint``, or any) that pass auth.

        Parameters
        ----------
        code : int or str
            An API error code (3001..3011), answered with its documented HTTP status and
            message; ``"malformed"`` (HTTP 200, a body that is not JSON), ``"bad_gateway"``
            (HTTP 502, an HTML body) or ``"reset"`` (the connection is dropped, no answer).
        times : int, default 1
        endpoint : {None, "links", "stats"}
        """
        if not (code in ERRORS or code in FAULT_KINDS) or isinstance(code, bool):
            raise ValueError(f"code must be an API error code 3001..3011 or one of {FAULT_KINDS}; got {code!r}")
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be an integer >= 1; got {times!r}")
        if endpoint is not None and endpoint not in _ENDPOINTS:
            raise ValueError(f"endpoint must be None, 'links' or 'stats'; got {endpoint!r}")
        with self._lock:
            self._faults.extend([(code, endpoint)] * times)

    # -- the request log --------------------------------------------------------------------
    @property
    def requests(self) -> list[ServedRequest]:
        """A snapshot of the served requests, in the order they were answered."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        """Forget the served requests (rate-limit windows are kept)."""
        with self._lock:
            self._log.clear()

    def log(self, request: Request, answer: Answer, app_key: str | None) -> None:
        """Record one answered request in the log (the handler calls it for every request)."""
        status = 0 if answer.reset else answer.status
        served = ServedRequest(request.arrival, request.method, request.path, dict(request.query), status,
                               answer.code, app_key)
        with self._lock:
            self._log.append(served)

    def admin(self, request: Request) -> Answer:
        """``GET /_sandbox/requests`` (``?clear=1`` clears after reading): the log as JSON."""
        if request.segments != ["_sandbox", "requests"]:
            return error_answer(3007)
        if request.method not in ("GET", "HEAD"):
            return error_answer(3008)
        with self._lock:
            served = [asdict(r) for r in self._log]
            if request.query.get("clear") in ("1", "true"):
                self._log.clear()
        return Answer(200, dump_json(served), SUCCESS)

    # -- deciding an answer -----------------------------------------------------------------
    def decide(self, request: Request) -> tuple[Answer, str | None]:
        """Decide the answer to one API request as it arrives; returns it and the app key."""
        segments = request.segments
        if segments == ["v1", "links"]:
            endpoint = "links"
        elif len(segments) == 4 and segments[:2] == ["v1", "links"] and segments[2] and segments[3] == "stat":
            endpoint = "stats"
        else:
            return error_answer(3007), self._user(request.authorization)
        app_key = self._user(request.authorization)
        if request.method != "GET":
            return error_answer(3008), app_key
        auth_code = self._authenticate(request.authorization)
        if auth_code != SUCCESS:
            return error_answer(auth_code), app_key
        assert app_key is not None
        scripted = self._take_fault(endpoint)
        if scripted is not None:
            return self._scripted(scripted, endpoint, app_key, request.arrival), app_key
        wait = self._windows.admit(app_key, endpoint, request.arrival)
        if wait is not None:
            headers = {"Retry-After": str(max(1, math.ceil(wait)))} if self.retry_after else None
            return error_answer(3006, headers), app_key
        if self.fault_rate and self._draw() < self.fault_rate:
            return error_answer(3011), app_key
        body = self._links_body(request.query) if endpoint == "links" else self._stats_body(segments[2], request.query)
        if body is None:
            return error_answer(3005), app_key
        return Answer(200, body, SUCCESS), app_key

    def _user(self, authorization: str | None) -> str | None:
        credentials = parse_basic(authorization)
        return credentials[0] if credentials else None

    def _authenticate(self, authorization: str | None) -> int:
        if authorization is None:
            return 3001
        credentials = parse_basic(authorization)
        if credentials is None:
            return 3002
        user, password = credentials
        known = user in self._apps
        if not (hmac.compare_digest(password.encode(), self.master_secret.encode()) and known):
            return 3002
        return self._apps[user]

    def _take_fault(self, endpoint: str) -> int | str | None:
        with self._lock:
            for index, (code, only) in enumerate(self._faults):
                if only is None or only == endpoint:
                    del self._faults[index]
                    return code
        return None

    def _scripted(self, code: int | str, endpoint: str, app_key: str, arrival: float) -> Answer:
        if code == "malformed":
            return Answer(200, MALFORMED_BODY, 0)
        if code == "bad_gateway":
            return Answer(502, BAD_GATEWAY_BODY, 0, content_type="text/html")
        if code == "reset":
            return Answer(0, b"", 0, reset=True)
        assert isinstance(code, int)
        headers = None
        if code == 3006 and self.retry_after:
            wait = self._windows.wait(app_key, endpoint, arrival) or 0.0
            headers = {"Retry-After": str(max(1, math.ceil(wait)))}
        return error_answer(code, headers)

    def _draw(self) -> float:
        with self._lock:
            return self._random.random()

    def _links_body(self, query: Mapping[str, str]) -> bytes | None:
        params = links_params(query)
        if params is None:
            return None
        page_index, page_size = params
        links = self.app.links
        start = (page_index - 1) * page_size
        return dump_json({"total": len(links), "records": links[start:start + page_size]})

    def _stats_body(self, link_key: str, query: Mapping[str, str]) -> bytes | None:
        params = stats_params(query)
        if params is None or link_key not in self.app:
            return None
        start, end, platform = params
        if self.max_span_days is not None and (end - start).days + 1 > self.max_span_days:
            return None
        return self.app.stats_json(link_key, start, end, platform, omit_zero_days=self.omit_zero_days).encode()
