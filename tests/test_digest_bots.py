"""The group bots' contracts as the digest meets them: addresses, signatures, the hour's window, sizes, rates,
typed errors (against the fakes of tests/webhook_fakes.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import pickle
import time
import urllib.parse

import pytest
import requests

from jmlink_analytics.errors import WebhookError
from jmlink_analytics.notify import Sender, Webhook, parse_webhooks
from jmlink_analytics.notify._platforms import check_answer, dingtalk_sign, feishu_sign, prepare
from tests.webhook_fakes import FAKES, SECRETS


class Clock:
    """A clock that a sleep moves forward: waits are instant and recorded."""

    def __init__(self, offset: float = 0.0):
        self.offset = offset
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += seconds


def test_signatures_are_the_documented_hmacs():
    # DingTalk: HMAC-SHA256 keyed by the secret over f"{ms}\n{secret}", base64 (then URL-encoded in the query)
    secret, ms = "SECabc", 1700000000123
    want = base64.b64encode(hmac.new(b"SECabc", b"1700000000123\nSECabc", hashlib.sha256).digest()).decode()
    assert dingtalk_sign(secret, ms) == want
    url, _ = prepare(Webhook.parse(f"https://oapi.dingtalk.com/robot/send?access_token=t#secret={secret}"), "m", "t",
                     now=ms / 1000)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["timestamp"] == [str(ms)] and query["sign"] == [want] and "secret" not in url
    # Feishu: HMAC-SHA256 keyed by f"{s}\n{secret}" over an empty message, base64, in the body
    want = base64.b64encode(hmac.new(b"1700000000\nsek", b"", hashlib.sha256).digest()).decode()
    assert feishu_sign("sek", 1700000000) == want
    _, body = prepare(Webhook.parse("https://open.feishu.cn/open-apis/bot/v2/hook/t#secret=sek"), "m", "t",
                      now=1700000000.5)
    assert b'"timestamp":"1700000000"' in body and want.encode() in body


def test_platforms_are_recognised_from_path_and_query_at_any_host():
    hooks = parse_webhooks("http://10.0.0.5:8080/proxy/cgi-bin/webhook/send?key=K1 "
                           "https://relay.example.com/robot/send?access_token=T1#secret=SEC1\n"
                           "https://open.larksuite.com/open-apis/bot/v2/hook/F1 "
                           "https://hooks.slack.com/services/T1/B1/S1")
    assert [h.platform for h in hooks] == ["wecom", "dingtalk", "feishu", "slack"]
    assert [h.token for h in hooks] == ["K1", "T1", "F1", "T1/B1/S1"]
    assert hooks[1].secret == "SEC1" and hooks[1].url.endswith("access_token=T1")  # the fragment is never sent
    for hook in hooks:
        for shown in (repr(hook), hook.masked):
            assert hook.token not in shown and (hook.secret or "\0") not in shown
    with pytest.raises(ValueError, match="#secret=") as info:
        Webhook.parse("https://oapi.dingtalk.com/robot/send?access_token=T9#sign=SEC9")
    assert "T9" not in str(info.value) and "SEC9" not in str(info.value)
    with pytest.raises(ValueError, match="expected one of"):
        Webhook.parse("ftp://oapi.dingtalk.com/robot/send?access_token=T9")


@pytest.mark.parametrize("platform", ["dingtalk", "feishu"])
def test_a_timestamp_outside_the_hour_is_refused_as_the_platform_does(platform):
    with FAKES[platform](secret=SECRETS[platform]) as bot:
        hook = Webhook.parse(bot.url)
        for offset, accepted in ((-3500, True), (-3700, False), (3700, False)):
            clock = Clock(offset)
            with Sender(clock=clock, sleep=clock.sleep) as sender:
                if accepted:
                    sender.send(hook, "早上好 🌅", "t")
                    continue
                with pytest.raises(WebhookError) as info:
                    sender.send(hook, "早上好 🌅", "t")
            assert info.value.code == {"dingtalk": 310000, "feishu": 19021}[platform]
            assert not info.value.retryable and clock.sleeps == []
        assert len(bot.accepted) == 1 and len(bot.requests) == 3


@pytest.mark.parametrize(("platform", "code"), [("wecom", 45009), ("dingtalk", 130101), ("feishu", 11232),
                                                ("slack", "rate_limited")])
def test_a_rate_limited_send_waits_and_tries_again(platform, code):
    clock = Clock()
    with FAKES[platform](secret=SECRETS.get(platform), clock=clock) as bot:
        hook = Webhook.parse(bot.url)
        bot.throttle(2)
        with Sender(clock=clock, sleep=clock.sleep) as sender:
            sender.send(hook, "message", "title")
        assert len(bot.requests) == 3 and len(bot.accepted) == 1
        assert len(clock.sleeps) == 2 and all(s > 0 for s in clock.sleeps)
        bot.throttle(100)
        with Sender(clock=clock, sleep=clock.sleep, max_wait=30) as sender, pytest.raises(WebhookError) as info:
            sender.send(hook, "message", "title")
        assert info.value.code == code and info.value.rate_limited and info.value.platform == platform
        assert sum(clock.sleeps[2:]) <= 30


@pytest.mark.parametrize("platform", ["wecom", "feishu"])
def test_many_sends_stay_within_the_documented_rate(platform):
    """The sender paces itself: 25 messages to one bot are all accepted, none refused as too fast."""
    clock = Clock()
    with FAKES[platform](clock=clock) as bot:
        hook = Webhook.parse(bot.url)
        with Sender(clock=clock, sleep=clock.sleep) as sender:
            for i in range(25):
                sender.send(hook, f"message {i}", "t")
        assert len(bot.accepted) == 25
        if platform == "wecom":  # 20 a minute: the 21st waited out the window
            assert sum(clock.sleeps) >= 59
        else:  # 5 a second
            assert sum(clock.sleeps) >= 4


@pytest.mark.parametrize(("platform", "code", "message"), [
    ("wecom", 40058, {"msgtype": "markdown", "markdown": {"content": "字" * 1366}}),
    ("dingtalk", 460101, {"msgtype": "markdown", "markdown": {"title": "t", "text": "x" * 20_001}}),
    ("feishu", 9499, {"msg_type": "text", "content": {"text": "x" * 20_500}}),
])
def test_the_fakes_refuse_what_is_over_the_documented_size(platform, code, message):
    import json

    with FAKES[platform]() as bot:
        hook = Webhook.parse(bot.url)
        answer = requests.post(hook.url, data=json.dumps(message, ensure_ascii=False).encode(), timeout=10)
        with pytest.raises(WebhookError) as info:
            check_answer(hook, answer.status_code, answer.text, dict(answer.headers))
        assert info.value.code == code and not info.value.retryable
        assert f"{platform} error {code}" in str(info.value)


def test_webhook_errors_pickle_and_never_show_the_key():
    hook = Webhook.parse("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY-77")
    with pytest.raises(WebhookError) as info:
        check_answer(hook, 200, '{"errcode":93000,"errmsg":"invalid webhook url KEY-77"}', {})
    error = pickle.loads(pickle.dumps(info.value))
    assert (error.platform, error.code, error.http_status) == ("wecom", 93000, 200)
    assert "KEY-77" not in str(error) and "KEY-77" not in repr(error)


def test_digest_send_tries_every_destination_and_raises_the_first_refusal():
    import datetime as dt

    import jmlink_analytics as jm
    from tests.helpers_frames import links_frame, series_frame

    start = (dt.date.today() - dt.timedelta(days=70)).isoformat()
    stats = series_frame({"AAAA": [500] * 69 + [0]}, start=start)
    digest = jm.digest(stats, links_frame({"AAAA": "微信"}, {"AAAA": "新人礼包 🎁"}), day=stats["date"].max())
    with FAKES["wecom"]() as wecom, FAKES["feishu"](secret=SECRETS["feishu"]) as feishu:
        gone = Webhook.parse(wecom.url.replace(wecom.token, "revoked-key"))
        with pytest.raises(WebhookError) as info:
            digest.send([gone, Webhook.parse(feishu.url), Webhook.parse(wecom.url)])
        assert info.value.code == 93000 and "revoked-key" not in str(info.value)
        assert len(feishu.accepted) == 1 and len(wecom.accepted) == 1
        text = feishu.accepted[0]["card"]["elements"][0]["content"]
        assert "新人礼包 🎁 · 微信 `AAAA`" in text and feishu.accepted[0]["card"]["header"]["title"]["content"] == \
            digest.title
