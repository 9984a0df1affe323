"""One parse of each answer: a field named twice is refused wherever it hides, without the hook on clean answers."""

from __future__ import annotations

import json

import pytest

from jmlink_analytics.client import _decode
from jmlink_analytics.errors import ResponseFormatError


def _rows(n: int) -> list[dict[str, object]]:
    return [{"iday": f"2024-06-{d + 1:02d}", "exposure_count": d, "click_count": 1, "open_count": 2,
             "install_count": 3} for d in range(n)]


@pytest.mark.parametrize("text, twice", [
    ('{"data": [{"iday": "2024-06-01", "x": {"a": 1, "a": 2}}]}', "'a'"),      # nested in a row
    ('{"a": "12:00:00", "a": 1}', "'a'"),                                     # a colon in a string
    ('[{"a": 1, "a": 2}]', "'a'"),                                            # a top-level list
    ('{"data": [{"iday": "2024-06-01", "iday": "2024-06-02"}], "t": "a:b:c"}', "'iday'"),
    ('{"data": {"rows": [{"k": 1, "k": 1}]}}', "'k'"),                        # two levels down
    ('{"d\\u0061ta": 1, "data": 2}', "'data'"),                               # the same name escaped
    ('{"a": "x\\":y", "a": 1}', "'a'"),                                          # an escaped quote, a colon
    ('{"a": "\\\\", "t": "1:2", "a": 1}', "'a'"),                                 # an escaped backslash
])
def test_a_field_named_twice_is_refused_wherever_it_is(text, twice):
    parsed, error = _decode.decode_answer(200, text.encode())
    assert parsed is None and isinstance(error, ResponseFormatError)
    assert "each field once" in str(error) and twice in str(error)


@pytest.mark.parametrize("text", ['{"a": "he said \\"x:y\\"", "b": "1:2"}', '{"a": "\\\\", "b": ":", "c": {"d": 1}}',
                                  '{"x": {"code": 3002, "message": "auth failed: x"}}'])
def test_escapes_and_colons_without_a_field_twice_are_taken(text):
    parsed, error = _decode.decode_answer(200, text.encode())
    assert error is None and parsed == json.loads(text)


def test_answers_with_colons_in_text_and_no_field_twice_are_taken():
    page = {"total": 1, "records": [{"id": 1, "link_key": "AAAA", "landing_page": "https://a.example/x?y=1:2",
                                     "create_time": "2020-08-03 12:00:00"}]}
    parsed, error = _decode.decode_answer(200, json.dumps(page).encode())
    assert error is None and parsed == page


def test_a_clean_stat_answer_is_proven_without_the_duplicate_key_hook(monkeypatch):
    # the hook costs about half a plain parse per answer: a stat answer never needs it
    def hook(pairs):
        raise AssertionError("the hook ran on a clean stat answer")

    monkeypatch.setattr(_decode, "no_duplicate_keys", hook)
    body = json.dumps({"data": _rows(30)}).encode()
    parsed, error = _decode.decode_answer(200, body)
    assert error is None and parsed == {"data": _rows(30)}
    compact = json.dumps({"data": _rows(30)}, separators=(",", ":")).encode()
    assert _decode.decode_answer(200, compact) == (parsed, None)
