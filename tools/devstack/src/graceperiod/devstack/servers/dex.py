"""Dex, the local OpenID Connect provider (``make run``, the sign-in tests): its demo people,
its clients and the server process, with a config generated for each start.

Dex is built by ``make bootstrap`` into ``.local/bin/dex`` (its login form and styles are
embedded in the binary)."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graceperiod.devstack.servers.processes import ChildServer, ServerError, local_binary


def dex_binary() -> Path:
    return local_binary("dex", "DEX_BIN")


#: The one password of every demo person of the local identity provider (loopback only).
DEMO_PASSWORD = "grace-period-demo"  # noqa: S105 - documented demo password of a loopback-only provider
#: bcrypt (cost 10) of DEMO_PASSWORD: Dex keeps only hashes.
_DEMO_PASSWORD_HASH = "$2a$10$/B85Bq.n1V8FU/6b8oZXQORKcUky8BIuKLvXxgFiqtxhLr8CMue9a"  # noqa: S105


@dataclass(frozen=True)
class DexPerson:
    """A person who can sign in at the local Dex (its static password database)."""

    email: str
    name: str
    user_id: str
    groups: tuple[str, ...]
    email_verified: bool = True


#: The demo people (README). Their groups map to Grace Period roles through DEX_ROLE_MAPPING:
#: Ada is an admin, Alice and Bob are users, Nora has no mapped group (she is refused), and
#: Uma's address is not verified (she signs in, but her email is not used).
DEX_PEOPLE: tuple[DexPerson, ...] = (
    DexPerson("admin@example.com", "Ada Admin", "ada", ("grace-period-admins", "finops")),
    DexPerson("alice@example.com", "Alice Example", "alice", ("finops",)),
    DexPerson("bob@example.com", "Bob Example", "bob", ("platform",)),
    DexPerson("nora@example.com", "Nora Norole", "nora", ("marketing",)),
    DexPerson("uma@example.com", "Uma Unverified", "uma", ("finops",), email_verified=False),
)

#: Group → Grace Period roles, as make run configures the gateway (GATEWAY_OIDC_ROLE_MAPPING).
DEX_ROLE_MAPPING: dict[str, list[str]] = {
    "grace-period-admins": ["admin"],
    "finops": ["user"],
    "platform": ["user"],
}


def dex_person(email: str) -> DexPerson:
    return next(person for person in DEX_PEOPLE if person.email == email)


@dataclass(frozen=True)
class DexClient:
    """An OAuth client registered at Dex (its static clients)."""

    client_id: str
    name: str
    redirect_uris: tuple[str, ...] = ()
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    public: bool = False
    trusted_peers: tuple[str, ...] = ()

    def config(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": self.client_id, "name": self.name, "redirectURIs": list(self.redirect_uris)}
        if self.public:
            entry["public"] = True
        else:
            entry["secret"] = self.secret
        if self.trusted_peers:
            entry["trustedPeers"] = list(self.trusted_peers)
        return entry


@dataclass(kw_only=True)
class DexServer(ChildServer):
    """Dex, an OpenID Connect provider with its own login form, built by ``make bootstrap``.

    Memory storage, the demo people as static passwords, ``clients`` as static clients, no
    approval screen. ``issuer_port`` puts the issuer on another port than the one Dex listens
    on: for a proxy in front of it (the tests that alter what reaches the gateway)."""

    name: str = "dex"
    clients: tuple[DexClient, ...] = ()
    people: tuple[DexPerson, ...] = DEX_PEOPLE
    issuer_port: int | None = None
    id_lifetime: str = "10m"  # Dex's expiry.idTokens

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.issuer_port or self.port}/dex"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "dex.json"

    def config(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "storage": {"type": "memory"},
            "web": {"http": f"127.0.0.1:{self.port}"},
            "logger": {"level": "warn", "format": "json"},
            "oauth2": {"skipApprovalScreen": True, "responseTypes": ["code"], "passwordConnector": "local"},
            "expiry": {"idTokens": self.id_lifetime},
            "staticClients": [client.config() for client in self.clients],
            "enablePasswordDB": True,
            "staticPasswords": [
                {
                    "email": person.email,
                    "hash": _DEMO_PASSWORD_HASH,
                    "username": person.email.split("@")[0],
                    "name": person.name,
                    "userID": person.user_id,
                    "groups": list(person.groups),
                    "emailVerified": person.email_verified,
                }
                for person in self.people
            ],
        }

    def prepare(self) -> None:
        # JSON is YAML: Dex reads it as its config file. It holds client secrets: owner-only.
        self.config_path.write_text(json.dumps(self.config(), indent=2))
        self.config_path.chmod(0o600)

    def command(self) -> list[str]:
        binary = dex_binary()
        if not binary.exists():
            msg = f"Dex not found at {binary}: run `make bootstrap` (builds it into .local/bin)"
            raise ServerError(msg)
        return [str(binary), "serve", str(self.config_path)]

    def ready(self) -> bool:
        url = f"http://127.0.0.1:{self.port}/dex/.well-known/openid-configuration"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
