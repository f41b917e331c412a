"""Who may use an email link on this request: its token, verified for the purchase in the
address, and the session beside it, which must be the token's recipient's or hold
``revoke-any:purchases`` (a logged-out recipient needs nothing but the token).

:func:`verified_link` is the link pages' dependency. A bad token or someone else's session
stops the request with its friendly page (:class:`LinkRefused`) before the handler runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import QueryParameter, URLEncodedBody
from litestar.response import Template

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.links import LinkClaims
from graceperiod.contracts.rpc import Actor
from graceperiod.gateway.auth.guards import identity_of
from graceperiod.gateway.auth.identity import link_recipient_actor
from graceperiod.gateway.links import views
from graceperiod.gateway.links.forms import LinkForm
from graceperiod.gateway.web.params import PurchaseId
from graceperiod.runtime.link_tokens import LinkTokenError, LinkTokenVerifier

Token = Annotated[str | None, QueryParameter(max_length=4096, description="The signed link token.", required=False)]
Verifier = NamedDependency[LinkTokenVerifier]


@dataclass(frozen=True)
class VerifiedLink:
    claims: LinkClaims
    actor: Actor
    """The token's recipient, known by the address only; or the signed-in person."""
    url: str
    """The link's own address, for the form and the refreshing pages."""
    token: str
    """The token itself: the revocation service verifies it again before acting on it."""

    @property
    def link_token(self) -> str | None:
        """What the request relies on: the recipient acts on the token's authority (forwarded);
        someone with revoke-any, as themselves (None)."""
        return self.token if self.actor.email == self.claims.recipient else None


class LinkRefused(Exception):  # noqa: N818 - a refusal, shown as a page
    def __init__(self, page: Template) -> None:
        super().__init__(page.context.get("title"))
        self.page = page


def refusal_page(_: Request[Any, Any, Any], exc: LinkRefused) -> Template:
    return exc.page


def verify(
    request: Request[Any, Any, Any], verifier: LinkTokenVerifier, purchase_id: str, token: str | None
) -> VerifiedLink:
    try:
        claims = verifier.verify(token, purchase_id=purchase_id)
    except LinkTokenError as error:
        raise LinkRefused(views.failure(error)) from error
    assert token is not None  # verified
    url = f"{request.url.path}?token={token}"
    identity = identity_of(request)
    if identity is None:
        return VerifiedLink(claims, link_recipient_actor(claims.recipient), url, token)
    if not identity.is_recipient(claims.recipient) and not identity.can(Permission.REVOKE_ANY_PURCHASES):
        raise LinkRefused(views.other_session(identity))
    return VerifiedLink(claims, identity.actor(ActionPath.EMAIL_LINK), url, token)


async def verified_link(
    request: Request[Any, Any, Any], verifier: Verifier, purchase_id: PurchaseId, token: Token = None
) -> VerifiedLink:
    return verify(request, verifier, purchase_id, token)


async def verified_link_with_form(
    request: Request[Any, Any, Any],
    verifier: Verifier,
    purchase_id: PurchaseId,
    data: URLEncodedBody[LinkForm],
    token: Token = None,
) -> VerifiedLink:
    """For the POST: the form is decoded with the address's parameters, so a malformed
    request is one 400 naming every bad field, whatever its token."""
    return verify(request, verifier, purchase_id, token)
