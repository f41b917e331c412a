"""Every AWS operation the cooldown service's adapters call is an action of the cost role, and
every action of the cost role is called: read statically from the adapters' source."""

from __future__ import annotations

import ast
from pathlib import Path

from graceperiod.cooldown.adapters import iam
from tests.unit.adapters_source import sdk_imports_outside

PACKAGE = Path(iam.__file__).resolve().parents[1]
ADAPTERS = PACKAGE / "adapters"


def _called_actions() -> set[str]:
    """``service:Operation`` of every ``sessions.call(role, "<service>", "<Operation>", ...)``."""
    found: set[str] = set()
    for path in ADAPTERS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "call":
                service, operation = node.args[1], node.args[2]
                assert isinstance(service, ast.Constant), f"{path.name}:{node.lineno}: service must be a literal"
                assert isinstance(operation, ast.Constant), f"{path.name}:{node.lineno}: operation must be a literal"
                found.add(f"{service.value!s}:{operation.value!s}")
    return found


def test_the_adapters_call_exactly_the_cost_roles_actions() -> None:
    assert _called_actions() == iam.COST_IAM_ACTIONS


def test_no_aws_sdk_outside_the_adapters() -> None:
    assert sdk_imports_outside(PACKAGE, ADAPTERS) == [], "AWS calls belong in adapters/"
