"""deploy/compose.yaml, checked without a Docker engine: valid against the Compose
Specification, every image built from deploy/Dockerfile for a real target, health-gated
start order, and the same environment variables `make run` gives the services."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.devstack.local.config_reference import COMPONENTS, is_external, variables_by_component
from graceperiod.devstack.local.stack import (
    API_CLIENT_ID,
    Endpoints,
    dex_clients,
    gateway_environment,
    gateway_signing_environment,
    service_environment,
)
from graceperiod.devstack.servers.dex import DexServer
from graceperiod.runtime.broker_definitions import PASSWORD_VARIABLES
from tests.deploy.conftest import DEPLOY, ROOT
from tests.deploy.test_image import TARGETS

COMPOSE = DEPLOY / "compose.yaml"
DEX_ISSUER = "http://127.0.0.1:5556/dex"
#: compose service -> the Grace Period component it runs (settings it reads).
COMPONENT_OF = {
    "gateway": "gateway",
    "revocation": "revocation",
    "notifier": "notifier",
    "cooldown": "cooldown",
    "ticker": "ticker",
    "dlq": "ticker",  # the DLQ tool reads AMQP_URL like the ticker; nothing else
}


#: compose service -> the variable holding its own broker identity's password.
OWN_PASSWORD = {
    "gateway": PASSWORD_VARIABLES[BrokerIdentity.GATEWAY],
    "revocation": PASSWORD_VARIABLES[BrokerIdentity.REVOCATION],
    "notifier": PASSWORD_VARIABLES[BrokerIdentity.NOTIFIER],
    "cooldown": PASSWORD_VARIABLES[BrokerIdentity.COOLDOWN],
    "ticker": PASSWORD_VARIABLES[BrokerIdentity.SCHEDULER],
}


def test_each_process_runs_as_its_own_broker_identity_after_the_definitions_are_loaded(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    one_shot = services["broker-definitions"]
    assert set(one_shot["environment"]) == set(PASSWORD_VARIABLES.values())
    assert "--passwords-from-env" in one_shot["command"]
    for name, variable in OWN_PASSWORD.items():
        environment = services[name]["environment"]
        others = set(PASSWORD_VARIABLES.values()) - {variable}
        assert variable in environment, name
        assert not others & set(environment), name
        assert services[name]["depends_on"]["broker-definitions"] == {"condition": "service_completed_successfully"}
    assert "guest" not in json.dumps(compose)


def test_only_the_gateway_holds_the_actor_signing_key_and_every_worker_verifies_it(compose: dict[str, Any]) -> None:
    services = compose["services"]
    verification = compose["x-graceperiod-env"]["ASSERTION_PUBLIC_KEYS_DIR"]
    for name in ("revocation", "notifier", "cooldown"):
        assert f"actor-public:{verification}:ro" in services[name]["volumes"], name
        assert not any(volume.startswith("actor-keys:") for volume in services[name]["volumes"]), name
    signing = services["gateway"]["environment"]["GATEWAY_ASSERTION_KEYS_DIR"]
    assert f"actor-keys:{signing}:ro" in services["gateway"]["volumes"]


def test_the_file_is_valid_against_the_compose_specification() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_grace_period_image_is_built_from_the_dockerfile_for_its_own_target(compose: dict[str, Any]) -> None:
    built = {}
    for name, service in compose["services"].items():
        image = service["image"]
        if not image.startswith("graceperiod/"):
            assert "build" not in service
            # Third-party images pinned to an exact version, never a floating tag.
            assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+(-[\w]+)?", image), image
            continue
        build = service["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()
        target = build["args"]["SERVICE"]
        assert target in TARGETS
        assert image.split(":")[0] == f"graceperiod/{target}", name
        built[name] = target
    assert {built[s] for s in ("gateway", "revocation", "notifier", "cooldown")} == {
        "gateway",
        "revocation",
        "notifier",
        "cooldown",
    }
    assert all(built[s] == s for s in ("gateway", "revocation", "notifier", "cooldown"))


def test_start_order_is_gated_on_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            target = services[dependency]
            if condition == {"condition": "service_completed_successfully"}:
                # A one-shot job (e.g. creating the link-signing key): it must not restart.
                assert target.get("restart") == "no", f"{name} waits for {dependency} to complete, which restarts"
                continue
            assert condition == {"condition": "service_healthy"}, name
            health = target.get("healthcheck")
            if health is None:  # then the image's own HEALTHCHECK must exist
                assert target["image"].startswith("graceperiod/")
                assert "HEALTHCHECK" in dockerfile
            else:
                assert not health.get("disable"), f"{name} waits for {dependency}, which has no health check"
    for worker in ("revocation", "notifier", "cooldown"):
        assert {"rabbitmq", "mongodb"} <= set(services[worker]["depends_on"])
    assert {"revocation", "notifier", "cooldown"} <= set(services["gateway"]["depends_on"])
    assert "mailpit" in services["notifier"]["depends_on"]
    assert "aws-endpoint" in services["revocation"]["depends_on"]


def test_the_services_get_the_variables_make_run_gives_them(compose: dict[str, Any]) -> None:
    endpoints = Endpoints("amqp://x/", "http://x/", "mongodb://x/", "smtp://x:1", None, "http://x:2")
    make_run = set(service_environment(endpoints)) - {"RABBITMQ_MANAGEMENT_URL"}  # devstack/tests only
    shared = compose["x-graceperiod-env"]
    assert set(shared) == make_run
    for name in set(COMPONENT_OF) - {"gateway", "dlq"}:
        password = OWN_PASSWORD[name]
        assert compose["services"][name]["environment"] == shared | {password: f"${{{password}:?see deploy/.env}}"}, (
            name
        )
    dlq = compose["services"]["dlq"]["environment"]
    assert dlq == shared | {
        "AMQP_URL": "amqp://graceperiod-operator:${OPERATOR_AMQP_PASSWORD:?see deploy/.env}@rabbitmq:5672/"
    }
    gateway = compose["services"]["gateway"]["environment"]
    assert {k: v for k, v in gateway.items() if k in shared} == shared
    signing = "GATEWAY_ASSERTION_KEYS_DIR"  # the gateway alone holds its private keys, as under make run
    assert set(gateway_signing_environment()) == {signing}
    assert signing not in shared
    own = {k: v for k, v in gateway.items() if k not in shared and k not in (OWN_PASSWORD["gateway"], signing)}
    expected = gateway_environment(DEX_ISSUER, own["GATEWAY_OIDC_CLIENT_SECRET"])
    assert set(own) == set(expected)
    for variable, value in expected.items():
        if variable == "GATEWAY_DEV_SIGN_IN":
            # The container listens on 0.0.0.0, where the gateway refuses the dev sign-in.
            assert own[variable] == "false"
        elif value.startswith(("[", "{")):
            assert json.loads(own[variable]) == json.loads(value), variable
        else:
            assert own[variable] == value, variable


def test_dex_has_the_demo_people_and_clients_of_make_run(compose: dict[str, Any]) -> None:
    config = json.loads((DEPLOY / "dex" / "config.json").read_text())
    secret = compose["services"]["gateway"]["environment"]["GATEWAY_OIDC_CLIENT_SECRET"]
    gateway_port = COMPONENTS["gateway"]().http_port
    clients = dex_clients(f"http://127.0.0.1:{gateway_port}", secret)
    local = DexServer(data_dir=Path("unused"), port=5556, clients=clients).config()
    api = next(c for c in config["staticClients"] if c["id"] == API_CLIENT_ID)
    next(c for c in local["staticClients"] if c["id"] == API_CLIENT_ID)["secret"] = api["secret"]  # an audience only
    assert config == {**local, "web": {"http": "0.0.0.0:5556"}}  # listening for the published port
    assert config["issuer"] == DEX_ISSUER
    dex = compose["services"]["dex"]
    assert dex["network_mode"] == "service:gateway"
    assert "./dex/config.json:/etc/graceperiod/dex.json:ro" in dex["volumes"]
    assert dex["command"][-1] == "/etc/graceperiod/dex.json"


@pytest.mark.parametrize("name", sorted(COMPONENT_OF))
def test_every_variable_set_exists_and_every_required_one_is_set(compose: dict[str, Any], name: str) -> None:
    known = variables_by_component()
    everything = {variable for variables in known.values() for variable in variables}
    environment = compose["services"][name]["environment"]
    unknown = [v for v in environment if v not in everything and not is_external(v)]
    assert not unknown, f"{name} sets variables no component reads: {unknown}"
    component = COMPONENT_OF[name]
    required = [v for v, field in known[component].items() if field.is_required()]
    assert not [v for v in required if v not in environment], f"{name} misses required variables"


def test_urls_point_at_the_compose_services_and_their_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    env = compose["x-graceperiod-env"]
    expected_ports = {"AMQP_URL": 5672, "MONGODB_URL": 27017, "SMTP_URL": 1025, "AWS_ENDPOINT_URL": 4566}
    for variable, port in expected_ports.items():
        url = urlsplit(env[variable])
        assert url.hostname in services, variable
        assert url.port == port, variable
    aws = services["aws-endpoint"]["command"]
    assert aws[aws.index("--port") + 1] == "4566"
    module = aws[aws.index("-m") + 1]
    assert importlib.util.find_spec(module) is not None
    mongo = services["mongodb"]
    replica_set = mongo["command"][mongo["command"].index("--replSet") + 1]
    assert f"replicaSet={replica_set}" in env["MONGODB_URL"]
    assert f'_id: "{replica_set}"' in mongo["healthcheck"]["test"][-1]
    rabbit = services["rabbitmq"]["environment"]
    amqp = urlsplit(env["AMQP_URL"])
    assert (amqp.username, amqp.password) == (rabbit["RABBITMQ_DEFAULT_USER"], rabbit["RABBITMQ_DEFAULT_PASS"])


def test_published_ports_match_the_settings_defaults(compose: dict[str, Any]) -> None:
    gateway_port = COMPONENTS["gateway"]().http_port
    published = [f"127.0.0.1:{gateway_port}:{gateway_port}", "127.0.0.1:5556:5556"]  # the gateway, Dex
    assert compose["services"]["gateway"]["ports"] == published
    assert compose["x-graceperiod-env"]["NOTIFIER_PUBLIC_BASE_URL"] == f"http://127.0.0.1:{gateway_port}"
    for name in COMPONENT_OF:
        for variable in compose["services"][name]["environment"]:
            assert not variable.endswith("_HTTP_PORT"), "ports are the settings defaults; the health check assumes so"


def test_processes_without_http_have_no_health_check_and_run_their_entry_points(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["ticker"]["command"] == ["graceperiod-ticker"]
    assert services["ticker"]["healthcheck"] == {"disable": True}
    assert services["dlq"]["entrypoint"] == ["graceperiod-dlq"]
    scripts = (ROOT / "libs" / "runtime" / "pyproject.toml").read_text()
    assert 'graceperiod-ticker = "graceperiod.runtime.ticker:main"' in scripts
    assert 'graceperiod-dlq = "graceperiod.runtime.dlq:main"' in scripts


def test_the_link_key_one_shot_runs_the_notifiers_key_command(compose: dict[str, Any]) -> None:
    link_keys = compose["services"]["link-keys"]
    assert link_keys["image"].startswith("graceperiod/notifier:")
    assert "graceperiod-keys generate --dir /keys --jwks-out /jwks/links.jwks.json" in link_keys["command"][-1]
    # The key tool lives in the runtime library (gateway and revocation verify what it makes),
    # which the notifier's image installs with its console scripts.
    scripts = (ROOT / "libs" / "runtime" / "pyproject.toml").read_text()
    assert 'graceperiod-keys = "graceperiod.runtime.keys_cli:main"' in scripts


def test_the_revocation_service_verifies_email_links_with_the_notifiers_public_keys(compose: dict[str, Any]) -> None:
    revocation = compose["services"]["revocation"]
    assert "link-jwks:/etc/graceperiod/link-verification-keys:ro" in revocation["volumes"]
    assert revocation["environment"]["REVOCATION_LINK_JWKS_FILE"].startswith("/etc/graceperiod/link-verification-keys/")
