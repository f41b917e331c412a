"""The seeded demo users offered by the dev sign-in (``GATEWAY_DEV_SIGN_IN=true`` only)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoUser:
    user_id: str
    name: str
    email: str
    roles: tuple[str, ...]
    blurb: str


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("u-admin", "Ada Admin", "admin@example.com", ("admin",), "may revoke any purchase, release accounts"),
    DemoUser("u-alice", "Alice Example", "alice@example.com", ("user",), "may revoke the purchases she requested"),
    DemoUser("u-bob", "Bob Example", "bob@example.com", ("user",), "may revoke the purchases he requested"),
)


def demo_user(user_id: str) -> DemoUser | None:
    return next((user for user in DEMO_USERS if user.user_id == user_id), None)
