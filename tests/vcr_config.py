"""The vcrpy configuration of the cassettes: the readable YAML format, the recorder and its scrubber, the player.

Used by the replay tests and by ``scripts/record_cassettes.py`` (``make cassettes``), which
imports it from here: the tests never import ``scripts/``.

The scrubber drops the Authorization, Cookie and Set-Cookie headers, and rewrites every
other header value, URI and body that carries a credential: the master secret (also
percent-encoded), the Basic token of ``app_key:master_secret`` (with and without padding,
whatever the key's length), and any ``Basic <token>`` at all.
"""

from __future__ import annotations

import base64
import contextlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import vcr
import yaml

__all__ = ["CANONICAL_BASE", "SCRUBBED", "ReadableYamlSerializer", "make_scrubber", "make_vcr", "replay_vcr"]

#: Recorded sandbox URLs are rewritten to this reserved, never-resolving host, so a replay
#: can never reach anything, and a random port does not make two recordings differ.
CANONICAL_BASE = "http://sandbox.jmlink.invalid"
SCRUBBED = "<scrubbed>"
_MATCH_ON = ["method", "scheme", "host", "port", "path", "query"]
_DROPPED_REQUEST_HEADERS = ("authorization", "cookie", "proxy-authorization")
_DROPPED_RESPONSE_HEADERS = ("set-cookie", "authorization", "www-authenticate", "proxy-authenticate")
_BASIC = re.compile(r"\b([Bb]asic)(\s+)[A-Za-z0-9+/_-]{4,}={0,2}")


class ReadableYamlSerializer:
    """vcrpy serializer: safe YAML with UTF-8 text kept as is (bodies hold Chinese names)."""

    @staticmethod
    def serialize(cassette_dict: dict[str, Any]) -> str:
        return yaml.safe_dump(cassette_dict, allow_unicode=True, sort_keys=True, width=120)

    @staticmethod
    def deserialize(cassette_string: str) -> dict[str, Any]:
        return yaml.safe_load(cassette_string)


def make_scrubber(secrets: tuple[str, ...] = (), app_key: str | None = None):
    """A function ``text -> text`` that replaces every form of the credentials with :data:`SCRUBBED`."""
    secrets = tuple(s for s in secrets if s)
    values: set[str] = set()
    for secret in secrets:
        tokens = [base64.b64encode(secret.encode()).decode()]
        if app_key:
            tokens.append(base64.b64encode(f"{app_key}:{secret}".encode()).decode())
        values.update((secret, quote(secret, safe=""), *tokens, *(t.rstrip("=") for t in tokens)))
    ordered = sorted((v for v in values if v), key=len, reverse=True)

    def scrub(text: str) -> str:
        for value in ordered:
            text = text.replace(value, SCRUBBED)
        return _BASIC.sub(lambda m: f"{m.group(1)}{m.group(2)}{SCRUBBED}", text)

    return scrub


def make_vcr(cassette_dir: Path, *, record_mode: str, base_url: str | None,
             secrets: tuple[str, ...] = (), app_key: str | None = None) -> vcr.VCR:
    """A VCR that scrubs credentials and (for sandbox recordings) canonicalizes the base URL.

    Parameters
    ----------
    cassette_dir : Path
        Where the cassettes live.
    record_mode : str
        vcrpy's record mode.
    base_url : str or None
        The recorded server's root, rewritten to :data:`CANONICAL_BASE`; ``None`` keeps URLs.
    secrets : tuple of str
        The master secret(s) of the recording.
    app_key : str, optional
        The app key, so that the Basic token of ``app_key:secret`` is scrubbed where echoed.
    """
    scrub_text = make_scrubber(secrets, app_key)

    def scrub_body(holder: Any, body: Any) -> Any:
        if isinstance(body, bytes):  # vcrpy runs the response hook on playback too: keep bytes as bytes
            with contextlib.suppress(UnicodeDecodeError):
                return scrub_text(body.decode("utf-8")).encode("utf-8")
        elif isinstance(body, str):
            return scrub_text(body)
        return body

    def before_record_request(request):
        if base_url and request.uri.startswith(base_url):
            request.uri = CANONICAL_BASE + request.uri[len(base_url):]
        request.uri = scrub_text(request.uri)
        for name in list(request.headers):
            if name.lower() in _DROPPED_REQUEST_HEADERS:
                del request.headers[name]
            elif isinstance(request.headers[name], str):
                request.headers[name] = scrub_text(request.headers[name])
        request.body = scrub_body(request, request.body)
        return request

    def before_record_response(response):
        headers = response.get("headers", {})
        for name in list(headers):
            if name.lower() in _DROPPED_RESPONSE_HEADERS:
                del headers[name]
                continue
            value = headers[name]
            headers[name] = ([scrub_text(v) if isinstance(v, str) else v for v in value]
                             if isinstance(value, list) else scrub_text(value) if isinstance(value, str) else value)
        if "body" in response and "string" in response["body"]:
            response["body"]["string"] = scrub_body(response, response["body"]["string"])
        return response

    recorder = vcr.VCR(
        cassette_library_dir=str(cassette_dir),
        record_mode=record_mode,
        serializer="readable-yaml",
        decode_compressed_response=True,
        filter_headers=["authorization"],
        before_record_request=before_record_request,
        before_record_response=before_record_response,
        match_on=_MATCH_ON,
    )
    recorder.register_serializer("readable-yaml", ReadableYamlSerializer())
    return recorder


def replay_vcr(cassette_dir: Path) -> vcr.VCR:
    """A VCR that only replays: a request not in the cassette raises instead of going out."""
    player = vcr.VCR(cassette_library_dir=str(cassette_dir), record_mode="none", serializer="readable-yaml",
                     decode_compressed_response=True, match_on=_MATCH_ON)
    player.register_serializer("readable-yaml", ReadableYamlSerializer())
    return player
