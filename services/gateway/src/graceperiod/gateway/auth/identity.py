"""The authenticated person, as every route sees them, and the role → permission table."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.revocation_views import may_act_on
from graceperiod.contracts.rpc import Actor
from graceperiod.contracts.upstream import PurchaseExecuted

AuthMethod = Literal["session", "bearer"]

_IDENTIFIER = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


def permissions_for(roles: Iterable[str], table: Mapping[str, Sequence[Permission]]) -> frozenset[Permission]:
    """Union of the permissions of every role; unknown roles grant nothing."""
    return frozenset(permission for role in roles for permission in table.get(role, ()))


def roles_for(values: Iterable[str], mapping: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The Grace Period roles an identity provider's claim values (groups, roles, a hosted
    domain) map to, in mapping order; values without a mapping give nothing."""
    found = {role for value in values for role in mapping.get(value, ())}
    return tuple(sorted(found))


def oidc_user_id(issuer: str, subject: str) -> str:
    """Grace Period's user id of an identity provider's person: issuer plus ``sub``, short
    enough for the contracts' identifiers. ``sub`` is unique only within its issuer."""
    issuer_tag = hashlib.sha256(issuer.encode()).hexdigest()[:12]
    readable = f"oidc:{issuer_tag}:{subject}"
    if len(readable) <= 128 and _IDENTIFIER.match(subject):
        return readable
    return f"oidc:{issuer_tag}:sha256:{hashlib.sha256(subject.encode()).hexdigest()[:48]}"


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, or by a dotted path into nested objects (``realm_access.roles``).
    A name that itself contains dots (``https://example.com/roles``) is tried first."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def claim_strings(claims: Mapping[str, Any], path: str) -> list[str]:
    """The string values of a claim: one string, or the strings of a list."""
    value = claim_at(claims, path)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def unverified_address(user_id: str) -> str:
    """What stands for the email of a person whose provider did not verify one: the
    contract's actor needs an address, and this one (``.invalid``, RFC 2606) can never be a
    purchase's requester or a link's recipient, so it grants nothing."""
    return f"unverified-{hashlib.sha256(user_id.encode()).hexdigest()[:16]}@email.invalid"


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str
    email: str | None
    """Lower-cased; None when the identity provider did not say it verified the address."""
    name: str | None
    roles: tuple[str, ...]
    permissions: frozenset[Permission]
    method: AuthMethod

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def can_revoke(self, purchase: PurchaseExecuted) -> bool:
        """Whether this person may act on ``purchase`` themselves, without an email link (the
        revocation service's rule; an unverified address stands for no email, so it matches
        no one's)."""
        return may_act_on(self.actor(ActionPath.DASHBOARD), purchase)

    def is_recipient(self, email: str) -> bool:
        return self.email is not None and self.email.strip().lower() == email.strip().lower()

    def actor(self, path: ActionPath) -> Actor:
        return Actor(
            user_id=self.user_id,
            email=self.email or unverified_address(self.user_id),
            name=self.name,
            permissions=sorted(self.permissions),
            path=path,
        )


def link_recipient_actor(email: str) -> Actor:
    """The actor for a logged-out recipient of an email link: known only by their address.

    Their authority is the link token itself (``link_token`` on the message, which the
    revocation service verifies again), not a permission, so the permission list is empty.
    """
    candidate = f"email:{email}"
    user_id = (
        candidate if _IDENTIFIER.match(candidate) else f"email-sha256:{hashlib.sha256(email.encode()).hexdigest()[:32]}"
    )
    return Actor(user_id=user_id, email=email, name=None, permissions=[], path=ActionPath.EMAIL_LINK)
