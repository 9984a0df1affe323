"""One parse of each answer: bytes -> JSON, or the typed error the answer means.

The API sends UTF-8 JSON. A success body is decoded strictly and parsed once; every way it can
fail is a :class:`~jmlink_analytics.errors.ResponseFormatError` that names what was wrong:
bytes that are not UTF-8 (no U+FFFD replacement: a name or channel changed behind the user's
back is worse than a failed link, and the user can ask again), a field named twice (json
keeps the last one silently), nesting too deep for the parser (a bare ``RecursionError``
otherwise), a ``"\\ud800"`` escape that is valid JSON but not text (pyarrow, SQLite and
``str.encode`` refuse it later, far from the answer). The same parse decides success:
:func:`~jmlink_analytics.errors.error_from_answer` maps it to an error without parsing again.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import JMLinkError, ResponseFormatError, error_from_answer, mask_secrets
from ._responses import DuplicateKeyError, no_duplicate_keys

__all__ = ["decode_answer"]

#: A ``\uD800``-``\uDFFF`` escape (either case): only then can the parsed JSON hold a surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def decode_answer(status: int, body: bytes, headers: Any = None) -> tuple[Any, JMLinkError | None]:
    """Parse an answer once: ``(json, None)`` for a success, ``(None, error)`` otherwise.

    Parameters
    ----------
    status : int
        The HTTP status.
    body : bytes
        The whole body, decoded from gzip/deflate.
    headers : mapping, optional
        The answer's headers (``Retry-After`` of a 3006).

    Returns
    -------
    (Any, JMLinkError or None)
        The JSON value and ``None``, or ``None`` and the typed error.
    """
    success = 200 <= status < 300
    try:
        text = body.decode("utf-8-sig" if body.startswith(b"\xef\xbb\xbf") else "utf-8")
    except UnicodeDecodeError as exc:
        if success:
            return None, ResponseFormatError(
                f"the answer is not valid UTF-8 text (byte {body[exc.start]:#04x} at position {exc.start})",
                http_status=status, retryable=False)
        text = body.decode("utf-8", "replace")  # an error page: only quoted in the message
    parsed: Any = None
    if text.strip():
        try:
            parsed = json.loads(text)
            if not _no_field_twice(parsed, text):  # not proven free of a field named twice: ask the hook
                parsed = json.loads(text, object_pairs_hook=no_duplicate_keys)
        except DuplicateKeyError as exc:  # its message quotes the object: the secrets of the masking block go
            if success:
                return None, ResponseFormatError(mask_secrets(f"expected JSON objects with each field once; {exc}"),
                                                 http_status=status)
        except RecursionError:
            if success:
                return None, ResponseFormatError("the answer's JSON is nested too deeply to be read (the API's "
                                                 "answers nest 3 levels)", http_status=status)
        except ValueError:
            parsed = None
    if success and parsed is not None and _SURROGATE_ESCAPE.search(text):
        where = _lone_surrogate(parsed)
        if where is not None:
            return None, ResponseFormatError(mask_secrets(f"the answer holds a lone surrogate escape at {where}: "
                                                          "valid JSON, but not text"), http_status=status)
    error = error_from_answer(status, parsed, text=text, headers=headers)
    return (parsed, None) if error is None else (None, error)


def _no_field_twice(parsed: Any, text: str) -> bool:
    """Whether the count of colons proves that no object of ``text`` (parsed as ``parsed``) names a field twice.

    The proof, without a Python call per object (the hook costs about half a plain parse):
    every field of the text is followed by a ``:`` outside any string, a literal character
    (JSON has no escape for it). So ``colons`` (those outside strings, or all of them) >= the
    fields in the text >= the fields parsed (a field named twice is kept once) >=
    :func:`_keys_counted` (each parsed object counted at most once). When the two ends are
    equal, all are: no field was named twice. Outside strings is exact when no quote follows a
    backslash (then every ``"`` opens or closes a string, whatever else is escaped). A stat
    answer is proven by the first count; a page of links (times and URLs hold colons) by the
    second. Otherwise (a nested object left uncounted, an escaped quote) the caller asks the hook.
    """
    counted = _keys_counted(parsed)
    if counted == text.count(":"):
        return True
    return '\\"' not in text and counted == "".join(text.split('"')[0::2]).count(":")


def _keys_counted(value: Any) -> int:
    """Fields of the objects of ``value`` counted at C speed: the top object's and those of its lists of objects."""
    if type(value) is not dict:
        return 0 if type(value) is not list or set(map(type, value)) != {dict} else sum(map(len, value))
    count = len(value)
    for item in value.values():
        if type(item) is list and item and set(map(type, item)) == {dict}:
            count += sum(map(len, item))
        elif type(item) is dict:
            count += len(item)
    return count


def _lone_surrogate(value: Any) -> str | None:
    """Where ``value`` holds a string that is not text (a lone surrogate), e.g. ``records[3].name``; else None."""
    todo: list[tuple[str, Any]] = [("the answer", value)]
    while todo:
        where, item = todo.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                return f"{where} ({item[max(exc.start - 10, 0):exc.end + 10]!r})"
        elif isinstance(item, dict):
            for name, field in item.items():
                if _is_not_text(name):
                    return f"{where}: the name of a field ({name!r})"
                todo.append((name if where == "the answer" else f"{where}.{name}", field))
        elif isinstance(item, list):
            todo += [(f"{'' if where == 'the answer' else where}[{i}]", element) for i, element in enumerate(item)]
    return None


def _is_not_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
