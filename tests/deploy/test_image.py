"""deploy/Dockerfile and .dockerignore, checked without a Docker engine: the instructions are
read and their Python layer is rebuilt here with the very uv commands the Dockerfile runs."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from graceperiod.cooldown.settings import CooldownSettings
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.notifier.settings import NotifierSettings
from graceperiod.revocation.settings import RevocationSettings
from graceperiod.runtime import healthcheck
from tests.deploy.conftest import DEPLOY, ROOT, stages

SERVICES = ("gateway", "revocation", "notifier", "cooldown")
#: Build targets: the four services and the development servers (the local AWS endpoint).
TARGETS = (*SERVICES, "devstack")
DEV_TOOLS = ("pytest", "mypy", "ruff", "hypothesis", "parliament", "cfn_lint")


def workspace_members() -> list[Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members: list[Path] = []
    for pattern in config["tool"]["uv"]["workspace"]["members"]:
        members.extend(sorted(p.parent.relative_to(ROOT) for p in ROOT.glob(f"{pattern}/pyproject.toml")))
    return members


def test_the_base_image_is_pinned_to_an_exact_python_311_tag() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    default = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert default is not None
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", default.group(1))
    assert all(rest.startswith("${PYTHON_IMAGE} AS ") for _, rest in _froms())


def _froms() -> list[tuple[str, str]]:
    return [(k, r) for stage in stages().values() for k, r in stage if k == "FROM"]


def test_the_final_stage_runs_as_a_non_root_user_with_a_stdlib_health_check_and_no_build_tools() -> None:
    final = stages()["final"]
    text = "\n".join(f"{k} {r}" for k, r in final)
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"0", "root"}
    health = [rest for keyword, rest in final if keyword == "HEALTHCHECK"]
    assert len(health) == 1
    assert '"-m", "graceperiod.runtime.healthcheck"' in health[0]
    for forbidden in ("apt-get", "pip install", "uv ", "curl", "wget", "gcc", "build-essential"):
        assert forbidden not in text, forbidden
    copies = [rest for keyword, rest in final if keyword == "COPY"]
    assert copies == ["--from=build /app/.venv /app/.venv"]
    assert any(k == "ENV" and "GP_SERVICE=${SERVICE}" in r for k, r in final)


def test_the_dependency_layer_sees_every_workspace_member_and_syncs_one_package_frozen_without_dev() -> None:
    build = stages()["build"]
    copied = {rest.split()[0] for keyword, rest in build if keyword == "COPY"}
    for member in workspace_members():
        assert f"{member}/pyproject.toml" in copied, f"{member} is missing from the dependency layer"
    syncs = [rest for keyword, rest in build if keyword == "RUN" and "uv sync" in rest]
    assert len(syncs) == 2
    for command in syncs:
        assert "--frozen" in command
        assert "--no-dev" in command
        assert '--package "graceperiod-${SERVICE}"' in command
    assert "--no-install-workspace" in syncs[0]
    assert "--no-editable" in syncs[1]


def test_the_build_context_allows_exactly_what_the_dockerfile_copies() -> None:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [line for line in lines if line and not line.startswith("#")]
    assert patterns[0] == "*", "the .dockerignore is an allow-list"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    sources: set[str] = set()
    for keyword, rest in stages()["build"]:
        if keyword == "COPY" and not rest.startswith("--from"):
            sources.update(part.split("/")[0] for part in rest.split()[:-1])
    assert sources == allowed
    assert {".git", ".venv", ".local", "var"}.isdisjoint(allowed)


def test_the_health_check_knows_each_service_port() -> None:
    defaults = {
        "gateway": GatewaySettings().http_port,
        "revocation": RevocationSettings().http_port,
        "notifier": NotifierSettings().http_port,
        "cooldown": CooldownSettings().http_port,
    }
    assert dict(healthcheck.SERVICE_PORTS) == defaults
    assert healthcheck.default_url({"GP_SERVICE": "notifier"}) == "http://127.0.0.1:8082/health"
    assert healthcheck.default_url({"GP_SERVICE": "notifier", "NOTIFIER_HTTP_PORT": "9000"}) == (
        "http://127.0.0.1:9000/health"
    )
    with pytest.raises(ValueError, match="GP_SERVICE"):
        healthcheck.default_url({})


@pytest.fixture
def health_server() -> Iterator[tuple[int, list[int]]]:
    """A loopback HTTP server whose /health answers with the status at the end of the list."""
    statuses = [200]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(statuses[-1] if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], statuses
    finally:
        server.shutdown()
        server.server_close()


def test_the_health_check_exit_status_follows_the_endpoint(health_server: tuple[int, list[int]]) -> None:
    port, statuses = health_server
    env = {"GP_SERVICE": "cooldown", "COOLDOWN_HTTP_PORT": str(port)}
    assert healthcheck.main([], env) == 0
    statuses.append(503)
    assert healthcheck.main([], env) == 1
    assert healthcheck.main([f"http://127.0.0.1:{port}/health", "--timeout", "1"], {}) == 1
    assert healthcheck.main(["--tcp", f"127.0.0.1:{port}"], {}) == 0
    assert healthcheck.main(["--tcp", "127.0.0.1:1"], {}) == 1


def _build_context(target: Path) -> None:
    """The build context as .dockerignore lets it through (its allow-list, minus caches)."""
    target.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", ".ruff_cache")
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        if line.startswith("!"):
            source = ROOT / line[1:].rstrip("/")
            if source.is_dir():
                shutil.copytree(source, target / source.name, ignore=ignore)
            else:
                shutil.copy2(source, target / source.name)


def _uv() -> list[str]:
    """uv as the Makefile finds it: on PATH, else the copy bootstrap installed with pip."""
    found = shutil.which("uv")
    return [found] if found else ["python3", "-m", "uv"]


@pytest.mark.parametrize("service", TARGETS)
def test_the_python_layer_builds_with_the_dockerfile_commands(service: str, tmp_path: Path) -> None:
    """Runs the Dockerfile's two `uv sync` commands for one target, as the build stage does,
    then checks the environment it made: the service imports, its entry points exist, and
    nothing from the dev group got in. (Hard links and no bytecode only to save time.)"""
    context = tmp_path / "src"
    _build_context(context)
    venv = tmp_path / "venv"
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_PYTHON": sys.executable,
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_LINK_MODE": "hardlink",
        "UV_COMPILE_BYTECODE": "0",
        "SERVICE": service,
        "VIRTUAL_ENV": "",
    }
    for keyword, rest in stages()["build"]:
        if keyword == "RUN" and "uv sync" in rest:
            command = rest.split("uv sync", 1)[1]
            argv = [*_uv(), "sync", *shlex.split(command.replace("${SERVICE}", service))]
            result = subprocess.run(
                argv, cwd=context, env=env, capture_output=True, text=True, timeout=300, check=False
            )
            assert result.returncode == 0, result.stderr
    python = venv / "bin" / "python"
    module = "graceperiod.devstack.aws_endpoint" if service == "devstack" else f"graceperiod.{service}.app"
    probe = (
        "import importlib, importlib.util, json, sys; "
        f"importlib.import_module({module!r}); "
        f"print(json.dumps([m for m in {list(DEV_TOOLS)!r} if importlib.util.find_spec(m)]))"
    )
    result = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"dev tools in the {service} image: {result.stdout}"
    for script in ("graceperiod-ticker", "graceperiod-dlq"):
        assert (venv / "bin" / script).exists()
    if service == "notifier":
        _operators_make_a_link_key_with_graceperiod_keys(venv, tmp_path / "link-keys")
    installed = {p.name.split("-")[0] for p in (venv / "lib").glob("python3.*/site-packages/*.dist-info")}
    if service == "gateway":
        assert "aioboto3" not in installed
    if service in {"revocation", "cooldown"}:
        assert "litestar" not in installed


def _operators_make_a_link_key_with_graceperiod_keys(venv: Path, directory: Path) -> None:
    """The console script docs/operations.md tells operators to run, from the notifier image."""
    script = venv / "bin" / "graceperiod-keys"
    argv = [str(script), "generate", "--dir", str(directory), "--kid", "image-check"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert (directory / "image-check.pem").stat().st_mode & 0o777 == 0o600
    assert '"kid": "image-check"' in result.stdout
