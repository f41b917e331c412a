"""The customer onboarding bundle (deploy/onboarding/grace-period-role.yaml): cfn-lint clean,
carrying exactly the actions the revocation service needs, trusted only with the ExternalId,
and matching Grace Period's own assume-role policy."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from graceperiod.revocation.adapters.iam import REQUIRED_IAM_ACTIONS
from tests.deploy.conftest import DEPLOY, ROOT
from tests.deploy.test_iam import parliament

TEMPLATE = DEPLOY / "onboarding" / "grace-period-role.yaml"
#: Read actions that stay on "*" although parliament knows a resource type for them: a
#: describe without ids is authorized against "*" (aws-facts §5), so a narrower resource
#: would deny the very call the service makes. Anything else on "*" that parliament flags fails.
READS_ON_ANY_RESOURCE = {
    "savingsplans:DescribeSavingsPlans",
    "rds:DescribeReservedDBInstances",
    "elasticache:DescribeReservedCacheNodes",
    "memorydb:DescribeReservedNodes",
}


def template() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text())
    return document


def role() -> dict[str, Any]:
    [resource] = [r for r in template()["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    properties: dict[str, Any] = resource["Properties"]
    return properties


def granted_actions() -> set[str]:
    actions: set[str] = set()
    for policy in role()["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            value = statement["Action"]
            actions.update([value] if isinstance(value, str) else value)
    return actions


def test_cfn_lint_finds_nothing_not_even_informational() -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--include-checks",
            "I",
            "--non-zero-exit-code",
            "informational",
            str(TEMPLATE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_bundle_grants_every_action_the_revocation_service_calls() -> None:
    missing = REQUIRED_IAM_ACTIONS - granted_actions()
    assert not missing, f"the revocation service calls actions the onboarding bundle lacks: {sorted(missing)}"


def test_the_bundle_grants_nothing_the_revocation_service_does_not_call() -> None:
    extra = granted_actions() - REQUIRED_IAM_ACTIONS
    assert not extra, f"the onboarding bundle grants actions nothing calls: {sorted(extra)}"


def test_the_role_trusts_grace_period_only_with_the_external_id() -> None:
    [statement] = role()["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${GracePeriodAccountId}:root"}}
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}
    external_id = template()["Parameters"]["ExternalId"]
    assert (external_id["MinLength"], external_id["MaxLength"]) == (2, 1224)  # AssumeRole's limits


def test_the_role_name_is_one_grace_period_may_assume() -> None:
    parameter = template()["Parameters"]["RoleName"]
    assume = json.loads((DEPLOY / "iam" / "assume-customer-roles.json").read_text())
    prefix = assume["Statement"][0]["Resource"].rsplit("/", 1)[1].rstrip("*")
    assert parameter["Default"].startswith(prefix)
    assert parameter["AllowedPattern"].startswith(f"^{prefix}")
    assert re.fullmatch(parameter["AllowedPattern"], parameter["Default"])
    assert not re.fullmatch(parameter["AllowedPattern"], "AdminRole")


def test_bundle_version_is_an_output_and_a_tag_with_one_value() -> None:
    document = template()
    version = document["Mappings"]["Bundle"]["Version"]["Value"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    lookup = {"Fn::FindInMap": ["Bundle", "Version", "Value"]}
    assert document["Outputs"]["BundleVersion"]["Value"] == lookup
    assert {"Key": "BundleVersion", "Value": lookup} in role()["Tags"]


def _resolve(value: Any) -> Any:
    """The policy as deployed in the aws partition, account 111122223333."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return value["Fn::Sub"].replace("${AWS::Partition}", "aws").replace("${AWS::AccountId}", "111122223333")
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    return value


def test_the_role_policy_passes_parliament_with_reads_alone_on_any_resource(tmp_path: Path) -> None:
    [policy] = role()["Policies"]
    path = tmp_path / "onboarding-role-policy.json"
    path.write_text(json.dumps(_resolve(policy["PolicyDocument"])))
    findings = parliament(path)
    assert {f["issue"] for f in findings} <= {"RESOURCE_STAR"}, findings
    on_any = {action for f in findings for action in f["detail"]}
    assert on_any <= READS_ON_ANY_RESOURCE, f"scope these to their resources: {sorted(on_any - READS_ON_ANY_RESOURCE)}"


def test_the_migration_section_the_dashboard_links_to_exists() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text()
    assert "\n## Reapply the onboarding bundle\n" in operations
    section = operations.split("\n## Reapply the onboarding bundle\n", 1)[1]
    assert "aws cloudformation update-stack " in section
    assert "aws cloudformation update-stack-set " in section
    assert "CAPABILITY_NAMED_IAM" in section
    for parameter in template()["Parameters"]:
        assert f"ParameterKey={parameter},UsePreviousValue=true" in section
