"""The morning digest (issue 21): its numbers, its fit to each bot's size limit, and the command line
against local fakes of WeCom, DingTalk, Feishu and Slack (tests/webhook_fakes.py)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re

import numpy as np
import pandas as pd
import pytest

import jmlink_analytics as jm
from jmlink_analytics._dates import china_today
from jmlink_analytics.cli import main
from jmlink_analytics.notify import LIMITS, Webhook, default_state_path, fetch_start
from tests.helpers_frames import links_frame, series_frame
from tests.webhook_fakes import FAKES, SECRETS, message_text

YESTERDAY = china_today() - dt.timedelta(days=1)
#: Far enough back to reach the sandbox's most recent planted spike (16 days before its today).
LOOKBACK = 21


@pytest.fixture(scope="module")
def sandbox_data():
    """The CLI's --sandbox app (seed 0, today = China's today), fetched as the digest fetches it."""
    from jmlink_analytics.cli._commands import SANDBOX_OPTIONS

    with jm.Sandbox(**SANDBOX_OPTIONS) as sb, sb.client() as client:
        links = jm.fetch_links(client)
        stats = jm.fetch_stats(client, start=fetch_start(YESTERDAY, LOOKBACK), end=YESTERDAY, progress=False)
        yield sb.app, stats, links


def _planted(app, stats):
    """The planted spike the lookback reaches, and the links the sandbox stopped that are still at zero."""
    start = YESTERDAY - dt.timedelta(days=LOOKBACK - 1)
    spikes = [key for key, day in app.spikes if day >= start]
    final = stats[~stats["is_partial"]]
    last_days = final[final["date"] > final["date"].max() - pd.Timedelta(days=5)]
    quiet = last_days.groupby("link_key", observed=True)["click_count"].sum()
    before = final.groupby("link_key", observed=True)["click_count"].sum()
    stopped = {str(k) for k in quiet.index if quiet[k] == 0 and before[k] > 100}
    return spikes, stopped


def _section(markdown: str, title: str) -> str:
    part = markdown.split(title, 1)[1]
    return part.split("\n\n", 1)[0]


def test_the_sandbox_digest_names_the_planted_surge_and_a_link_that_stopped(sandbox_data):
    app, stats, links = sandbox_data
    spikes, stopped = _planted(app, stats)
    assert spikes and stopped  # what the sandbox plants (sandbox/app.py): spikes, and campaigns that end
    digest = jm.digest(stats, links, days=LOOKBACK)
    surges = _section(digest.markdown, "Surges in clicks")
    drops = _section(digest.markdown, "Drops in clicks")
    assert any(f"`{key}`" in surges for key in spikes)
    named = set(re.findall(r"`([A-Za-z0-9]{4})`", drops))
    assert named & stopped
    name = links.set_index("link_key").loc[spikes[0], "name"]
    assert f"{name} · " in surges  # named by link name and channel, with the key
    assert "still going" in drops


def test_the_headline_is_yesterday_against_the_same_weekday_a_week_before(sandbox_data):
    _, stats, links = sandbox_data
    digest = jm.digest(stats, links)
    day = stats[stats["date"] == pd.Timestamp(YESTERDAY)]
    week = stats[stats["date"] == pd.Timestamp(YESTERDAY - dt.timedelta(days=7))]
    clicks, before = int(day["click_count"].sum()), int(week["click_count"].sum())
    installs = int(day["install_count"].sum())
    ctr = clicks / day["exposure_count"].sum()
    text = digest.markdown
    assert f"Clicks **{clicks:,}** ({clicks / before - 1:+.1%} vs {before:,})".replace("(-", "(\u2212") in text
    assert f"Installs **{installs:,}**" in text
    assert f"CTR **{ctr:.1%}**" in text
    assert f"{YESTERDAY:%a %m-%d} vs {YESTERDAY - dt.timedelta(days=7):%a %m-%d}" in text
    assert "still partial" in text  # yesterday is partial in fetch_stats: the caveat says so
    assert digest._repr_markdown_() == text
    assert "**" not in digest.text and "Clicks" in digest.text


def _crowded(n: int = 60):
    """n links, each with one 8x day, named in Chinese with emoji: more episodes than any bot takes."""
    days = 70
    values = {}
    for i in range(n):
        series = [1000 + (d * 37 + i * 11) % 60 for d in range(days)]
        series[days - 2 - (i % 30)] = 8000
        values[f"K{i:03d}"] = series
    start = (YESTERDAY - dt.timedelta(days=days - 1)).isoformat()
    stats = series_frame(values, start=start, partial_last=1)
    names = {key: f"🎉春节红包大促销活动第{i}期🧧（限时）" for i, key in enumerate(values)}
    links = links_frame({key: "小红书" for key in values}, names)
    return stats, links, names


def test_a_long_digest_fits_each_bot_by_dropping_whole_lines_least_important_first():
    stats, links, names = _crowded()
    digest = jm.digest(stats, links, days=40, top=50)
    full = digest.markdown.split("\n")
    assert sum("🎉春节" in line for line in full) == 50
    hook = Webhook.parse("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1")
    message, left_out = digest.message(hook)
    assert len(message.encode("utf-8")) <= 4096 < len(digest.markdown.encode("utf-8"))
    lines = message.split("\n")
    shown = [line for line in lines if "🎉春节" in line]
    assert left_out > 0 and len(shown) == 50 + 0 - left_out
    assert all(line in full for line in lines if "not shown" not in line)  # no line or character cut in half
    first = [line for line in full if "🎉春节" in line]
    assert shown == first[: len(shown)]  # the most important (first-ranked) lines are the ones kept
    more = int(re.search(r"… and (\d+) more surges not shown", message).group(1))
    assert more == digest.data.more_surges + left_out
    assert any(names[key] in message for key in names)  # Chinese text and emoji intact
    feishu = Webhook.parse("https://open.feishu.cn/open-apis/bot/v2/hook/t0k#secret=s")
    assert digest.message(feishu)[1] == 0  # 20 KB holds them all


def _run(capsys, *argv):
    status = main(["digest", "--sandbox", "--no-progress", "--days", str(LOOKBACK), *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.mark.parametrize("platform", ["wecom", "dingtalk", "feishu", "slack"])
def test_each_bot_gets_the_digest_once_signed_within_its_limit(platform, monkeypatch, capsys, sandbox_data):
    app, stats, _ = sandbox_data
    spikes, stopped = _planted(app, stats)
    with FAKES[platform](secret=SECRETS.get(platform)) as bot:
        monkeypatch.setenv("JMLINK_DIGEST_TO", bot.url)
        status, out, err = _run(capsys)
        assert status == 0, err
        assert len(bot.accepted) == 1 and len(bot.requests) == 1
        text = message_text(platform, bot.accepted[0])
        assert any(f"`{key}`" in text for key in spikes) and set(re.findall(r"`(\w{4})`", text)) & stopped
        body = bot.requests[0].body
        counted, limit = LIMITS[platform]
        size = len(text.encode()) if counted == "markdown.content" else len(text) if counted == "text" else len(body)
        assert size <= limit
        if platform in SECRETS:  # the fake verified the signature; the signature is where the platform wants it
            assert ("sign" in bot.requests[0].query) == (platform == "dingtalk")
            assert ("sign" in json.loads(body)) == (platform == "feishu")
        assert "sent the digest" in out

        status, out, _ = _run(capsys)  # the same day again: nothing sent
        assert status == 0 and len(bot.requests) == 1 and "skipped" in out and "--force" in out
        status, out, _ = _run(capsys, "--force")
        assert status == 0 and len(bot.accepted) == 2


@pytest.mark.parametrize(("platform", "code"), [("dingtalk", 310000), ("feishu", 19021)])
def test_a_bad_signature_fails_the_run_and_the_next_run_sends(platform, code, monkeypatch, capsys):
    with FAKES[platform](secret=SECRETS[platform]) as bot:
        monkeypatch.setenv("JMLINK_DIGEST_TO", bot.url.replace(SECRETS[platform], "SECwrong0000"))
        status, _, err = _run(capsys)
        assert status == 4 and not bot.accepted
        assert f"error {code}" in err and ("DingTalk" in err or "Feishu" in err)
        assert len(bot.requests) == 1  # a refused signature is not retried
        assert not default_state_path().exists()
        monkeypatch.setenv("JMLINK_DIGEST_TO", bot.url)
        status, _out, err = _run(capsys)
        assert status == 0 and len(bot.accepted) == 1


def test_one_failed_destination_does_not_keep_the_others_from_their_digest(monkeypatch, capsys):
    with FAKES["wecom"]() as good, FAKES["feishu"]() as gone:
        broken = gone.url.replace(gone.token, "no-such-bot")
        monkeypatch.setenv("JMLINK_DIGEST_TO", f"{broken}\n{good.url}")
        status, _, err = _run(capsys)
        assert status == 4 and len(good.accepted) == 1 and "error 19001" in err
        status, _out, err = _run(capsys)  # only the failed one is tried again
        assert status == 4 and len(good.requests) == 1 and len(gone.requests) == 2


def test_dry_run_prints_each_message_with_its_size_and_sends_nothing(monkeypatch, capsys):
    with FAKES["wecom"]() as wecom, FAKES["dingtalk"](secret=SECRETS["dingtalk"]) as ding:
        monkeypatch.setenv("JMLINK_DIGEST_TO", f"{wecom.url} {ding.url}")
        status, out, err = _run(capsys, "--dry-run")
        assert status == 0, err
        assert not wecom.requests and not ding.requests and not default_state_path().exists()
        assert re.search(r"--- WeCom http://127\.0\.0\.1:\d+/cgi-bin/webhook/send\?key=\*\*\*: [\d,]+ of 4,096 bytes",
                         out)
        assert "--- DingTalk" in out and "access_token=***#secret=***" in out
        assert out.count("JMLink daily digest") == 2 and "Surges in clicks" in out


def test_no_secret_in_any_output_log_or_state(monkeypatch, capsys, caplog):
    bots = [FAKES[p](secret=SECRETS.get(p)) for p in FAKES]
    for bot in bots:
        bot.__enter__()
    try:
        bots[0].throttle(1)  # a retry, logged
        monkeypatch.setenv("JMLINK_DIGEST_TO", " ".join(bot.url for bot in bots) + " "
                           + bots[2].url.replace(bots[2].token, "gone-token-77"))
        with caplog.at_level(logging.DEBUG):
            outputs = [_run(capsys, "-vv", "--dry-run"), _run(capsys, "-vv")]
        state = default_state_path().read_text(encoding="utf-8")
    finally:
        for bot in bots:
            bot.__exit__(None, None, None)
    assert outputs[1][0] == 4 and all(len(bot.accepted) == 1 for bot in bots)
    shown = "\n".join([*(o + e for _, o, e in outputs), caplog.text, state])
    for bot in bots:
        for secret in filter(None, (bot.token, bot.secret, *bot.token.split("/")[2:])):
            assert secret not in shown
    assert "gone-token-77" not in shown and len(json.loads(state)["sent"]) == 4


def test_destinations_never_come_from_the_command_line(capsys):
    leak = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=LEAKED-KEY-1"
    for argv in (["--to", leak], [f"--to={leak}"], [leak]):
        with pytest.raises(SystemExit) as exit_info:
            main(["digest", "--sandbox", *argv])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2
        assert "JMLINK_DIGEST_TO" in err and "--to-file" in err and "LEAKED-KEY-1" not in err


def test_bad_or_missing_destinations_are_usage_errors_before_any_request(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("JMLINK_DIGEST_TO", "https://example.com/hooks/abc?token=TOPSECRET9")
    status, _out, err = _run(capsys)
    assert status == 2 and "expected one of" in err and "TOPSECRET9" not in err
    assert "listing the links" not in err
    monkeypatch.setenv("JMLINK_DIGEST_TO", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K#secret=S")
    status, _, err = _run(capsys)
    assert status == 2 and "not signed" in err
    monkeypatch.delenv("JMLINK_DIGEST_TO")
    status, _, err = _run(capsys)
    assert status == 2 and "no destinations" in err and "JMLINK_DIGEST_TO" in err
    status, _, err = _run(capsys, "--to-file", str(tmp_path / "missing.txt"))
    assert status == 2 and "--to-file" in err


def test_destinations_from_a_file_one_a_line(monkeypatch, capsys, tmp_path):
    with FAKES["slack"]() as slack, FAKES["feishu"](secret=SECRETS["feishu"]) as feishu:
        path = tmp_path / "bots.txt"
        path.write_text(f"# the team's bots\n{slack.url}\n\n{feishu.url}\n{slack.url}\n", encoding="utf-8")
        monkeypatch.delenv("JMLINK_DIGEST_TO", raising=False)
        status, _out, err = _run(capsys, "--to-file", str(path), "--report-url", "https://bi.example.com/r/index.html")
        assert status == 0, err
        assert len(slack.accepted) == 1 and len(feishu.accepted) == 1  # a destination listed twice gets one
        assert "<https://bi.example.com/r/index.html|Full report>" in slack.accepted[0]["text"]
        assert "[Full report](https://bi.example.com/r/index.html)" in message_text("feishu", feishu.accepted[0])


def test_bad_arguments_name_the_argument_and_the_allowed_values():
    stats, links, _ = _crowded(3)
    with pytest.raises(ValueError, match=r"days must be an integer from 1 to 366; got 0"):
        jm.digest(stats, links, days=0)
    with pytest.raises(ValueError, match=r"top must be an integer from 1 to 50"):
        jm.digest(stats, links, top=np.int64(99))
    with pytest.raises(ValueError, match="report_url must be an http"):
        jm.digest(stats, links, report_url="javascript:alert(1)")
