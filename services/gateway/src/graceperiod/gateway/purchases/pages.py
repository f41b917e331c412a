"""Dashboard pages. Every form posts back with Litestar's CSRF token; every action goes
through :class:`~graceperiod.gateway.purchases.service.Actions`, like the API's."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from graceperiod.contracts.cooldown import (
    COOLDOWN_HOURS_MAX,
    COOLDOWN_HOURS_MIN,
    DEFAULT_COOLDOWN_HOURS,
    AccountStatus,
    GetCooldownPolicy,
    ListAccounts,
)
from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.notifier import GetNotificationSettings, ListDeliveries
from graceperiod.contracts.revocation import (
    AccountAccess,
    CommandReply,
    GetSupportCaseDraft,
    ListAccountAccess,
    ListPurchases,
    Phase,
    PurchaseView,
)
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.gateway import explain
from graceperiod.gateway.auth.guards import identity_of, requires
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.pool.controllers import RELEASE_WARNING, pool_account
from graceperiod.gateway.purchases.controls import Control, controls_for
from graceperiod.gateway.purchases.service import COOLDOWN, NOTIFIER, REVOCATION, Actions
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.gateway.web.params import AccountId, Cursor, PurchaseId, optional_choice
from graceperiod.gateway.web.problems import ProblemException, ensure_ok
from graceperiod.runtime.rpc import BadReply, ServiceUnavailable


@dataclass
class Section:
    """Data for one part of a page, or why it is missing."""

    ok: bool
    value: Any = None
    problem: str = ""


async def _load(coro: Any, service: str) -> Section:
    try:
        reply = await coro
    except ServiceUnavailable as exc:
        return Section(
            False, problem=f"The {service} service is not answering right now ({exc}). Try again in a minute."
        )
    except BadReply:
        return Section(False, problem=f"The {service} service answered something unexpected.")
    if getattr(reply, "problem", None) is not None:
        return Section(False, problem=reply.problem.message)
    return Section(True, reply)


def _accounts_needing_bundle(section: Section) -> list[AccountAccess]:
    return [a for a in section.value.accounts if a.reapply_bundle] if section.ok else []


def page(name: str, request: Request[Any, Any, Any], status: int = 200, **context: Any) -> Template:
    identity = identity_of(request)
    return Template(
        name,
        context={"me": identity, "explain": explain, "Control": Control, "Permission": Permission, **context},
        status_code=status,
    )


@dataclass
class RevokeForm:
    idempotency_key: str


@dataclass
class SupportCaseForm:
    idempotency_key: str
    subject: str
    body: str


@dataclass
class ResolveForm:
    idempotency_key: str
    note: str = ""


@dataclass
class ReleaseForm:
    idempotency_key: str
    reason: str


@dataclass
class PolicyForm:
    idempotency_key: str
    cooldown_period_hours: int
    enforce_account_cooldown: Literal["on"] | None = None


@dataclass
class SettingsForm:
    idempotency_key: str
    global_notification_email: str = ""


def _form_key() -> str:
    return uuid.uuid4().hex


def _phase_filter(value: str) -> Phase | None:
    if not value:
        return None
    try:
        return Phase(value)
    except ValueError:
        known = ", ".join(p.value for p in Phase)
        raise ValidationException(f"phase {value!r} is not one of: {known}") from None


def _require(view: PurchaseView, identity: Identity, control: Control, unavailable: str) -> None:
    """Refuse a page whose action this person may not take on this purchase now: 403 when it
    is someone else's purchase, 409 when the purchase's phase does not allow it."""
    controls = controls_for(view, identity)
    if control not in controls:
        raise ProblemException(409 if Control.NOT_YOURS not in controls else 403, controls.note or unavailable)


class DashboardPages(Controller):
    opt = {"page": "dashboard"}  # noqa: RUF012 - Litestar reads a class attribute
    include_in_schema = False

    @get("/", name="history")
    async def history(
        self,
        *,
        request: Request[Any, Any, Any],
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        phase: Annotated[str, QueryParameter(max_length=64)] = "",
        mine: Annotated[bool, QueryParameter()] = False,
        cursor: Cursor = None,
    ) -> Template:
        # The filter form's "Any" option submits an empty phase: that is no filter, not an error.
        chosen = _phase_filter(phase)
        actor = identity.actor(ActionPath.DASHBOARD)
        purchases, access = await asyncio.gather(
            _load(
                actions.clients.list_purchases(
                    ListPurchases(
                        actor=actor,
                        phase=chosen,
                        requested_by_user_id=identity.user_id if mine else None,
                        limit=50,
                        cursor=cursor,
                    )
                ),
                REVOCATION,
            ),
            _load(actions.clients.list_account_access(ListAccountAccess(actor=actor)), REVOCATION),
        )
        rows = [(view, controls_for(view, identity)) for view in purchases.value.items] if purchases.ok else []
        return page(
            "history.html",
            request,
            status=200 if purchases.ok else 503,
            rows=rows,
            purchases=purchases,
            bundle_accounts=_accounts_needing_bundle(access),
            phase=chosen.value if chosen else "",
            phases=list(Phase),
            mine=mine,
            now=actions.clock.now(),
        )

    @get("/purchases/{purchase_id:str}", name="purchase")
    async def purchase(
        self,
        *,
        request: Request[Any, Any, Any],
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        purchase_id: PurchaseId,
    ) -> Template:
        actor = identity.actor(ActionPath.DASHBOARD)
        view = await actions.purchase(actor, purchase_id)
        deliveries = await _load(
            actions.clients.list_deliveries(ListDeliveries(actor=actor, purchase_id=purchase_id)), NOTIFIER
        )
        return page(
            "purchase.html",
            request,
            view=view,
            controls=controls_for(view, identity),
            deliveries=deliveries,
            now=actions.clock.now(),
            form_key=_form_key(),
            refresh=view.phase is Phase.REVOCATION_PENDING,
        )

    @get("/purchases/{purchase_id:str}/revoke", name="revoke-confirm")
    async def revoke_confirm(
        self,
        *,
        request: Request[Any, Any, Any],
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        purchase_id: PurchaseId,
    ) -> Template:
        view = await actions.purchase(identity.actor(ActionPath.DASHBOARD), purchase_id)
        _require(view, identity, Control.REVOKE, "This purchase cannot be revoked through the AWS API now.")
        return page("revoke_confirm.html", request, view=view, form_key=_form_key(), now=actions.clock.now())

    @post(
        "/purchases/{purchase_id:str}/revoke",
        guards=[requires(Permission.REVOKE_ANY_PURCHASES, Permission.REVOKE_OWN_PURCHASES)],
        status_code=200,
    )
    async def revoke(
        self,
        *,
        request: Request[Any, Any, Any],
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        purchase_id: PurchaseId,
        data: URLEncodedBody[RevokeForm],
    ) -> Template:
        reply = await actions.revoke(
            identity, purchase_id, path=ActionPath.DASHBOARD, idempotency_key=_checked_key(data.idempotency_key)
        )
        return _outcome(request, reply, purchase_id, "Revocation")

    @get("/purchases/{purchase_id:str}/support-case", name="support-case")
    async def support_case(
        self,
        *,
        request: Request[Any, Any, Any],
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        purchase_id: PurchaseId,
    ) -> Template:
        actor = identity.actor(ActionPath.DASHBOARD)
        view = await actions.purchase(actor, purchase_id)
        unavailable = "A support case cannot be filed through the API for this purchase now."
        _require(view, identity, Control.SUPPORT_CASE, unavailable)
        draft = ensure_ok(
            await actions.clients.get_support_case_draft(GetSupportCaseDraft(actor=actor, purchase_id=purchase_id)),
            REVOCATION,
        ).draft
        if draft is None:
            raise NotFoundException("There is no support-case draft for this purchase.")
        return page("support_case.html", request, view=view, draft=draft, form_key=_form_key())

    @post(
        "/purchases/{purchase_id:str}/support-case",
        guards=[requires(Permission.REVOKE_ANY_PURCHASES, Permission.REVOKE_OWN_PURCHASES)],
        status_code=200,
    )
    async def submit_support_case(
        self,
        *,
        request: Request[Any, Any, Any],
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        purchase_id: PurchaseId,
        data: URLEncodedBody[SupportCaseForm],
    ) -> Template:
        subject, body = data.subject.strip(), data.body.strip()
        if not 0 < len(subject) <= 512 or not 0 < len(body) <= 8000:
            raise ProblemException(400, "The subject must be 1-512 characters and the description 1-8000.")
        reply = await actions.submit_support_case(
            identity,
            purchase_id,
            subject=subject,
            body=body,
            path=ActionPath.DASHBOARD,
            idempotency_key=_checked_key(data.idempotency_key),
        )
        return _outcome(request, reply, purchase_id, "Support case")

    @post(
        "/purchases/{purchase_id:str}/resolve",
        guards=[requires(Permission.REVOKE_ANY_PURCHASES, Permission.REVOKE_OWN_PURCHASES)],
        status_code=200,
    )
    async def resolve(
        self,
        *,
        request: Request[Any, Any, Any],
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        purchase_id: PurchaseId,
        data: URLEncodedBody[ResolveForm],
    ) -> Template:
        reply = await actions.mark_case_resolved(
            identity,
            purchase_id,
            note=data.note.strip()[:2000],
            path=ActionPath.DASHBOARD,
            idempotency_key=_checked_key(data.idempotency_key),
        )
        return _outcome(request, reply, purchase_id, "Support case")

    @get("/accounts", name="accounts")
    async def accounts(
        self,
        *,
        request: Request[Any, Any, Any],
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        status: Annotated[AccountStatus | None, QueryParameter(schema_extra=optional_choice(AccountStatus))] = None,
    ) -> Template:
        actor = identity.actor(ActionPath.DASHBOARD)
        pool, policy, access = await asyncio.gather(
            _load(actions.clients.list_accounts(ListAccounts(actor=actor, status=status, limit=500)), COOLDOWN),
            _load(actions.clients.get_cooldown_policy(GetCooldownPolicy(actor=actor)), COOLDOWN),
            _load(actions.clients.list_account_access(ListAccountAccess(actor=actor)), REVOCATION),
        )
        now = actions.clock.now()
        accounts = [pool_account(a, now) for a in pool.value.items] if pool.ok else []
        groups = [(s, [a for a in accounts if a.status is s]) for s in AccountStatus]
        return page(
            "accounts.html",
            request,
            status=200 if pool.ok else 503,
            pool=pool,
            groups=[(s, items) for s, items in groups if items or status is s],
            counts={s.value: len(items) for s, items in groups},
            statuses=list(AccountStatus),
            selected=status.value if status else "",
            policy=policy,
            access=access,
            bundle_accounts=_accounts_needing_bundle(access),
            hours=(COOLDOWN_HOURS_MIN, COOLDOWN_HOURS_MAX, DEFAULT_COOLDOWN_HOURS),
            now=now,
            form_key=_form_key(),
        )

    @get(
        "/accounts/{account_id:str}/release", name="release-confirm", guards=[requires(Permission.RELEASE_ANY_ACCOUNTS)]
    )
    async def release_confirm(self, *, request: Request[Any, Any, Any], account_id: AccountId) -> Template:
        return page(
            "release_confirm.html", request, account_id=account_id, warning=RELEASE_WARNING, form_key=_form_key()
        )

    @post("/accounts/{account_id:str}/release", guards=[requires(Permission.RELEASE_ANY_ACCOUNTS)], status_code=200)
    async def release(
        self,
        *,
        request: Request[Any, Any, Any],
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        account_id: AccountId,
        data: URLEncodedBody[ReleaseForm],
    ) -> Template:
        reason = data.reason.strip()
        if not 0 < len(reason) <= 500:
            raise ProblemException(400, "Say why the account is released early (up to 500 characters).")
        reply = await actions.release_account(
            identity,
            account_id,
            reason=reason,
            path=ActionPath.DASHBOARD,
            idempotency_key=_checked_key(data.idempotency_key),
        )
        return page(
            "release_outcome.html",
            request,
            status=202 if reply.status is CommandStatus.IN_PROGRESS else 200,
            reply=reply,
            account=pool_account(reply.account, actions.clock.now()) if reply.account else None,
            warning=reply.warning or RELEASE_WARNING,
            account_id=account_id,
        )

    @post("/accounts/policy", guards=[requires(Permission.UPDATE_CONFIG)])
    async def set_policy(
        self,
        *,
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        data: URLEncodedBody[PolicyForm],
    ) -> Redirect:
        if not COOLDOWN_HOURS_MIN <= data.cooldown_period_hours <= COOLDOWN_HOURS_MAX:
            raise ProblemException(
                400, f"The cooldown period must be between {COOLDOWN_HOURS_MIN} and {COOLDOWN_HOURS_MAX} hours."
            )
        await actions.set_policy(
            identity,
            enforce=data.enforce_account_cooldown == "on",
            hours=data.cooldown_period_hours,
            path=ActionPath.DASHBOARD,
            idempotency_key=_checked_key(data.idempotency_key),
        )
        return Redirect("/accounts?saved=policy", status_code=303)

    @get("/settings", name="settings")
    async def settings_page(
        self, request: Request[Any, Any, Any], actions: NamedDependency[Actions], identity: NamedDependency[Identity]
    ) -> Template:
        current = await _load(
            actions.clients.get_notification_settings(
                GetNotificationSettings(actor=identity.actor(ActionPath.DASHBOARD))
            ),
            NOTIFIER,
        )
        return page("settings.html", request, status=200 if current.ok else 503, current=current, form_key=_form_key())

    @post("/settings", guards=[requires(Permission.UPDATE_CONFIG)])
    async def save_settings(
        self, actions: NamedDependency[Actions], identity: NamedDependency[Identity], data: URLEncodedBody[SettingsForm]
    ) -> Redirect:
        email = data.global_notification_email.strip().lower() or None
        if email is not None and (email.count("@") != 1 or len(email) > 320 or " " in email):
            raise ProblemException(400, f"{email!r} is not an email address.")
        await actions.set_notification_settings(
            identity, email=email, path=ActionPath.DASHBOARD, idempotency_key=_checked_key(data.idempotency_key)
        )
        return Redirect("/settings?saved=1", status_code=303)

    @get("/help/reapply-bundle", name="reapply-bundle")
    async def reapply_bundle(
        self,
        *,
        request: Request[Any, Any, Any],
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        settings: NamedDependency[GatewaySettings],
    ) -> Template:
        access = await _load(
            actions.clients.list_account_access(ListAccountAccess(actor=identity.actor(ActionPath.DASHBOARD))),
            REVOCATION,
        )
        return page("reapply_bundle.html", request, access=access, docs=settings.reapply_bundle_docs)


def _checked_key(key: str) -> str:
    key = key.strip()
    if not 8 <= len(key) <= 128 or not key.replace("-", "").isalnum():
        raise ProblemException(400, "The form is incomplete; reload the page and try again.")
    return key


def _outcome(request: Request[Any, Any, Any], reply: CommandReply, purchase_id: str, what: str) -> Template:
    return page(
        "outcome.html",
        request,
        status=202 if reply.status is CommandStatus.IN_PROGRESS else 200,
        reply=reply,
        purchase_id=purchase_id,
        what=what,
        view=reply.purchase,
        refresh=reply.status is CommandStatus.IN_PROGRESS,
    )
