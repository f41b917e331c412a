"""Providers' timestamps as datetimes: AWS's and Azure's replies give them as ISO 8601 text
(``Z`` or an offset) or, through their SDKs, already as datetimes."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """``value`` as a datetime; None when the reply has none."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
