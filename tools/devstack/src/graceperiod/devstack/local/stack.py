"""The local stack behind ``make run`` / ``make stop`` / ``make status``.

Starts, in the background and on loopback: RabbitMQ, FerretDB, the SMTP sink, the AWS
endpoint, the Azure endpoint (HTTPS, its CA trusted by the revocation service), Dex (the identity
provider, with the demo people), the four services and the ticker. State, data and logs live
under ``var/``. An explicit ``AMQP_URL``, ``MONGODB_URL``, ``SMTP_URL``, ``AWS_ENDPOINT_URL``,
``REVOCATION_AZURE_ARM_URL`` or ``GATEWAY_OIDC_ISSUER`` replaces the corresponding local server.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.devstack.local.preflight import InTheWayError, check
from graceperiod.devstack.servers.credentials import ActorKeys, BrokerAccounts
from graceperiod.devstack.servers.dex import DEX_ROLE_MAPPING, DexClient, DexServer
from graceperiod.devstack.servers.processes import (
    AwsEndpointServer,
    AzureEndpointServer,
    ChildServer,
    FerretServer,
    RabbitServer,
    ServiceProcess,
    SmtpSinkServer,
    repo_root,
)
from graceperiod.devstack.testkit.samples import GLOBAL_NOTIFICATION_EMAIL
from graceperiod.runtime.actor_assertions import SIGNING_KEYS_VARIABLE

VAR = repo_root() / "var"
STATE_FILE = VAR / "run" / "stack.json"
#: The notifier signs email links with the private keys here; the gateway trusts the JWKS.
LINK_KEYS_DIR = VAR / "keys" / "links"
LINK_JWKS_FILE = VAR / "keys" / "links.jwks.json"
#: A password per broker identity (owner-only), and the definitions RabbitMQ loads at boot.
BROKER_PASSWORDS = VAR / "keys" / "broker-passwords.json"
BROKER_DEFINITIONS = VAR / "keys" / "rabbitmq-definitions.json"
#: The gateway signs every command's and query's actor with the private key; services verify.
ACTOR_KEYS = ActorKeys(VAR / "keys" / "actor")
#: The Fernet key the revocation service seals Azure client secrets with (owner-only, made once).
AZURE_SECRET_KEY_FILE = VAR / "keys" / "azure-secret.key"

SERVICE_PORTS = {"gateway": 8080, "revocation": 8081, "notifier": 8082, "cooldown": 8083}
SERVER_LABELS = {
    "rabbitmq": "RabbitMQ",
    "ferretdb": "FerretDB",
    "smtp": "SMTP sink",
    "aws": "AWS endpoint",
    "azure": "Azure endpoint",
    "dex": "Dex (identity provider)",
}
#: The local Dex's clients: the dashboard's sign-in, a CLI (a public client, for the device
#: flow) and the API, which trusts the CLI so that its ID tokens can be for the API.
DASHBOARD_CLIENT_ID = "graceperiod-dashboard"
CLI_CLIENT_ID = "graceperiod-cli"
API_CLIENT_ID = "graceperiod-api"


@dataclass(frozen=True)
class Endpoints:
    amqp_url: str
    management_url: str | None
    mongodb_url: str
    smtp_url: str
    maildir: str | None
    aws_endpoint_url: str
    oidc_issuer: str | None = None
    #: The local Azure endpoint (ARM and Entra ID at one HTTPS address) and the CA it is trusted by.
    azure_endpoint_url: str | None = None
    azure_ca_bundle: str | None = None


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


STACK_ENV_HEADER = (
    "# LOCAL DEVELOPMENT ONLY: the endpoints and settings of this machine's `make run` stack\n"
    "# (loopback servers, no authentication on FerretDB). AMQP_URL is an upstream purchase\n"
    "# executor's (it may publish purchase.executed only); LEASE_MANAGER_AMQP_URL the lease\n"
    "# manager's. Never use these values, or this file, for a deployment (docs/security.md).\n"
)


def private_dir(path: Path) -> Path:
    """``path`` created (or made) owner-only: databases, logs, keys and mail with live revoke
    links live under ``var/``, and nobody else on the machine may read them."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_stack_env(env: dict[str, str], path: Path | None = None) -> Path:
    """``var/stack.env`` (owner-only, marked local-only), for a newcomer's shell."""
    path = path or VAR / "stack.env"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(STACK_ENV_HEADER + "".join(f"export {k}={v}\n" for k, v in env.items()))
    path.chmod(0o600)
    return path


def _save(state: dict[str, Any]) -> None:
    STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    STATE_FILE.write_text(json.dumps(state, indent=2))


