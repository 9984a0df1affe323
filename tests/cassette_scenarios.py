"""The cassette scenarios and their recording, shared by the replay tests and ``make cassettes``.

Every scenario runs against a local sandbox over a real socket, with a fixed seed and a fixed
"today", so the recordings are deterministic; the read-only ones (``live=True``) can also be
recorded against the real API (``make cassettes-live``). ``scripts/record_cassettes.py`` is the
command line over :func:`record` and :func:`record_live`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from jmlink_analytics import errors
from jmlink_analytics.client import JMLinkClient
from tests.vcr_config import make_vcr

__all__ = ["SCENARIOS", "SCENARIOS_BY_NAME", "SEED", "START", "TODAY", "Context", "Scenario",
           "link_with_most_idle_days", "record", "record_live"]

SEED = 2024
TODAY = dt.date(2024, 6, 30)
START = TODAY - dt.timedelta(days=29)


# -- scenarios ------------------------------------------------------------------------------
@dataclass
class Context:
    """What a scenario gets: the server to talk to and a way to build clients for it."""

    base_url: str
    app_key: str
    master_secret: str
    sandbox: Any = None  # the Sandbox when recording locally, else None
    rate_limits: dict[str, tuple[int, float]] | None = None

    def client(self, **kwargs: Any) -> JMLinkClient:
        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("backoff_factor", 0)
        kwargs.setdefault("shared_limits", False)  # recordings never write to the user cache folder
        if self.rate_limits is not None:
            kwargs.setdefault("rate_limits", self.rate_limits)
        app_key = kwargs.pop("app_key", self.app_key)
        secret = kwargs.pop("master_secret", self.master_secret)
        return JMLinkClient(app_key, secret, **kwargs)

    def first_link_key(self) -> str:
        with self.client() as client:
            return client.get_links_page(1, 1).records[0]["link_key"]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    run: Callable[[Context], Any]
    sandbox: dict[str, Any] = field(default_factory=dict)
    live: bool = False  # read-only and safe to record against the real API


def _expect(error_type: type[Exception], action: Callable[[], Any]) -> Exception:
    try:
        action()
    except error_type as exc:
        return exc
    raise AssertionError(f"expected {error_type.__name__}")


def _links_page(ctx: Context) -> None:
    with ctx.client() as c:
        c.get_links_page(1, 20)


def _links_full(ctx: Context) -> None:
    with ctx.client() as c:
        list(c.iter_links(page_size=500))


def _stats(platform: str) -> Callable[[Context], None]:
    def run(ctx: Context) -> None:
        # the oldest link of the sandbox has activity over the whole range
        key = ctx.first_link_key() if ctx.sandbox is None else ctx.sandbox.app.links[-1]["link_key"]
        with ctx.client() as c:
            c.get_link_stats(key, START if ctx.sandbox else _live_start(), TODAY if ctx.sandbox else _live_end(),
                             platform=platform)
    return run


def _live_end() -> dt.date:
    from jmlink_analytics._dates import china_today

    return china_today() - dt.timedelta(days=2)


def _live_start() -> dt.date:
    return _live_end() - dt.timedelta(days=29)


def link_with_most_idle_days(app: Any) -> str:
    """The sandbox link with the most all-zero days in the recorded range (deterministic)."""
    def idle_days(link: dict[str, Any]) -> int:
        rows = app.stats(link["link_key"], START, TODAY, "all")
        active = sum(1 for r in rows if any(r[k] for k in ("exposure_count", "click_count")))
        return (TODAY - START).days + 1 - active
    return max(app.links, key=lambda link: (idle_days(link), link["link_key"]))["link_key"]


def _stats_omitted_days(ctx: Context) -> None:
    with ctx.client() as c:
        c.get_link_stats(link_with_most_idle_days(ctx.sandbox.app), START, TODAY, platform="all")


def _raw_get_without_auth(ctx: Context) -> None:
    requests.get(ctx.base_url + "/v1/links", params={"page_index": 1, "page_size": 20}, timeout=10)


def _wrong_secret(ctx: Context) -> None:
    with ctx.client(master_secret="not-the-secret") as c:
        _expect(errors.AuthError, c.get_links_page)


def _unknown_link_key(ctx: Context) -> None:
    with ctx.client() as c:
        _expect(errors.InvalidRequestError, lambda: c.get_link_stats("ZZZZ", START, TODAY))


def _over_the_limit(ctx: Context) -> None:
    with ctx.client(rate_limits={"links": (100, 60.0)}, max_retries=0) as c:
        c.get_links_page()
        _expect(errors.RateLimitError, c.get_links_page)


def _wrong_path(ctx: Context) -> None:
    with ctx.client(base_url=ctx.base_url + "/v2") as c:
        _expect(errors.NotFoundError, c.get_links_page)


def _raw_post(ctx: Context) -> None:
    requests.post(ctx.base_url + "/v1/links", auth=(ctx.app_key, ctx.master_secret), json={}, timeout=10)


def _app_key(attr: str, error: type[Exception]) -> Callable[[Context], None]:
    def run(ctx: Context) -> None:
        with ctx.client(app_key=getattr(ctx.sandbox, attr)) as c:
            _expect(error, c.get_links_page)
    return run


def _server_error(ctx: Context) -> None:
    with ctx.client(max_retries=0) as c:
        _expect(errors.ServerError, c.get_links_page)


def _retry_then_success(ctx: Context) -> None:
    ctx.sandbox.fail_next(3011, times=1, endpoint="stats")
    with ctx.client(max_retries=2) as c:
        c.get_link_stats(ctx.sandbox.app.links[0]["link_key"], START, TODAY)


def _wait_then_success(ctx: Context) -> None:
    with ctx.client(rate_limits={"links": (100, 1.0)}, max_retries=2) as c:
        c.get_links_page()
        c.get_links_page()  # over the sandbox's 1 call per second: 3006, wait Retry-After, retry


def _malformed(ctx: Context) -> None:
    ctx.sandbox.fail_next("malformed", endpoint="links")
    with ctx.client() as c:
        _expect(errors.ResponseFormatError, c.get_links_page)


def _fetch_stats(ctx: Context) -> None:
    from jmlink_analytics.data import fetch_stats

    with ctx.client() as c:
        # one worker: vcrpy's patching is not thread-safe
        fetch_stats(c, start=TODAY - dt.timedelta(days=13), end=TODAY, platform=["ios", "android"],
                    max_workers=1, progress=False)


RANGE_CAP_DAYS = 31


def range_cap_keys(app: Any) -> list[str]:
    """The two oldest links of the sandbox app, sorted (they have data over the whole range)."""
    return sorted(link["link_key"] for link in app.links[-2:])


def _range_cap(ctx: Context) -> None:
    from jmlink_analytics.data import fetch_stats

    with ctx.client() as c:
        # one worker: vcrpy's patching is not thread-safe (and the probes come in a fixed order)
        fetch_stats(c, range_cap_keys(ctx.sandbox.app), start=TODAY - dt.timedelta(days=89), end=TODAY,
                    max_workers=1, progress=False)


SCENARIOS: list[Scenario] = [
    Scenario("links_page", "one listing page of 20 links", _links_page, {"links": 30}, live=True),
    Scenario("links_full", "a full listing of 1,250 links in pages of 500", _links_full, {"links": 1250}, live=True),
    Scenario("stats_all", "30 days of one link, platform all", _stats("all"), live=True),
    Scenario("stats_ios", "30 days of one link, platform ios", _stats("ios"), live=True),
    Scenario("stats_android", "30 days of one link, platform android", _stats("android"), live=True),
    Scenario("stats_omitted_days", "a stat answer that leaves inactive days out", _stats_omitted_days,
             {"omit_zero_days": True}),
    Scenario("error_3001", "a request without Authorization", _raw_get_without_auth),
    Scenario("error_3002", "a wrong masterSecret", _wrong_secret),
    Scenario("error_3005", "an unknown link key", _unknown_link_key),
    Scenario("error_3006", "over the links limit (1 per minute), no retry", _over_the_limit,
             {"rate_limits": {"links": (1, 60.0)}}),
    Scenario("error_3007", "an unknown API path", _wrong_path),
    Scenario("error_3008", "a POST where only GET is allowed", _raw_post),
    Scenario("error_3009", "a blacklisted app", _app_key("blacklisted_app_key", errors.BlacklistedError)),
    Scenario("error_3010", "an app without VIP", _app_key("novip_app_key", errors.VipRequiredError)),
    Scenario("error_3011", "a server fault, no retry", _server_error, {"fault_rate": 1.0}),
    Scenario("retry_3011_then_success", "a 3011, retried, then the stats", _retry_then_success),
    Scenario("wait_3006_then_success", "a 3006 with Retry-After, waited out, then the page", _wait_then_success,
             {"rate_limits": {"links": (1, 1.0)}, "retry_after": True}),
    Scenario("malformed_body", "HTTP 200 with a body that is not JSON", _malformed),
    Scenario("fetch_stats_split", "fetch_stats of every link, ios and android, 14 days, one worker", _fetch_stats,
             {"links": 4}),
    Scenario("stats_range_cap", f"fetch_stats of 2 links over 90 days from a gateway refusing ranges over "
             f"{RANGE_CAP_DAYS} days (3005): split, learned, exact", _range_cap, {"max_span_days": RANGE_CAP_DAYS}),
]
SCENARIOS_BY_NAME = {s.name: s for s in SCENARIOS}


@contextmanager
def _sandbox_context(scenario: Scenario) -> Iterator[Context]:
    from jmlink_analytics.sandbox import Sandbox

    options = {"links": 8, "days": 60, "seed": SEED, "today": TODAY, **scenario.sandbox}
    with Sandbox(**options) as sb:
        yield Context(sb.base_url, sb.app_key, sb.master_secret, sandbox=sb,
                      rate_limits=options.get("rate_limits"))


def record(out_dir: Path, names: list[str] | None = None) -> list[Path]:
    """Record the sandbox scenarios (all, or those named) into ``out_dir``; return the files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for scenario in SCENARIOS if not names else [SCENARIOS_BY_NAME[n] for n in names]:
        path = out_dir / f"{scenario.name}.yaml"
        path.unlink(missing_ok=True)
        with _sandbox_context(scenario) as ctx:
            recorder = make_vcr(out_dir, record_mode="all", base_url=ctx.base_url,
                                secrets=(ctx.master_secret,), app_key=ctx.app_key)
            with recorder.use_cassette(path.name):
                scenario.run(ctx)
        written.append(path)
    return written


def record_live(out_dir: Path) -> list[Path]:
    """Record the read-only scenarios against the real API named by the ``JMLINK_*`` variables."""
    probe = JMLinkClient.from_env()
    ctx = Context(probe.base_url, probe.app_key, probe._auth.password)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for scenario in (s for s in SCENARIOS if s.live):
        path = out_dir / f"{scenario.name}.yaml"
        path.unlink(missing_ok=True)
        recorder = make_vcr(out_dir, record_mode="all", base_url=None, secrets=(ctx.master_secret,),
                            app_key=ctx.app_key)
        with recorder.use_cassette(path.name):
            scenario.run(ctx)
        written.append(path)
    return written
