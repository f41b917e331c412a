"""What the AWS account access probes mean for people: each onboarded account with its
problems in words, and the accounts whose onboarding bundle must be applied again. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from graceperiod.contracts.enums import Provider
from graceperiod.contracts.revocation import AccountAccessReply
from graceperiod.contracts.revocation_views import AccountAccess, SupportPlan


@dataclass(frozen=True)
class AccessRow:
    """One onboarded account as the access list shows it."""

    access: AccountAccess
    problems: tuple[str, ...]
    """What stops or limits Grace Period there, each with what to do; empty: all is well."""

    @property
    def checked(self) -> bool:
        return self.access.checked_at is not None or self.access.role_assumable is not None

    @property
    def blocked(self) -> bool:
        """Grace Period cannot act in the account until someone fixes its role."""
        return self.access.role_assumable is False or bool(self.access.missing_actions) or self.access.reapply_bundle


#: Where an Azure tenant's permissions come from (the ARM template beside the CloudFormation bundle).
AZURE_TEMPLATE = "deploy/onboarding/grace-period-azure-reservations.json"


def azure_problems_of(access: AccountAccess) -> tuple[str, ...]:
    """An Azure tenant's service principal: refused at sign-in, or lacking Microsoft.Capacity actions."""
    found: list[str] = []
    if access.role_assumable is False:
        why = f" ({access.message})" if access.message else ""
        found.append(
            f"Azure refuses Grace Period's service principal{why}: register it again with a valid client secret."
        )
    if access.missing_actions:
        found.append(
            f"Its service principal lacks {', '.join(access.missing_actions)}: re-apply the Azure onboarding "
            f"template ({AZURE_TEMPLATE}) at the reservations' scope."
        )
    if access.role_assumable is None and access.checked_at is None:
        found.append("Not checked yet: the principal is probed when it is registered.")
    return tuple(found)


def problems_of(access: AccountAccess) -> tuple[str, ...]:
    if access.provider is Provider.AZURE:
        return azure_problems_of(access)
    found: list[str] = []
    if access.role_assumable is False:
        why = f" ({access.message})" if access.message else ""
        found.append(
            f"Grace Period cannot assume its role{why}. Apply the onboarding bundle in the account (it creates "
            "the role and trusts Grace Period) and check the ExternalId registered for it."
        )
    if access.missing_actions:
        found.append(f"Its role lacks {', '.join(access.missing_actions)}: re-apply the onboarding bundle to add them.")
    elif access.reapply_bundle and access.role_assumable is not False:
        found.append("Its role lacks actions Grace Period needs: re-apply the onboarding bundle.")
    if access.support_plan is SupportPlan.NO_API_ACCESS:
        found.append(
            "Its AWS Support plan does not include the Support API: refund requests for it are filed by hand "
            "in the AWS Support Center."
        )
    if access.role_assumable is None and access.checked_at is None:
        found.append("Not checked yet: the first probe runs shortly after the role is registered.")
    return tuple(found)


def access_rows(reply: AccountAccessReply | None) -> list[AccessRow]:
    """Every onboarded account, those with a problem first."""
    rows = [AccessRow(a, problems_of(a)) for a in reply.accounts] if reply is not None else []
    return sorted(rows, key=lambda row: (not row.blocked, not row.problems, row.access.account_id))


def needing_bundle(reply: AccountAccessReply | None) -> list[AccountAccess]:
    """The accounts Grace Period cannot act in until their role is fixed: someone must
    (re-)apply the onboarding bundle."""
    return [row.access for row in access_rows(reply) if row.blocked]
