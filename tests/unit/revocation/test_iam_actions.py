"""Every AWS operation the adapters call is an IAM action of the onboarding bundle, and every
action of the bundle is used: read statically from the adapters' source."""

from __future__ import annotations

import ast
from pathlib import Path

import botocore.session
from botocore import xform_name

from graceperiod.contracts.enums import AwsService
from graceperiod.revocation.adapters import iam
from graceperiod.revocation.domain.commitments import DESCRIBE_ACTIONS
from graceperiod.runtime import aws as runtime_aws
from tests.unit.adapters_source import sdk_imports_outside

PACKAGE = Path(iam.__file__).resolve().parents[1]
ADAPTERS = PACKAGE / "adapters"
#: client name → IAM prefix, where they differ.
IAM_PREFIX = {"opensearch": "es"}
CLIENTS = (
    "sts",
    "savingsplans",
    "ec2",
    "support",
    "rds",
    "elasticache",
    "redshift",
    "memorydb",
    "opensearch",
    "organizations",
    "ce",
    "sqs",
)


def _operation_names() -> dict[str, set[str]]:
    session = botocore.session.get_session()
    names: dict[str, set[str]] = {}
    for client in CLIENTS:
        for operation in session.get_service_model(client).operation_names:
            names.setdefault(xform_name(operation), set()).add(f"{IAM_PREFIX.get(client, client)}:{operation}")
    return names


def _callee(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


def _calls() -> tuple[set[str], set[str]]:
    """(actions called through ``AwsSessions.call`` (or a local alias ``call``), actions
    called directly on a client)."""
    operations = _operation_names()
    via_call: set[str] = set()
    direct: set[str] = set()
    # The roles are assumed by the shared AWS sessions (graceperiod.runtime.aws).
    for path in [*ADAPTERS.rglob("*.py"), Path(runtime_aws.__file__)]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or (callee := _callee(node)) is None:
                continue
            if callee == "call":
                service, operation = node.args[1], node.args[2]
                assert isinstance(service, ast.Constant), f"{path.name}:{node.lineno}: service must be a literal"
                assert isinstance(operation, ast.Constant), f"{path.name}:{node.lineno}: operation must be a literal"
                name = str(service.value)
                via_call.add(f"{IAM_PREFIX.get(name, name)}:{operation.value!s}")
            elif isinstance(node.func, ast.Attribute) and callee in operations:
                direct |= operations[callee]
    return via_call, direct


def test_adapters_call_exactly_the_required_actions() -> None:
    via_call, direct = _calls()
    assert via_call == iam.REQUIRED_IAM_ACTIONS, (
        f"called but not required: {sorted(via_call - iam.REQUIRED_IAM_ACTIONS)}; "
        f"required but never called: {sorted(iam.REQUIRED_IAM_ACTIONS - via_call)}"
    )
    assert direct == iam.VENDOR_IAM_ACTIONS


def test_no_aws_sdk_outside_the_adapters() -> None:
    assert sdk_imports_outside(PACKAGE, ADAPTERS) == [], "AWS calls belong in adapters/"


def test_the_phase_names_describe_actions_the_role_is_granted_and_probed_for() -> None:
    assert set(DESCRIBE_ACTIONS) == set(AwsService)
    assert set(DESCRIBE_ACTIONS.values()) <= iam.PROBED_IAM_ACTIONS
