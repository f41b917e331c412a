"""Who is told about a purchase."""

from __future__ import annotations

from collections.abc import Iterable

from graceperiod.contracts.upstream import PurchaseExecuted


def normalise(address: str) -> str | None:
    """Trimmed, lower-cased address, or None when it cannot be an email address."""
    text = address.strip().lower()
    local, at, domain = text.partition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in text) or "@" in domain:
        return None
    return text


def resolve_recipients(purchase: PurchaseExecuted, global_address: str | None) -> list[str]:
    """The global notification address, every account contact and the requester (a
    discovered purchase has none): normalised, deduplicated case-insensitively, in that order."""
    candidates: Iterable[str] = [
        *([global_address] if global_address else []),
        *purchase.account.contact_emails,
        *([purchase.requested_by.email] if purchase.requested_by else []),
    ]
    seen: dict[str, None] = {}
    for candidate in candidates:
        if (address := normalise(candidate)) is not None:
            seen.setdefault(address, None)
    return list(seen)
