"""Email-link access, verified by the revocation service itself.

The gateway verifies a link before it shows a page or sends a command, but the revocation
service does not take its word for it: a request acting on an email link carries the
notifier-signed token (``link_token``), and the service verifies it with the notifier's
public keys (the shared rule, :mod:`graceperiod.runtime.link_tokens`), for this very purchase
and for the actor's address. Only a verified link lets its recipient act
(:func:`graceperiod.contracts.revocation_views.may_act_on`); an actor claiming the email-link path
without a token that verifies is just an actor without permissions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from faststream.rabbit.annotations import RabbitMessage
from pydantic import TypeAdapter

from graceperiod.contracts.links import LinkClaims
from graceperiod.contracts.rpc import ErrorCode, Problem
from graceperiod.revocation.commands import Command
from graceperiod.revocation.queries import Query
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.link_tokens import LinkTokenError, LinkTokenVerifier
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.requests import decode_request, refuse
from graceperiod.runtime.signing_keys import PublicKeys

log = get_logger("graceperiod.revocation.links")

R = TypeVar("R", bound="Command | Query")


class LinkAccess:
    """The notifier's public link keys (read at start-up) and the check of a forwarded token."""

    def __init__(self, clock: Clock, *, leeway_seconds: int = 0, keys: PublicKeys | None = None) -> None:
        self.verifier = LinkTokenVerifier(keys or PublicKeys(), clock=clock, leeway_seconds=leeway_seconds)

    def load(self, pem_dir: Path | None, jwks_file: Path | None) -> None:
        self.verifier.keys = PublicKeys.from_files(pem_dir, jwks_file)
        if not len(self.verifier.keys):
            log.warning(
                "no email-link public keys configured (REVOCATION_LINK_JWKS_FILE, REVOCATION_LINK_PUBLIC_KEYS_DIR): "
                "every email-link request will be refused"
            )

    def decode(self, adapter: TypeAdapter[R], body: Any, message: RabbitMessage) -> tuple[R, LinkClaims | None]:
        """A command or query through the request gate, with the link it acts on verified: a
        refusal (:class:`graceperiod.runtime.requests.RequestProblem`) when either fails."""
        request = decode_request(adapter, body, message)
        return request, self.of(request, message)

    def of(self, request: Command | Query, message: RabbitMessage) -> LinkClaims | None:
        """The verified link ``request`` acts on (None when it carries none); a refusal
        (answered, or dead-lettered when nobody waits) when its token does not verify."""
        token = getattr(request, "link_token", None)
        if token is None:
            return None
        purchase_id = str(getattr(request, "purchase_id", ""))
        try:
            link = self.verifier.verify(token, purchase_id=purchase_id)
        except LinkTokenError as exc:
            raise refuse(_forbidden(f"the email link is not valid: {exc.reason}"), message) from exc
        if link.recipient != request.actor.email.strip().lower():
            raise refuse(_forbidden("the email link was issued for someone else"), message)
        return link


def _forbidden(message: str) -> Problem:
    return Problem(code=ErrorCode.FORBIDDEN, message=message)
