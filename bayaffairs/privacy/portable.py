"""Domain records as plain JSON values, for a rider's export.

An export holds the records as the service keeps them (field names as in the API, times in
RFC 3339 with their offset, money as minor units and currency), so it is converted generically
rather than through each endpoint's schema: a field added to a record is exported without
anyone remembering to.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bayaffairs.i18n import Text


def portable(value: Any) -> Any:
    """`value` with dataclasses as objects, times as ISO 8601, decimals as strings, bytes as hex."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Text):
        return value.as_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: portable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): portable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [portable(v) for v in value]
    raise TypeError(f"cannot export a {type(value).__name__}")
