"""Which Regions an account may use: EC2 ``DescribeRegions`` and Account Management ``ListRegions``.

The default Regions are enabled in every account; an opt-in Region only once the account
enabled it (control API: ``opted_in_regions``). A call signed for a Region the account has
not enabled fails as AWS fails it: the credentials are not valid there.
"""

from __future__ import annotations

from typing import Any

from graceperiod.devstack.aws_endpoint.calls import AwsError, Call, page
from graceperiod.devstack.aws_endpoint.catalogue import ALL_REGIONS, DEFAULT_REGIONS
from graceperiod.devstack.aws_endpoint.state import Account

_ACCOUNT_STATUS = {"opt-in-not-required": "ENABLED_BY_DEFAULT", "opted-in": "ENABLED", "not-opted-in": "DISABLED"}


def opt_in_status(account: Account, region: str) -> str:
    if region in DEFAULT_REGIONS:
        return "opt-in-not-required"
    return "opted-in" if region in account.opted_in_regions else "not-opted-in"


def describe_regions(call: Call) -> dict[str, Any]:
    if call.flag("DryRun"):
        raise AwsError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
    names = call.params.get("RegionName") or []
    unknown = [name for name in names if name not in ALL_REGIONS]
    if unknown:
        raise AwsError("InvalidParameterValue", f"Invalid region names: {', '.join(unknown)}")
    filters = {f["Name"]: set(f.get("Value") or []) for f in call.params.get("Filter") or []}
    include_all = call.flag("AllRegions")
    regions = []
    for region in names or ALL_REGIONS:
        status = opt_in_status(call.account, region)
        if not include_all and not names and status == "not-opted-in":
            continue
        fields = {"region-name": region, "opt-in-status": status, "endpoint": f"ec2.{region}.amazonaws.com"}
        if all(fields.get(name) in values for name, values in filters.items()):
            regions.append({"RegionName": region, "Endpoint": fields["endpoint"], "OptInStatus": status})
    return {"Regions": regions}


def list_regions(call: Call) -> dict[str, Any]:
    target = call.account
    asked = call.params.get("AccountId")
    if asked and asked != call.account.id:
        organization = call.emulator.organization_of(asked)
        if organization is None or organization.management != call.account.id:
            raise AwsError("AccessDeniedException", f"User: {call.principal} is not authorized to read {asked}", 403)
        target = call.emulator.account(asked)
    wanted = set(call.params.get("RegionOptStatusContains") or [])
    regions = [
        {"RegionName": region, "RegionOptStatus": _ACCOUNT_STATUS[opt_in_status(target, region)]}
        for region in ALL_REGIONS
    ]
    chosen = [r for r in regions if not wanted or r["RegionOptStatus"] in wanted]
    return page(call, chosen, size=("MaxResults", 20, 1, 50), cursor="NextToken", result="Regions")