def load_state() -> dict[str, Any]:
    return json.loads(STATE_FILE.read_text()) if STATE_FILE.exists() else {}


def _record(state: dict[str, Any], server: ChildServer, **extra: Any) -> None:
    assert server.process is not None
    state.setdefault("processes", []).append(
        {
            "name": server.name,
            "pid": server.process.pid,
            "port": server.port,
            "log": str(server.log_path),
            **extra,
        }
    )
    _save(state)


@dataclass(frozen=True)
class Plan:
    """What ``up`` will start: the local servers no ``*_URL`` variable replaces, the services,
    and every fixed port they need (port → what for, and the variable that moves it)."""

    rabbit: RabbitServer | None
    ferret: FerretServer | None
    smtp: SmtpSinkServer | None
    aws: AwsEndpointServer | None
    ports: dict[int, str]
    dex: DexServer | None = None
    azure: AzureEndpointServer | None = None

    @property
    def servers(self) -> list[ChildServer]:
        started = (self.rabbit, self.ferret, self.smtp, self.aws, self.azure, self.dex)
        return [s for s in started if s is not None]

    def gateway_environment(self) -> dict[str, str]:
        if self.dex is None:
            return gateway_environment(None, "")
        (dashboard,) = (c for c in self.dex.clients if c.client_id == DASHBOARD_CLIENT_ID)
        return gateway_environment(self.dex.issuer, dashboard.secret)


def plan() -> Plan:
    ports: dict[int, str] = {}
    rabbit = ferret = smtp = aws = dex = None
    if not os.environ.get("AMQP_URL"):
        rabbit = RabbitServer(
            data_dir=VAR / "rabbitmq",
            definitions=BROKER_DEFINITIONS,
            port=_port("GP_RABBITMQ_PORT", 5672),
            management_port=_port("GP_RABBITMQ_MANAGEMENT_PORT", 15672),
        )
        ports[rabbit.port] = "RabbitMQ, GP_RABBITMQ_PORT"
        ports[rabbit.management_port] = "RabbitMQ management, GP_RABBITMQ_MANAGEMENT_PORT"
    if not os.environ.get("MONGODB_URL"):
        ferret = FerretServer(data_dir=VAR / "ferretdb", port=_port("GP_FERRETDB_PORT", 27017))
        ports[ferret.port] = "FerretDB, GP_FERRETDB_PORT"
    if not os.environ.get("SMTP_URL"):
        smtp = SmtpSinkServer(data_dir=VAR / "smtp", port=_port("GP_SMTP_PORT", 2525))
        ports[smtp.port] = "SMTP sink, GP_SMTP_PORT"
    if not os.environ.get("AWS_ENDPOINT_URL"):
        aws = AwsEndpointServer(data_dir=VAR / "aws", port=_port("GP_AWS_PORT", 4566))
        ports[aws.port] = "AWS endpoint, GP_AWS_PORT"
    azure = None
    if not os.environ.get("REVOCATION_AZURE_ARM_URL"):
        azure = AzureEndpointServer(data_dir=VAR / "azure", port=_port("GP_AZURE_PORT", 4443))
        ports[azure.port] = "Azure endpoint, GP_AZURE_PORT"
    if not os.environ.get("GATEWAY_OIDC_ISSUER"):
        gateway = f"http://127.0.0.1:{SERVICE_PORTS['gateway']}"
        clients = dex_clients(gateway, secrets.token_urlsafe(24))
        dex = DexServer(data_dir=VAR / "dex", port=_port("GP_DEX_PORT", 5556), clients=clients)
        ports[dex.port] = "Dex, GP_DEX_PORT"
    ports.update({port: f"{name} service" for name, port in SERVICE_PORTS.items()})
    return Plan(rabbit, ferret, smtp, aws, ports, dex, azure)


def preflight(planned: Plan) -> None:
    """Refuse, in one line and before starting anything, when this checkout's stack already runs
    or another holds a port or the RabbitMQ node name it needs."""
    if load_state().get("processes"):
        msg = "the stack is already running (make status); run `make stop` first"
        raise InTheWayError(msg)
    check(planned.ports, [planned.rabbit.node_name] if planned.rabbit else [])


