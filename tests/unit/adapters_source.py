"""Reading a service's source for the AWS rules its tests check (no AWS SDK outside its adapters)."""

from __future__ import annotations

import ast
from pathlib import Path

SDK_MODULES = ("aioboto3", "aiobotocore", "botocore", "boto3")


def sdk_imports_outside(package: Path, adapters: Path) -> list[str]:
    """``<file> imports <module>`` for every AWS SDK import of ``package`` outside ``adapters``."""
    found: list[str] = []
    for path in package.rglob("*.py"):
        if adapters in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            found += [f"{path.relative_to(package)} imports {m}" for m in modules if m.startswith(SDK_MODULES)]
    return found
