"""Who am I, AWS account access (permission probes), account roles, notifier settings, and
the session/dev-token endpoints."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import JSONBody, PathParameter
from litestar.utils.scope.state import ScopeState

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.notifier import GetNotificationSettings, NotificationSettings
from graceperiod.contracts.revocation import ListAccountAccess, RegisterAccountRole
from graceperiod.gateway.auth.bearer import DevTokenSigner
from graceperiod.gateway.auth.dev import demo_user
from graceperiod.gateway.auth.guards import requires
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.auth.sign_in import Sessions
from graceperiod.gateway.purchases.controllers import command_response
from graceperiod.gateway.purchases.service import NOTIFIER, REVOCATION, Actions, command_outcome
from graceperiod.gateway.web.params import AccountId, IdempotencyKey, idempotency
from graceperiod.gateway.web.problems import ProblemException, ensure_ok, problem_responses
from graceperiod.gateway.web.schemas import (
    AccountAccessList,
    CommandResult,
    DevToken,
    Me,
    NotificationSettingsUpdate,
    RoleRegistration,
)


def me(identity: Identity, request: Request[Any, Any, Any]) -> Me:
    csrf = ScopeState.from_scope(request.scope).csrf_token if identity.method == "session" else None
    return Me(
        user_id=identity.user_id,
        email=identity.email,
        name=identity.name,
        roles=list(identity.roles),
        permissions=sorted(identity.permissions),
        auth=identity.method,
        csrf_token=csrf if isinstance(csrf, str) else None,
    )


class AccountController(Controller):
    path = "/api"
    tags = ["identity and configuration"]  # noqa: RUF012 - Litestar reads a class attribute

    @get(
        "/me", operation_id="whoAmI", summary="The caller's identity and permissions", responses=problem_responses(401)
    )
    async def who_am_i(self, *, identity: NamedDependency[Identity], request: Request[Any, Any, Any]) -> Me:
        return me(identity, request)

    @get(
        "/accounts/access",
        operation_id="listAccountAccess",
        summary="What Grace Period can do in each AWS account (permission and support-plan probes)",
        description="`reapply_bundle: true` means the account's role lacks actions: re-apply the onboarding bundle.",
        responses=problem_responses(401, 429, 502, 503),
    )
    async def account_access(
        self, actions: NamedDependency[Actions], identity: NamedDependency[Identity]
    ) -> AccountAccessList:
        reply = ensure_ok(
            await actions.clients.list_account_access(ListAccountAccess(actor=identity.actor(ActionPath.API))),
            REVOCATION,
        )
        return AccountAccessList(accounts=reply.accounts)

    @put(
        "/accounts/{account_id:str}/role",
        operation_id="registerAccountRole",
        summary="Set the cross-account role (and its ExternalId) Grace Period assumes in an account",
        guards=[requires(Permission.UPDATE_CONFIG)],
        responses=problem_responses(401, 403, 409, 413, 422, 502, 503),
    )
    async def register_role(
        self,
        *,
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        account_id: AccountId,
        data: JSONBody[RoleRegistration],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CommandResult]:
        reply = await actions.clients.register_account_role(
            RegisterAccountRole(
                actor=identity.actor(ActionPath.API),
                idempotency_key=idempotency(idempotency_key),
                account_id=account_id,
                role_arn=data.role_arn(account_id),
                external_id=data.external_id,
            )
        )
        return command_response(command_outcome(reply))

    @get(
        "/settings/notifications",
        operation_id="getNotificationSettings",
        summary="The global notification address every executed-purchase email also goes to",
        responses=problem_responses(401, 429, 502, 503),
    )
    async def notification_settings(
        self, actions: NamedDependency[Actions], identity: NamedDependency[Identity]
    ) -> NotificationSettings:
        reply = ensure_ok(
            await actions.clients.get_notification_settings(
                GetNotificationSettings(actor=identity.actor(ActionPath.API))
            ),
            NOTIFIER,
        )
        return reply.settings or NotificationSettings()

    @put(
        "/settings/notifications",
        operation_id="setNotificationSettings",
        summary="Change the global notification address (an empty string: none)",
        guards=[requires(Permission.UPDATE_CONFIG)],
        responses=problem_responses(401, 403, 413, 422, 502, 503),
    )
    async def set_notification_settings(
        self,
        *,
        actions: NamedDependency[Actions],
        identity: NamedDependency[Identity],
        data: JSONBody[NotificationSettingsUpdate],
        idempotency_key: IdempotencyKey = None,
    ) -> NotificationSettings:
        email = data.global_notification_email.lower() if data.global_notification_email else None
        reply = await actions.set_notification_settings(
            identity, email=email, path=ActionPath.API, idempotency_key=idempotency(idempotency_key)
        )
        return reply.settings or NotificationSettings(global_notification_email=email)


class SessionController(Controller):
    """Turns an API token into a dashboard session (for a frontend that signed the person in
    with the identity provider), and ends it."""

    path = "/api/session"
    tags = ["identity and configuration"]  # noqa: RUF012 - Litestar reads a class attribute

    @post(
        "/",
        operation_id="startSession",
        summary="Start a dashboard session for the bearer of the API token",
        status_code=200,
        responses=problem_responses(401, 403),
    )
    async def start(
        self,
        *,
        identity: NamedDependency[Identity],
        sessions: NamedDependency[Sessions],
        request: Request[Any, Any, Any],
    ) -> Me:
        if identity.method != "bearer":
            raise ProblemException(403, "Send the API token in the Authorization header to start a session.")
        await sessions.start(
            request,
            user_id=identity.user_id,
            email=identity.email,
            name=identity.name,
            source="api-token",
            roles=identity.roles,
        )
        return me(identity, request)

    @delete(
        "/",
        operation_id="endSession",
        summary="End the dashboard session (its record is deleted: the cookie is refused from now on)",
        responses=problem_responses(401),
    )
    async def end(self, *, request: Request[Any, Any, Any], sessions: NamedDependency[Sessions]) -> None:
        await sessions.end(request)


class DevTokenController(Controller):
    """Only registered with GATEWAY_DEV_SIGN_IN=true: API tokens for the demo users."""

    path = "/dev"
    include_in_schema = False

    @post("/token/{user_id:str}", status_code=200, exclude_from_csrf=True)
    async def token(
        self,
        *,
        signer: NamedDependency[DevTokenSigner],
        user_id: Annotated[str, PathParameter(max_length=64)],
    ) -> DevToken:
        user = demo_user(user_id)
        if user is None:
            raise NotFoundException(f"No demo user {user_id}.")
        token = signer.issue(user_id=user.user_id, email=user.email, name=user.name, roles=user.roles)
        return DevToken(access_token=token, expires_in=3600)