def up() -> Endpoints:
    """Start the stack; raises :class:`InTheWayError` (nothing started) or ``ServerError`` (some started)."""
    planned = plan()
    preflight(planned)
    private_dir(VAR)
    accounts = broker_accounts()
    if planned.rabbit is not None:
        accounts.boot_definitions(BROKER_DEFINITIONS)
    state: dict[str, Any] = {"processes": []}
    step = _progress()
    for server in planned.servers:
        step(SERVER_LABELS[server.name])
        server.start(timeout=90 if server is planned.rabbit else 60)
        _record(state, server)
    endpoints = _endpoints(planned)
    ensure_link_keys()
    ACTOR_KEYS.ensure()
    env = service_environment(endpoints) | accounts.environment()
    for name, port in SERVICE_PORTS.items():
        own = own_environment(planned, name)
        service = ServiceProcess(
            name=name,
            module=f"graceperiod.{name}",
            data_dir=VAR / "log",
            port=port,
            env={**env, **own, f"{name.upper()}_HTTP_PORT": str(port)},
        )
        step(f"{name} service")
        service.start(timeout=60)
        _record(state, service)

    ticker = ServiceProcess(name="ticker", module="graceperiod.runtime.ticker", data_dir=VAR / "log", env=env)
    ticker.ready = lambda: True  # type: ignore[method-assign]  # it has no HTTP endpoint
    step("ticker")
    ticker.start()
    _record(state, ticker)

    state["endpoints"] = endpoints.__dict__
    _save(state)
    write_stack_env(newcomer_environment(service_environment(endpoints), accounts))
    return endpoints


def own_environment(planned: Plan, service: str) -> dict[str, str]:
    """What one service alone is given: the gateway its sign-in and signing keys, the revocation
    service the key sealing Azure client secrets."""
    if service == "gateway":
        return planned.gateway_environment() | gateway_signing_environment()
    if service == "revocation":
        return revocation_secret_environment()
    return {}


def revocation_secret_environment() -> dict[str, str]:
    """``REVOCATION_SECRET_KEYS``: the caller's, else a local key made once under ``var/keys``."""
    if os.environ.get("REVOCATION_SECRET_KEYS"):
        return {}
    if not AZURE_SECRET_KEY_FILE.exists():
        private_dir(AZURE_SECRET_KEY_FILE.parent)
        fd = os.open(AZURE_SECRET_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return {"REVOCATION_SECRET_KEYS": json.dumps([AZURE_SECRET_KEY_FILE.read_text().strip()])}


def gateway_signing_environment() -> dict[str, str]:
    """The gateway's private actor-assertion keys: for it (and the dev kit acting as it) only."""
    return {SIGNING_KEYS_VARIABLE: str(ACTOR_KEYS.private_dir)}


def broker_accounts() -> BrokerAccounts:
    """The local stack's broker passwords (``var/keys/broker-passwords.json``, made once)."""
    private_dir(BROKER_PASSWORDS.parent)
    return BrokerAccounts.stored(BROKER_PASSWORDS)


def newcomer_environment(env: dict[str, str], accounts: BrokerAccounts) -> dict[str, str]:
    """What ``var/stack.env`` hands a newcomer: the endpoints, with an upstream publisher's
    broker URL (never a service's, nor the administrator's) and no service password."""
    amqp_url = env["AMQP_URL"]
    return env | {
        "AMQP_URL": accounts.url(amqp_url, BrokerIdentity.PURCHASE_EXECUTOR),
        "LEASE_MANAGER_AMQP_URL": accounts.url(amqp_url, BrokerIdentity.LEASE_MANAGER),
    }


def _endpoints(planned: Plan) -> Endpoints:
    env = os.environ
    rabbit, smtp = planned.rabbit, planned.smtp
    return Endpoints(
        amqp_url=rabbit.url if rabbit else env["AMQP_URL"],
        management_url=rabbit.management_url if rabbit else env.get("RABBITMQ_MANAGEMENT_URL"),
        mongodb_url=planned.ferret.url if planned.ferret else env["MONGODB_URL"],
        smtp_url=smtp.url if smtp else env["SMTP_URL"],
        maildir=str(smtp.maildir) if smtp else None,
        aws_endpoint_url=planned.aws.url if planned.aws else env["AWS_ENDPOINT_URL"],
        oidc_issuer=planned.dex.issuer if planned.dex else None,
        azure_endpoint_url=planned.azure.url if planned.azure else None,
        azure_ca_bundle=str(planned.azure.ca_bundle) if planned.azure else None,
    )


def dex_clients(gateway_url: str, dashboard_secret: str) -> tuple[DexClient, ...]:
    return (
        DexClient(
            DASHBOARD_CLIENT_ID,
            "Grace Period",
            redirect_uris=(f"{gateway_url}/sign-in/callback",),
            secret=dashboard_secret,
        ),
        DexClient(CLI_CLIENT_ID, "Grace Period CLI", public=True),
        DexClient(API_CLIENT_ID, "Grace Period API", trusted_peers=(CLI_CLIENT_ID,)),
    )


def gateway_environment(dex_issuer: str | None, dashboard_secret: str) -> dict[str, str]:
    """The gateway's own variables in the local stack: the dev sign-in (loopback only), and
    with the local Dex the sign-in through it (GATEWAY_OIDC_*) and API tokens from it
    (GATEWAY_AUTH_*; a CLI gets one with the device flow as the public client graceperiod-cli).
    deploy/compose.yaml gives its gateway the same. Without the local Dex (GATEWAY_OIDC_ISSUER
    names another provider) the gateway reads the caller's GATEWAY_OIDC_* settings."""
    env = {"GATEWAY_DEV_SIGN_IN": os.environ.get("GATEWAY_DEV_SIGN_IN", "true")}
    if dex_issuer is None:
        return env
    return {
        **env,
        "GATEWAY_OIDC_ISSUER": dex_issuer,
        "GATEWAY_OIDC_PROVIDER_NAME": "Dex",
        "GATEWAY_OIDC_CLIENT_ID": DASHBOARD_CLIENT_ID,
        "GATEWAY_OIDC_CLIENT_SECRET": dashboard_secret,
        "GATEWAY_OIDC_SCOPES": json.dumps(["openid", "email", "profile", "groups"]),
        "GATEWAY_OIDC_ROLE_MAPPING": json.dumps(DEX_ROLE_MAPPING),
        "GATEWAY_AUTH_ISSUER": dex_issuer,
        "GATEWAY_AUTH_JWKS_URL": f"{dex_issuer}/keys",
        "GATEWAY_AUTH_AUDIENCE": API_CLIENT_ID,
    }


def ensure_link_keys() -> None:
    """A link-signing key for the local notifier (made once, kept under var/), and its public
    JWKS for the gateway."""
    if any(LINK_KEYS_DIR.glob("*.pem")):
        return
    subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [
            sys.executable,
            "-m",
            "graceperiod.runtime.keys_cli",
            "generate",
            "--dir",
            str(LINK_KEYS_DIR),
            "--jwks-out",
            str(LINK_JWKS_FILE),
        ],
        check=True,
        capture_output=True,
    )


