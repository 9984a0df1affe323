"""``jmlink-analytics digest``: the morning digest to the team's group bots, once a day per destination.

Destinations come from the environment (``JMLINK_DIGEST_TO``: webhook URLs separated by
whitespace) or a file (``--to-file PATH``, one a line), never from the command line: a WeCom
URL holds its key, and a command line lands in the shell's history and in ``ps``. Each
destination that has the digest of the day (remembered beside the cache) is skipped unless
``--force``; a failed send exits non-zero and is sent by the next run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

from . import _commands as commands

__all__ = ["ENV_TO", "add_digest_command", "run_digest"]

#: The environment variable holding the destinations.
ENV_TO = "JMLINK_DIGEST_TO"
_WHERE = (f"destinations are webhook URLs in the environment variable {ENV_TO} (separated by spaces), or in a "
          "file given with --to-file PATH (one a line), never on the command line: a webhook URL holds its key")


class _RefuseTo(argparse.Action):
    """``--to`` is refused (the URL is not echoed: it holds the bot's key)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        parser.error(f"{option_string} is not accepted: {_WHERE}")


class _RefuseWords(argparse.Action):
    """Stray words (a pasted URL) are refused without echoing them."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        if values:
            parser.error(f"digest takes no positional arguments ({len(values)} given; not shown, as a webhook URL "
                         f"holds its key): {_WHERE}")


def _lookback_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 366:
        raise argparse.ArgumentTypeError(f"expected an integer from 1 to 366; got {text!r}")
    return value


def _top_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 50:
        raise argparse.ArgumentTypeError(f"expected an integer from 1 to 50; got {text!r}")
    return value


def _url_arg(text: str) -> str:
    from ..notify import check_report_url

    try:
        return check_report_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("report_url ", "")) from None


def add_digest_command(sub: Any, parents: list[argparse.ArgumentParser], formatter: type) -> None:
    """Add ``digest`` to the subcommands ``sub`` (the parser's shared options passed in, so no import cycle)."""
    from ..notify import DEFAULT_DAYS, DEFAULT_TOP

    digest = sub.add_parser(
        "digest", parents=parents, formatter_class=formatter,
        help="send the morning digest to WeCom, DingTalk, Feishu or Slack group bots (for cron)",
        description="Yesterday (China time) against the same weekday a week before, for clicks, installs and CTR, "
                    "and the surges and drops of clicks that are new or still going, sent once a day to each "
                    f"group bot named in {ENV_TO} or --to-file. Platforms are recognised from the URL: "
                    ".../cgi-bin/webhook/send?key= (WeCom), .../robot/send?access_token= (DingTalk), "
                    ".../open-apis/bot/v2/hook/TOKEN (Feishu), .../services/T../B../.. (Slack); append "
                    "#secret=SEC... for a DingTalk or Feishu bot that signs (the fragment is never sent).")
    digest.add_argument("--days", type=_lookback_arg, default=DEFAULT_DAYS, metavar="N",
                        help=f"report episodes that began in the last N days or are still going (1 to 366, "
                             f"default {DEFAULT_DAYS})")
    digest.add_argument("--top", type=_top_arg, default=DEFAULT_TOP, metavar="N",
                        help=f"list at most N surges and N drops (default {DEFAULT_TOP}); the rest are counted")
    digest.add_argument("--report-url", type=_url_arg, metavar="URL", help="link the full report at this address")
    digest.add_argument("--to-file", type=Path, metavar="PATH",
                        help=f"read destinations from this file, one a line (# starts a comment), with {ENV_TO}'s")
    digest.add_argument("--to", nargs="?", action=_RefuseTo, help=argparse.SUPPRESS)
    digest.add_argument("--dry-run", action="store_true",
                        help="print the message each destination would get; send nothing, remember nothing")
    digest.add_argument("--force", action="store_true", help="send even where today's digest went out already")
    digest.add_argument("stray", nargs="*", action=_RefuseWords, help=argparse.SUPPRESS)
    digest.set_defaults(handler=run_digest, command_parser=digest)


def _destinations(args: argparse.Namespace) -> list[Any]:
    from ..notify import parse_webhooks

    texts = [os.environ.get(ENV_TO, "")]
    if args.to_file is not None:
        path = args.to_file.expanduser()
        try:
            texts.append("\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                                   if not line.strip().startswith("#")))
        except OSError as exc:
            raise commands.UsageError(f"--to-file {args.to_file}: cannot read it ({exc.strerror or exc})") from None
    try:
        hooks = parse_webhooks(" ".join(texts))
    except ValueError as exc:
        where = f"{ENV_TO} or --to-file" if args.to_file is not None else ENV_TO
        raise commands.UsageError(f"{where}: {exc}") from None
    if not hooks and not args.dry_run:
        raise commands.UsageError(f"no destinations: {_WHERE}")
    return hooks


def run_digest(args: argparse.Namespace) -> int:
    """``jmlink-analytics digest``: fetch, build, and send (or print) the day's digest."""
    from .._dates import china_today
    from ..data import fetch_links, fetch_stats
    from ..errors import WebhookError
    from ..notify import LIMITS, Sender, SentLog, body_size, default_state_path, digest, fetch_start

    hooks = _destinations(args)  # a bad destination is a usage error before any request
    day = china_today() - dt.timedelta(days=1)
    log = None if args.dry_run else SentLog(default_state_path(args.cache))
    pending = list(hooks)
    if log is not None:
        for hook in hooks:
            at = log.sent_at(hook, day)
            if at is not None and not args.force:
                print(f"skipped {hook.name} {hook.masked}: the digest of {day:%Y-%m-%d} went out at {at} "
                      "(--force sends it again)")
                pending.remove(hook)
        if not pending:
            return 0
    with commands._connect(args) as (client, source), commands._store(args) as store:
        commands._status(args, f"listing the links of {source}...")
        links = fetch_links(client, store=store)
        keys = list(dict.fromkeys(links["link_key"].dropna()))
        if not keys:
            raise commands.CommandError(f"{source} has no links: there is nothing to digest")
        start = fetch_start(day, args.days)
        commands._status(args, f"fetching daily stats of {len(keys)} link(s): {start:%Y-%m-%d} to {day:%Y-%m-%d}...")
        stats = fetch_stats(client, keys, start=start, end=day, platform="all", store=store,
                            progress=commands._progress(args))
    result = digest(stats, links, day=day, days=args.days, top=args.top, report_url=args.report_url)
    if args.dry_run:
        if not hooks:
            print(f"(no destinations in {ENV_TO} or --to-file: the message as Markdown)")
            print(result.markdown)
        for hook in hooks:
            message, left_out = result.message(hook)
            counted, limit = LIMITS[hook.platform]
            size = body_size(hook, result.title)(message)
            dropped = f", {left_out} episode line(s) left out to fit" if left_out else ""
            print(f"--- {hook.name} {hook.masked}: {size:,} of {limit:,} bytes ({counted}){dropped} ---")
            print(message)
        sys.stdout.flush()
        return 0
    assert log is not None
    failed = 0
    with Sender() as sender:
        for hook in pending:
            message, _ = result.message(hook)
            try:
                sender.send(hook, message, result.title)
            except WebhookError as exc:
                failed += 1
                print(f"jmlink-analytics: error: the digest did not reach {hook.name} {hook.masked}: {exc}",
                      file=sys.stderr)
                continue
            log.record(hook, day)
            print(f"sent the digest of {day:%Y-%m-%d} to {hook.name} {hook.masked}")
    if failed:
        print(f"{failed} of {len(pending)} destination(s) failed; the next run sends to them again", file=sys.stderr)
        return 4
    return 0
