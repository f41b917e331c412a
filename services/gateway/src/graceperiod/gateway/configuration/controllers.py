"""The settings' JSON API: AWS account access (permission probes), account roles, the
notifier's global notification address."""

from __future__ import annotations

from litestar import Response
from litestar.di import NamedDependency
from litestar.params import JSONBody

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.notifier import NotificationSettings
from graceperiod.contracts.revocation import OrganizationView
from graceperiod.gateway.auth.guards import IDENTITY, SignedIn, requires
from graceperiod.gateway.configuration.schemas import AccountAccessList, NotificationSettingsUpdate, RoleRegistration
from graceperiod.gateway.configuration.service import SettingsService
from graceperiod.gateway.web.collaborators import provide
from graceperiod.gateway.web.commands import CommandResult, command_response
from graceperiod.gateway.web.controllers import ApiController
from graceperiod.gateway.web.params import ACTION_KEY, AccountId, ActionKey
from graceperiod.gateway.web.routes import api_get, api_put

Configuration = NamedDependency[SettingsService]
Registration = JSONBody[RoleRegistration]


class SettingsController(ApiController):
    path = "/api"
    tags = ["identity and configuration"]
    dependencies = {"identity": IDENTITY, "key": ACTION_KEY, "configuration": provide(SettingsService)}

    @api_get(
        "/accounts/access",
        "listAccountAccess",
        "What Grace Period can do in each AWS account (permission and support-plan probes)",
        description="`reapply_bundle: true` means the account's role lacks actions: re-apply the onboarding bundle.",
    )
    async def account_access(self, configuration: Configuration, identity: SignedIn) -> AccountAccessList:
        return AccountAccessList(accounts=(await configuration.account_access(identity.actor(ActionPath.API))).accounts)

    @api_put(
        "/accounts/{account_id:str}/role",
        "registerAccountRole",
        "Set the cross-account role (and its ExternalId) Grace Period assumes in an account",
        guards=[requires(Permission.UPDATE_CONFIG)],
        problems=(401, 403, 409, 413, 422, 502, 503),
    )
    async def register_role(
        self,
        configuration: Configuration,
        identity: SignedIn,
        account_id: AccountId,
        data: Registration,
        key: ActionKey,
    ) -> Response[CommandResult]:
        reply = await configuration.register_role(
            identity.actor(ActionPath.API),
            account_id,
            role_arn=data.role_arn(account_id),
            external_id=data.external_id,
            idempotency_key=key,
            name=data.name,
            contact_emails=[e.lower() for e in data.contact_emails],
            regions=data.regions or None,
        )
        return command_response(reply)

    @api_get(
        "/accounts/{account_id:str}/organization",
        "getOrganizationView",
        "Every Savings Plan and reservation of the organisation an onboarded management account manages",
        description=(
            "From Cost Explorer in the management account (a day behind). A commitment in a member Grace Period "
            "has not onboarded carries a `note`: it cannot be undone from here until the member applies the bundle."
        ),
        problems=(401, 404, 422, 502, 503),
    )
    async def organization(
        self, configuration: Configuration, identity: SignedIn, account_id: AccountId
    ) -> OrganizationView:
        return await configuration.organization_view(identity.actor(ActionPath.API), account_id)

    @api_get(
        "/settings/notifications",
        "getNotificationSettings",
        "The global notification address every executed-purchase email also goes to",
    )
    async def notification_settings(self, configuration: Configuration, identity: SignedIn) -> NotificationSettings:
        reply = await configuration.notification_settings(identity.actor(ActionPath.API))
        return reply.settings or NotificationSettings()

    @api_put(
        "/settings/notifications",
        "setNotificationSettings",
        "Change the global notification address (an empty string: none)",
        guards=[requires(Permission.UPDATE_CONFIG)],
        problems=(401, 403, 413, 422, 502, 503),
    )
    async def set_notification_settings(
        self,
        configuration: Configuration,
        identity: SignedIn,
        data: JSONBody[NotificationSettingsUpdate],
        key: ActionKey,
    ) -> NotificationSettings:
        email = data.global_notification_email.lower() if data.global_notification_email else None
        reply = await configuration.set_notification_address(
            identity, email=email, path=ActionPath.API, idempotency_key=key
        )
        return reply.settings or NotificationSettings(global_notification_email=email)
