"""The one mapping from an HTTP answer to a typed error."""

import json
import pickle

import pytest

from jmlink_analytics import errors as e

DOCUMENTED = [  # (http status, code, message, class) straight from the contract's table
    (400, 3001, "missing auth", e.AuthError),
    (401, 3002, "auth failed", e.AuthError),
    (400, 3003, "missing body", e.InvalidRequestError),
    (403, 3004, "invalid body", e.InvalidRequestError),
    (400, 3005, "parameter invalid", e.InvalidRequestError),
    (403, 3006, "out of freq", e.RateLimitError),
    (404, 3007, "api not found", e.NotFoundError),
    (405, 3008, "request method not support", e.MethodNotAllowedError),
    (405, 3009, "app in black", e.BlacklistedError),
    (405, 3010, "this is vip function, pls contact to sales@jiguang.cn", e.VipRequiredError),
    (500, 3011, "server error", e.ServerError),
]


@pytest.mark.parametrize(("status", "code", "message", "cls"), DOCUMENTED)
def test_every_documented_code_maps_to_its_class(status, code, message, cls):
    body = json.dumps({"error": {"code": code, "message": message}})
    err = e.error_from_response(status, body.encode())
    assert type(err) is cls
    assert (err.code, err.http_status, err.message) == (code, status, message)
    assert str(code) in str(err) and message in str(err)
    assert isinstance(err, e.JMLinkError)


def test_only_passing_failures_are_retryable():
    retryable = {cls for _, _, _, cls in DOCUMENTED if cls(message="x").retryable}
    assert retryable == {e.RateLimitError, e.ServerError}
    assert e.TransportError("reset").retryable


def test_success_answers_are_not_errors():
    assert e.error_from_response(200, b'{"total": 0, "records": []}') is None
    assert e.error_from_response(200, b'{"error": {"code": 3000, "message": "success"}}') is None


@pytest.mark.parametrize("body", [b"", b"   ", b"<html>oops</html>", b'{total: 2, "records": [}'])
def test_a_success_status_with_a_body_that_is_not_json_is_a_format_error(body):
    err = e.error_from_response(200, body)
    assert isinstance(err, e.ResponseFormatError)
    assert err.http_status == 200


def test_5xx_without_json_is_a_server_error_with_an_excerpt():
    err = e.error_from_response(502, b"<html><body>Bad Gateway</body></html>")
    assert isinstance(err, e.ServerError) and err.code is None and err.http_status == 502
    assert "Bad Gateway" in err.message


def test_an_error_code_reported_with_http_200_is_still_an_error():
    err = e.error_from_response(200, b'{"error": {"code": 3002, "message": "auth failed"}}')
    assert isinstance(err, e.AuthError) and err.code == 3002


def test_unknown_code_falls_back_on_the_http_status():
    err = e.error_from_response(404, b'{"error": {"code": 3999, "message": "new"}}')
    assert isinstance(err, e.NotFoundError) and err.code == 3999


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Retry-After": "7"}, 7.0), ({"retry-after": "0"}, 0.0), ({"X-Rate-Limit-Reset": "12"}, 12.0), ({}, None)],
)
def test_rate_limit_errors_carry_the_wait_the_server_asked_for(headers, expected):
    body = b'{"error": {"code": 3006, "message": "out of freq"}}'
    err = e.error_from_response(403, body, headers=headers)
    assert isinstance(err, e.RateLimitError)
    assert err.retry_after == expected


def test_errors_survive_pickling_with_their_fields():
    err = e.AuthError("auth failed", code=3002, http_status=401)
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), back.code, back.http_status, back.message) == (e.AuthError, 3002, 401, "auth failed")


def _error_classes():
    return sorted({obj for obj in vars(e).values() if isinstance(obj, type) and issubclass(obj, Exception)
                   and obj.__module__ == e.__name__}, key=lambda cls: cls.__name__)


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_class_pickles_round_trip_with_every_field(cls):
    if issubclass(cls, e.JMLinkError):
        err = cls("it failed", code=3006, http_status=403, retryable=False)
        if issubclass(cls, e.RateLimitError):
            err = cls("out of freq", code=3006, http_status=403, retry_after=12.5)
    elif issubclass(cls, e.WebhookError):
        err = cls("Feishu", "sign match fail", code=19021, http_status=200, rate_limited=False)
    else:
        err = cls("it failed")
    err.note = "added later"  # state set after building survives too
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls and str(back) == str(err) and back.args == err.args
    assert vars(back) == vars(err)
    if isinstance(err, e.JMLinkError):
        assert (back.message, back.code, back.http_status, back.retryable) == (err.message, 3006, 403, err.retryable)
    if isinstance(err, e.RateLimitError):
        assert back.retry_after == 12.5 and back.retryable


def test_retryable_is_the_class_rule_unless_the_error_says_otherwise():
    assert e.TransportError("reset").retryable and not e.TransportError("bad cert", retryable=False).retryable
    assert not e.AuthError("no").retryable and e.ServerError("x").retryable


# -- secrets a server echoes ------------------------------------------------------------------
TOKEN = "N2Q0MzFlNDJkZmE2YTZkNjkzYWMyZDA0OjVlOTg3YWM2ZDJlMDRkOTVhOWQ4ZjBkMQ=="  # the documented example
SECRET = "5e987ac6d2e04d95a9d8f0d1"


@pytest.mark.parametrize(("status", "body"), [
    (401, json.dumps({"error": {"code": 3002, "message": f"auth failed: Authorization: Basic {TOKEN}"}})),
    (400, json.dumps({"error": {"code": 3005, "message": f"bad secret {SECRET}"}})),
    (502, f"<html>upstream said Basic {TOKEN} and {SECRET}</html>"),
    (200, f"not json, token {TOKEN}"),
])
def test_an_echoed_token_or_secret_is_masked_in_the_error(status, body):
    err = e.error_from_response(status, body.encode(), secrets=(SECRET, TOKEN))
    shown = f"{err} {err!r}"
    assert SECRET not in shown and TOKEN not in shown and TOKEN[:20] not in shown
    assert "***" in shown


def test_a_basic_token_is_masked_even_when_the_secrets_are_not_known():
    err = e.error_from_response(401, json.dumps({"error": {"code": 3002, "message": f"got Basic {TOKEN}"}}))
    assert TOKEN not in str(err) and str(err).endswith("got Basic ***")
    assert e.mask_secrets("basic auth required") == "basic auth required"  # plain words are left alone


def test_the_masking_block_hides_its_secrets_and_ends_with_the_block():
    body = json.dumps({"error": {"code": 3005, "message": f"bad {SECRET}"}})
    with e.masking([SECRET]):
        assert SECRET not in str(e.error_from_response(400, body))
    assert SECRET in str(e.error_from_response(400, body))  # outside the block nothing is known
