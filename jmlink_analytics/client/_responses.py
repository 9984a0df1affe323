"""Checks that an answer has the documented shape; anything else is a ResponseFormatError, never empty data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import ResponseFormatError
from ..schema import COUNTERS

__all__ = ["LinksPage", "parse_json", "parse_links_page", "parse_stat_rows"]



@dataclass(frozen=True)
class LinksPage:
    """One page of ``GET /v1/links``.

    Attributes
    ----------
    total : int
        The number of links of the app (not of this page).
    records : list of dict
        The page's link records, as the API sent them.
    """

    total: int
    records: list[dict[str, Any]] = field(repr=False)

    def __repr__(self) -> str:
        return f"LinksPage(total={self.total}, records=<{len(self.records)} records>)"


def parse_json(body: bytes | None, status: int) -> Any:
    try:
        return json.loads(body or b"")
    except ValueError:  # error_from_response already refuses non-JSON; this is a belt for braces
        raise ResponseFormatError("expected a JSON object, got a body that is not JSON", http_status=status) from None


def parse_links_page(body: Any) -> LinksPage:
    if not isinstance(body, dict) or "records" not in body or "total" not in body:
        raise ResponseFormatError(f"GET /v1/links: expected an object with 'total' and 'records'; got {_shape(body)}")
    total, records = body["total"], body["records"]
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise ResponseFormatError(f"GET /v1/links: 'total' must be a non-negative integer; got {total!r}")
    if records is None:
        records = []
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ResponseFormatError(f"GET /v1/links: 'records' must be a list of objects; got {_shape(records)}")
    for record in records:
        if "id" not in record or not isinstance(record.get("link_key"), str):
            raise ResponseFormatError(f"GET /v1/links: a record lacks 'id' or 'link_key': {_shape(record)}")
    return LinksPage(total=total, records=records)


def parse_stat_rows(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or "data" not in body:
        raise ResponseFormatError(f"stat answer: expected an object with 'data'; got {_shape(body)}")
    rows = body["data"]
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise ResponseFormatError(f"stat answer: 'data' must be a list; got {_shape(rows)}")
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("iday"), str):
            raise ResponseFormatError(f"stat answer: each row needs an 'iday' string; got {_shape(row)}")
        for counter in COUNTERS:
            value = row.get(counter, 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ResponseFormatError(f"stat answer: {counter} must be a non-negative integer; "
                                          f"got {value!r} on {row['iday']}")
    return rows


def _shape(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:120] + "…"
