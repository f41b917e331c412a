"""The email-link pages: ``/api/purchases/{id}/revoke?token=…``.

GET verifies the token and shows what can be done now (it changes nothing: mail scanners
prefetch links). POST, a CSRF-protected form, consumes the token once (an insert keyed by
its ``jti``) and then sends the same revocation command the dashboard sends, carrying the
token as ``link_token`` (the revocation service verifies it again); a second POST finds the
first one's record and shows its outcome.

A session, when present, must belong to the token's recipient or hold
``revoke-any:purchases``; a logged-out recipient needs nothing but the token (both checked
by the :func:`~graceperiod.gateway.links.access.verified_link` dependency).

Statuses: 200 page; 202 in progress (refreshes); 400 missing/malformed token or form;
403 invalid signature/algorithm/key/issuer, wrong audience, wrong purchase, someone else's
session; 404 unknown purchase; 409 link already used (POST) or the service refused; 410
expired; 429 too many requests; 503 the revocation service is not answering.
"""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import URLEncodedBody
from litestar.response import Template

from graceperiod.gateway.links import views
from graceperiod.gateway.links.access import (
    LinkRefused,
    VerifiedLink,
    refusal_page,
    verified_link,
    verified_link_with_form,
)
from graceperiod.gateway.links.forms import LinkForm
from graceperiod.gateway.links.service import LinkService
from graceperiod.gateway.web.collaborators import provide
from graceperiod.gateway.web.problems import ProblemException
from graceperiod.runtime.link_tokens import LinkTokenVerifier
from graceperiod.runtime.rpc import ServiceUnavailable

Link = NamedDependency[VerifiedLink]
Links = NamedDependency[LinkService]


class LinkPages(Controller):
    path = "/api/purchases/{purchase_id:str}/revoke"
    tags = ["email links"]
    opt = {"page": "link"}
    dependencies = {
        "verifier": provide(LinkTokenVerifier),
        "links": provide(LinkService),
        "link": Provide(verified_link),
    }
    exception_handlers = {LinkRefused: refusal_page}

    @get(
        "/",
        operation_id="emailLinkPage",
        summary="Email link: confirmation page for the purchase's current phase (changes nothing)",
        media_type="text/html",
        include_in_schema=False,
    )
    async def show(self, link: Link, links: Links) -> Template:
        used = await links.used(link)
        try:
            view = await links.purchase(link)
        except ServiceUnavailable:
            return views.used(used, None, link.url, status=200) if used is not None else views.unavailable()
        except ProblemException as exc:
            return views.refused(exc)
        if used is not None:
            return views.used(used, view, link.url, status=200)
        state = views.confirmation_state(view)
        draft = await links.draft(link) if state == "support-case" else None
        return views.confirmation(view, link.claims, link.url, state=state, draft=draft, now=links.clock.now())

    @post(
        "/",
        operation_id="emailLinkAction",
        summary="Email link: perform the action once (CSRF-protected form)",
        media_type="text/html",
        include_in_schema=False,
        status_code=200,
        dependencies={"link": Provide(verified_link_with_form)},
    )
    async def act(self, link: Link, links: Links, data: URLEncodedBody[LinkForm]) -> Template:
        if data.invalid():
            return views.invalid_form()
        earlier = await links.consume(link, data)
        if earlier is not None:
            return views.used(earlier, None, link.url, status=409)
        result = await links.act(link, data)
        return views.outcome(result.reply, result.outcome, link.url)
