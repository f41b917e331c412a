"""The authenticated person, as every route sees them, and the role → permission table."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.rpc import Actor

AuthMethod = Literal["session", "bearer"]

_IDENTIFIER = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


def permissions_for(roles: Iterable[str], table: Mapping[str, Sequence[Permission]]) -> frozenset[Permission]:
    """Union of the permissions of every role; unknown roles grant nothing."""
    return frozenset(permission for role in roles for permission in table.get(role, ()))


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str
    email: str
    name: str | None
    roles: tuple[str, ...]
    permissions: frozenset[Permission]
    method: AuthMethod

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def can_revoke(self, requested_by_user_id: str) -> bool:
        """Whether this person may act on a purchase requested by ``requested_by_user_id``."""
        return self.can(Permission.REVOKE_ANY_PURCHASES) or (
            self.can(Permission.REVOKE_OWN_PURCHASES) and requested_by_user_id == self.user_id
        )

    def is_recipient(self, email: str) -> bool:
        return self.email.strip().lower() == email.strip().lower()

    def actor(self, path: ActionPath) -> Actor:
        return Actor(
            user_id=self.user_id,
            email=self.email,
            name=self.name,
            permissions=sorted(self.permissions),
            path=path,
        )


def link_recipient_actor(email: str) -> Actor:
    """The actor for a logged-out recipient of an email link: known only by their address.

    Their authority is the link token itself (``via_link_token`` on the message), not a
    permission, so the permission list is empty.
    """
    candidate = f"email:{email}"
    user_id = (
        candidate if _IDENTIFIER.match(candidate) else f"email-sha256:{hashlib.sha256(email.encode()).hexdigest()[:32]}"
    )
    return Actor(user_id=user_id, email=email, name=None, permissions=[], path=ActionPath.EMAIL_LINK)
