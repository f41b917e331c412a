"""Shared reading of the deployment files: the compose file, the rendered Kustomize
overlays, the Dockerfile. Nothing here needs a Docker engine or a cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from graceperiod.devstack.servers.processes import repo_root

ROOT = repo_root()
DEPLOY = ROOT / "deploy"
#: Version the bootstrap script builds into .local/bin (scripts/bootstrap.sh).
KUSTOMIZE_VERSION = "v5.8.0"

Manifest = dict[str, Any]


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def kustomize_command() -> list[str] | None:
    """kustomize from .local/bin (bootstrap), else from PATH, else kubectl's built-in one."""
    local = ROOT / ".local" / "bin" / "kustomize"
    if local.is_file() and os.access(local, os.X_OK):
        return [str(local), "build"]
    if found := shutil.which("kustomize"):
        return [found, "build"]
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    return None


@cache
def render(overlay: str) -> tuple[Manifest, ...]:
    command = kustomize_command()
    if command is None:
        pytest.fail("no kustomize: run scripts/bootstrap.sh (it builds kustomize into .local/bin)")
    result = subprocess.run(
        [*command, str(DEPLOY / "k8s" / overlay)], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def dockerfile_instructions(path: Path = DEPLOY / "Dockerfile") -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        keyword, _, rest = text.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def stages(path: Path = DEPLOY / "Dockerfile") -> dict[str, list[tuple[str, str]]]:
    """Instructions per build stage, by stage name."""
    result: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for keyword, rest in dockerfile_instructions(path):
        if keyword == "FROM":
            name = rest.split(" AS ")[-1].strip() if " AS " in rest else f"stage{len(result)}"
            current = result.setdefault(name, [])
        if current is not None:
            current.append((keyword, rest))
    return result


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml(DEPLOY / "compose.yaml")
    return document
