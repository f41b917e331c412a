"""The management-account cost role (deploy/onboarding/grace-period-cost-role.yaml) and the
cooldown service's policy to assume it (deploy/iam/assume-cost-role.json): cfn-lint clean,
granting exactly the actions the cooldown service's adapters call, trusted only with the
ExternalId, named so Grace Period's policy may assume it and nothing else."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from graceperiod.cooldown.adapters.iam import COST_IAM_ACTIONS
from tests.deploy.conftest import DEPLOY
from tests.deploy.test_iam import parliament

TEMPLATE = DEPLOY / "onboarding" / "grace-period-cost-role.yaml"
ASSUME = DEPLOY / "iam" / "assume-cost-role.json"


def template() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text())
    return document


def role() -> dict[str, Any]:
    [resource] = [r for r in template()["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    properties: dict[str, Any] = resource["Properties"]
    return properties


def test_cfn_lint_finds_nothing_not_even_informational() -> None:
    cfn_lint = str(Path(sys.executable).parent / "cfn-lint")
    result = subprocess.run(
        [cfn_lint, "--include-checks", "I", "--non-zero-exit-code", "informational", str(TEMPLATE)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_role_grants_exactly_what_the_cooldown_service_calls() -> None:
    [policy] = role()["Policies"]
    granted: set[str] = set()
    for statement in policy["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow"
        granted.update(statement["Action"])
    assert granted == COST_IAM_ACTIONS


def test_the_role_policy_passes_parliament(tmp_path: Path) -> None:
    [policy] = role()["Policies"]
    path = tmp_path / "cost-role-policy.json"
    path.write_text(json.dumps(policy["PolicyDocument"]))
    assert parliament(path) == []


def test_the_role_trusts_grace_period_only_with_the_external_id() -> None:
    [statement] = role()["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${GracePeriodAccountId}:root"}}
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}


def test_grace_period_may_assume_the_cost_role_and_only_roles_named_like_it_with_an_external_id() -> None:
    [statement] = json.loads(ASSUME.read_text())["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Resource"] == "arn:aws:iam::MANAGEMENT_ACCOUNT:role/GracePeriodCost*"
    assert statement["Condition"] == {"Null": {"sts:ExternalId": "false"}}
    prefix = statement["Resource"].rsplit("/", 1)[1].rstrip("*")
    parameter = template()["Parameters"]["RoleName"]
    assert parameter["Default"].startswith(prefix)
    assert parameter["AllowedPattern"].startswith(f"^{prefix}")
    assert re.fullmatch(parameter["AllowedPattern"], parameter["Default"])
    assert not re.fullmatch(parameter["AllowedPattern"], "GracePeriodRevocation")
