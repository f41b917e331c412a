"""What the dashboard's session cookie holds, and how it becomes an :class:`Identity`.

The cookie is Litestar's client-side session (encrypted and authenticated with AES-GCM,
HttpOnly, SameSite=Lax, Secure behind TLS). It stores who signed in and their roles, never
permissions: those are looked up in the role table on every request, so a configuration
change applies at once. The session carries its own expiry, checked against the clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from graceperiod.contracts.enums import Permission
from graceperiod.gateway.auth.identity import Identity, permissions_for


def session_payload(
    *, user_id: str, email: str, name: str | None, roles: Sequence[str], now: datetime, max_age: timedelta
) -> dict[str, Any]:
    return {
        "uid": user_id,
        "email": email.strip().lower(),
        "name": name,
        "roles": list(roles),
        "exp": int((now + max_age).timestamp()),
    }


def session_identity(
    session: Mapping[str, Any] | None, *, table: Mapping[str, Sequence[Permission]], now: datetime
) -> Identity | None:
    if not session:
        return None
    uid, email, roles, exp = session.get("uid"), session.get("email"), session.get("roles"), session.get("exp")
    if not isinstance(uid, str) or not isinstance(email, str) or not isinstance(roles, list):
        return None
    if not isinstance(exp, int) or now.timestamp() >= exp:
        return None
    name = session.get("name")
    role_names = tuple(r for r in roles if isinstance(r, str))
    return Identity(
        user_id=uid,
        email=email,
        name=name if isinstance(name, str) else None,
        roles=role_names,
        permissions=permissions_for(role_names, table),
        method="session",
    )