def service_environment(endpoints: Endpoints) -> dict[str, str]:
    env = {
        "AMQP_URL": endpoints.amqp_url,
        "MONGODB_URL": endpoints.mongodb_url,
        "SMTP_URL": endpoints.smtp_url,
        "AWS_ENDPOINT_URL": endpoints.aws_endpoint_url,
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "NOTIFIER_GLOBAL_NOTIFICATION_EMAIL": os.environ.get(
            "NOTIFIER_GLOBAL_NOTIFICATION_EMAIL", GLOBAL_NOTIFICATION_EMAIL
        ),
        "NOTIFIER_PUBLIC_BASE_URL": f"http://127.0.0.1:{SERVICE_PORTS['gateway']}",
        "NOTIFIER_LINK_KEYS_DIR": str(LINK_KEYS_DIR),
        "GATEWAY_LINK_JWKS_FILE": str(LINK_JWKS_FILE),
        "REVOCATION_LINK_JWKS_FILE": str(LINK_JWKS_FILE),
        "TICK_INTERVAL_SECONDS": os.environ.get("TICK_INTERVAL_SECONDS", "30"),
        "ASSERTION_PUBLIC_KEYS_DIR": str(ACTOR_KEYS.public_dir),
        "LOG_FORMAT": "json",
    }
    if endpoints.management_url:
        env["RABBITMQ_MANAGEMENT_URL"] = endpoints.management_url
    if endpoints.azure_endpoint_url and endpoints.azure_ca_bundle:
        env |= {
            "REVOCATION_AZURE_ARM_URL": endpoints.azure_endpoint_url,
            "REVOCATION_AZURE_AUTHORITY": endpoints.azure_endpoint_url,
            "REVOCATION_AZURE_CA_BUNDLE": endpoints.azure_ca_bundle,
        }
    return env


def down() -> list[str]:
    state = load_state()
    stopped = []
    for entry in reversed(state.get("processes", [])):
        pid = int(entry["pid"])
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.1)
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)
        stopped.append(entry["name"])
    STATE_FILE.unlink(missing_ok=True)
    return stopped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours still answers kill(0); check its state.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return False


def status() -> list[tuple[str, int, int, bool]]:
    return [
        (entry["name"], int(entry["pid"]), int(entry["port"]), _alive(int(entry["pid"])))
        for entry in load_state().get("processes", [])
    ]


def _progress() -> Any:
    started = time.monotonic()

    def step(what: str) -> None:
        print(
            f"  [{time.monotonic() - started:5.1f}s] starting {what}...",
            file=sys.stderr,
            flush=True,
        )

    return step
