"""The control API under ``/_emulator/``: seed accounts, roles, organisations and commitments,
deny actions, set request rates, inject faults, move the clock, read the state, the call log
and the call counts.

Its client is :class:`~.control.EmulatorControl`; docs/revocation.md lists the routes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

from graceperiod.devstack.aws_endpoint import cost_and_usage
from graceperiod.devstack.aws_endpoint.catalogue import OPT_IN_REGIONS
from graceperiod.devstack.aws_endpoint.operations import seed_reserved_instance, seed_reserved_node, seed_savings_plan
from graceperiod.devstack.aws_endpoint.rates import RateLimit
from graceperiod.devstack.aws_endpoint.state import SUPPORT_PLANS, Account, Emulator, Fault, Organization
from graceperiod.devstack.servers.emulators import ControlApi, json_response

FAULT_KINDS = ("throttle", "server-error", "error", "delay", "slow-response")


class ControlRoutes(ControlApi[Emulator]):
    def __init__(self, emulator: Emulator) -> None:
        super().__init__(
            emulator,
            [
                ("/rate-limits", "rate_limits", ["GET", "PUT", "DELETE"]),
                ("/stats", "stats", ["GET"]),
                ("/accounts/<account_id>", "account", ["GET", "PUT"]),
                ("/accounts/<account_id>/savings-plans", "savings_plans", ["POST"]),
                ("/accounts/<account_id>/reserved-instances", "reserved_instances", ["POST"]),
                ("/accounts/<account_id>/reserved-nodes", "reserved_nodes", ["POST"]),
                ("/accounts/<account_id>/cases/<case_id>", "case", ["PATCH"]),
                ("/organizations/<management_id>", "organization", ["GET", "PUT"]),
                ("/costs/<account_id>", "costs", ["GET", "POST", "DELETE"]),
                ("/costs/<account_id>/usage", "usage", ["POST"]),
            ],
        )

    def _state(self, request: Request) -> Response:
        em = self.emulator
        with em.lock:
            accounts = [em.account(a).describe() for a in list(em.accounts)]
            organizations = [o.describe() for o in em.organizations.values()]
        faults = [vars(f) for f in em.faults]
        return json_response({"now": em.now(), "accounts": accounts, "organizations": organizations, "faults": faults})

    def _config(self, request: Request) -> Response:
        em = self.emulator
        if request.method == "POST":
            spec = request.get_json(force=True)
            delays = {
                "return_delay_seconds": "return_delay",
                "payment_delay_seconds": "payment_delay",
                "cost_explorer_delay_seconds": "cost_explorer_delay",
            }
            with em.lock:
                for key, attribute in delays.items():
                    if key in spec:
                        setattr(em, attribute, timedelta(seconds=float(spec[key])))
                if "rate_limits" in spec:
                    em.rates.enabled = bool(spec["rate_limits"])
        return json_response(
            {
                "return_delay_seconds": em.return_delay.total_seconds(),
                "payment_delay_seconds": em.payment_delay.total_seconds(),
                "cost_explorer_delay_seconds": em.cost_explorer_delay.total_seconds(),
                "rate_limits": em.rates.enabled,
            }
        )

    def _rate_limits(self, request: Request) -> Response:
        """PUT ``{"action", "capacity", "refill_per_second", "per_region"?, "group"?}``; a null
        capacity removes the action's limit. DELETE: AWS's published limits again, buckets full."""
        if request.method == "DELETE":
            self.emulator.rates.reset()
        if request.method == "PUT":
            spec = request.get_json(force=True)
            limit = None
            if spec.get("capacity") is not None:
                limit = RateLimit(
                    float(spec["capacity"]),
                    float(spec["refill_per_second"]),
                    per_region=bool(spec.get("per_region", True)),
                    group=spec.get("group"),
                    source=spec.get("source") or "set through the control API",
                )
            self.emulator.rates.set_limit(spec["action"], limit)
        return json_response(self.emulator.rates.describe())

    def _faults(self, request: Request) -> Response:
        em = self.emulator
        if request.method == "DELETE":
            with em.lock:
                em.faults.clear()
        elif request.method == "POST":
            spec = request.get_json(force=True)
            kind = spec.get("kind", "throttle")
            if kind not in FAULT_KINDS:
                return json_response({"error": f"unknown fault kind {kind!r}"}, 400)
            fault = Fault(
                action=spec["action"],
                account=spec.get("account"),
                remaining=int(spec.get("count", 1)),
                kind=kind,
                code=spec.get("code"),
                status=spec.get("status"),
                message=spec.get("message"),
                delay_seconds=float(spec.get("delay_seconds", 0)),
            )
            with em.lock:
                em.faults.append(fault)
        return json_response({"faults": [vars(f) for f in em.faults]})

    def _calls(self, request: Request) -> Response:
        account, action = request.args.get("account"), request.args.get("action")
        with self.emulator.lock:
            calls = [
                c
                for c in self.emulator.calls
                if (account is None or c.get("account") == account) and (action is None or c.get("action") == action)
            ]
        return json_response({"calls": calls})

    def _stats(self, request: Request) -> Response:
        """Calls answered per action and outcome (``ok`` or the error code), since the last reset."""
        with self.emulator.lock:
            counts = list(self.emulator.counts.items())
        by_action: dict[str, dict[str, int]] = {}
        for (action, outcome), count in counts:
            by_action.setdefault(action, {})[outcome] = count
        return json_response({"calls": by_action})

    def _account(self, request: Request, account_id: str) -> Response:
        em = self.emulator
        with em.lock:
            account = em.account(account_id)
            if request.method == "PUT":
                _update_account(account, request.get_json(force=True))
            return json_response(account.describe())

    def _savings_plans(self, request: Request, account_id: str) -> Response:
        em = self.emulator
        with em.lock:
            return json_response(seed_savings_plan(em, em.account(account_id), request.get_json(force=True)), 201)

    def _reserved_instances(self, request: Request, account_id: str) -> Response:
        em = self.emulator
        with em.lock:
            return json_response(seed_reserved_instance(em, em.account(account_id), request.get_json(force=True)), 201)

    def _reserved_nodes(self, request: Request, account_id: str) -> Response:
        em = self.emulator
        with em.lock:
            return json_response(seed_reserved_node(em, em.account(account_id), request.get_json(force=True)), 201)

    def _case(self, request: Request, account_id: str, case_id: str) -> Response:
        em = self.emulator
        with em.lock:
            case = em.account(account_id).cases.get(case_id)
            if case is None:
                return json_response({"error": f"no case {case_id} in account {account_id}"}, 404)
            case.update({k: v for k, v in request.get_json(force=True).items() if k in ("status", "severityCode")})
            return json_response(case)

    def _organization(self, request: Request, management_id: str) -> Response:
        """PUT ``{"members": [{"id", "name"?, "email"?}, ...]}``: the management account is a member too."""
        em = self.emulator
        with em.lock:
            organization = em.organizations.get(management_id)
            if request.method == "PUT":
                spec = request.get_json(force=True)
                members = {
                    m["id"]: {"name": m.get("name") or m["id"], "email": m.get("email") or ""} for m in spec["members"]
                }
                members.setdefault(management_id, {"name": spec.get("name") or "management", "email": ""})
                taken = {a for o in em.organizations.values() if o.management != management_id for a in o.members}
                if taken & set(members):
                    return json_response(
                        {"error": f"already in another organization: {sorted(taken & set(members))}"}, 409
                    )
                organization = Organization(
                    id=organization.id if organization else f"o-{secrets.token_hex(5)}",
                    management=management_id,
                    members=members,
                )
                em.organizations[management_id] = organization
            if organization is None:
                return json_response({"error": f"no organization managed by {management_id}"}, 404)
            return json_response(organization.describe())

    def _costs(self, request: Request, account_id: str) -> Response:
        em = self.emulator
        if request.method == "POST":
            return json_response(
                cost_and_usage.seed_lines(em.costs, account_id, request.get_json(force=True), now=em.now()), 201
            )
        if request.method == "DELETE":
            em.costs.clear(account_id)
        return json_response(cost_and_usage.describe(em.costs, account_id, now=em.now()))

    def _usage(self, request: Request, account_id: str) -> Response:
        em = self.emulator
        return json_response(
            cost_and_usage.seed_usage(em.costs, account_id, request.get_json(force=True), now=em.now()), 201
        )


def _update_account(account: Account, spec: dict[str, Any]) -> None:
    """Set what ``spec`` names, in the table's order; a value out of range is a ValueError."""
    for key, (attribute, convert) in _ACCOUNT_FIELDS.items():
        if key in spec:
            setattr(account, attribute, convert(spec[key]))


