"""A customer account's access: its role, its support plan and the IAM actions its role was
refused, as registration, probes and the calls made teach them. Pure: records in, records out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from graceperiod.contracts.revocation import RegisterAccountRole
from graceperiod.contracts.revocation_views import SupportPlan
from graceperiod.contracts.rpc import ErrorCode
from graceperiod.revocation.domain.authorization import may_configure
from graceperiod.revocation.domain.aws_answers import CallError, Failure, Probe
from graceperiod.revocation.domain.azure_answers import AzureCallError
from graceperiod.revocation.domain.discovery import DiscoveryPolicy, registered_for_discovery
from graceperiod.revocation.domain.outcomes import Rejected
from graceperiod.revocation.domain.records import AccountRecord


@dataclass(frozen=True)
class ProbePolicy:
    max_age: timedelta = timedelta(hours=6)
    """A complete probe is redone after this long."""
    retry: timedelta = timedelta(minutes=5)
    """An incomplete one (AWS did not answer every check) sooner."""


def role_arn_of(command: RegisterAccountRole, default_role_name: str) -> str:
    """The role to assume: the command's, else the convention; refused if the actor may not
    configure or the role is not in the account."""
    if not may_configure(command.actor):
        raise Rejected(ErrorCode.FORBIDDEN, "registering an account role needs update:config")
    role_arn = command.role_arn or f"arn:{command.partition}:iam::{command.account_id}:role/{default_role_name}"
    if role_arn.split(":")[4] != command.account_id:
        raise Rejected(ErrorCode.INVALID, f"role {role_arn} is not in account {command.account_id}")
    return role_arn


def registered(
    account: AccountRecord | None,
    command: RegisterAccountRole,
    role_arn: str,
    now: datetime,
    discovery: DiscoveryPolicy | None = None,
) -> AccountRecord:
    """The role stored, what was learnt about the previous one forgotten, a probe due now and a
    discovery scan at the account's first slot; the account's name, contacts and Regions as the
    command gives them."""
    account = account or AccountRecord(account_id=command.account_id)
    account = account.model_copy(
        update={
            "role_arn": role_arn,
            "external_id": command.external_id,
            "registered_at": now,
            "registered_by": command.actor.email,
            "use_missing": [],
            "role_assumable": None,
            "probe_due_at": now,
        }
    )
    return registered_for_discovery(
        account,
        name=command.name,
        contact_emails=command.contact_emails,
        regions=command.regions,
        now=now,
        policy=discovery or DiscoveryPolicy(),
    )


def probed(account: AccountRecord, probe: Probe, now: datetime, policy: ProbePolicy) -> AccountRecord:
    """What a probe found. A complete probe also forgets the denials met when used: the bundle
    may have been re-applied since."""
    return account.model_copy(
        update={
            "role_assumable": probe.role_assumable,
            "support_plan": account.support_plan if probe.support_plan is SupportPlan.UNKNOWN else probe.support_plan,
            "probe_missing": sorted(probe.missing_actions),
            "use_missing": [] if probe.complete else account.use_missing,
            "checked_at": now,
            "probe_due_at": now + (policy.max_age if probe.complete else policy.retry),
            "message": probe.message,
            "management_account_id": probe.management_account_id or account.management_account_id,
        }
    )


def azure_probed(account: AccountRecord, refused: AzureCallError | None, now: datetime) -> AccountRecord:
    """What the registration probe (listing the reservation orders) found of a tenant's service
    principal: usable, refused an action (the onboarding template is missing or out of date), or
    refused at sign-in. A probe Azure did not answer (throttled, down) teaches nothing."""
    if refused is None:
        found = {"role_assumable": True, "probe_missing": [], "message": None}
    elif refused.failure is Failure.ACCESS_DENIED:
        found = {"role_assumable": True, "probe_missing": [refused.action], "message": refused.message}
    elif refused.failure is Failure.NOT_ASSUMABLE:
        found = {"role_assumable": False, "message": f"Azure refused the service principal: {refused.message}"}
    else:
        return account.model_copy(update={"message": f"the permission probe did not finish: {refused.message}"})
    return account.model_copy(update={**found, "checked_at": now})


def first_probe_due(account: AccountRecord | None, now: datetime) -> AccountRecord | None:
    """A registered account never probed yet gets its probe now (None: nothing to change)."""
    if account is None or not account.role_arn or account.checked_at is not None:
        return None
    return account.model_copy(update={"probe_due_at": now})


def learnt(account: AccountRecord, error: CallError) -> AccountRecord | None:
    """What a failed call tells about the role and the plan (None: nothing)."""
    if error.failure is Failure.ACCESS_DENIED:
        if error.action in account.use_missing:
            return None
        return account.model_copy(update={"use_missing": [*account.use_missing, error.action]})
    if error.failure is Failure.NOT_ASSUMABLE:
        return account.model_copy(update={"role_assumable": False, "message": error.message})
    if error.failure is Failure.SUBSCRIPTION_REQUIRED:
        return account.model_copy(update={"support_plan": SupportPlan.NO_API_ACCESS})
    return None


def used(account: AccountRecord, action: str) -> AccountRecord | None:
    """An action just succeeded: it is not missing (None: it was not thought missing)."""
    if action not in account.use_missing:
        return None
    return account.model_copy(update={"use_missing": [a for a in account.use_missing if a != action]})


def categories_read(account: AccountRecord, categories: frozenset[str], now: datetime) -> AccountRecord:
    return account.model_copy(update={"categories": sorted(categories), "categories_at": now})