def _support_plan(plan: str) -> str:
    if plan not in SUPPORT_PLANS:
        msg = f"support_plan must be one of {sorted(SUPPORT_PLANS)}"
        raise ValueError(msg)
    return plan


def _queue_arn(target: str | None) -> str | None:
    if target is not None and (not target.startswith("arn:aws:sqs:") or target.count(":") != 5):
        msg = "purchase_events_queue must be an SQS queue ARN (arn:aws:sqs:<region>:<account>:<name>) or null"
        raise ValueError(msg)
    return target


def _opt_in_regions(regions: list[str]) -> set[str]:
    unknown = set(regions) - set(OPT_IN_REGIONS)
    if unknown:
        msg = f"not opt-in Regions: {sorted(unknown)}; opt-in Regions are {list(OPT_IN_REGIONS)}"
        raise ValueError(msg)
    return set(regions)


#: What the control API may set on an account: its key → (the Account attribute, how the value is read).
_ACCOUNT_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "support_plan": ("support_plan", _support_plan),
    "roles": ("roles", dict),
    "denied_actions": ("denied", set),
    "billing_categories": ("billing_categories", lambda categories: categories),
    "return_quota_used": ("return_quota_used", int),
    "purchase_events_queue": ("purchase_events_queue", _queue_arn),
    "opted_in_regions": ("opted_in_regions", _opt_in_regions),
}
