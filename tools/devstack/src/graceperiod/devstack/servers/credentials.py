"""The secrets a private stack runs with, made the way a deployment makes them: a password per
broker identity (``graceperiod.contracts.identities``) and the definitions RabbitMQ loads.
Used by ``make run``, the chaos and bench stacks and the test fixtures, so each of them runs
every service as its own broker identity.

* :class:`BrokerAccounts`: the passwords; the environment variables that hand each process its
  own (``<PREFIX>_AMQP_PASSWORD``); the boot definitions file (owner-only: it holds password
  hashes); and :meth:`BrokerAccounts.prepare_vhost`, which sets up a private vhost over the
  management API (users, permissions, topic permissions and the topology, the definitions'
  part for one vhost) on a broker that did not load them at boot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.devstack.servers.processes import ServerError, management_request
from graceperiod.runtime import broker_definitions
from graceperiod.runtime.actor_assertions import SIGNING_KEYS_VARIABLE
from graceperiod.runtime.settings import with_credentials
from graceperiod.runtime.signing_keys import KeyRing, generate

#: The identities a private stack runs processes as (services and the ticker).
PROCESS_IDENTITIES = (
    BrokerIdentity.GATEWAY,
    BrokerIdentity.REVOCATION,
    BrokerIdentity.NOTIFIER,
    BrokerIdentity.COOLDOWN,
    BrokerIdentity.SCHEDULER,
)


@dataclass(frozen=True)
class BrokerAccounts:
    passwords: dict[BrokerIdentity, str]
    admin: tuple[str, str] = ("guest", "guest")
    """The broker administrator of a private stack (the harness, the management UI)."""
    _users_made: set[str] = field(default_factory=set, repr=False, compare=False)

    @classmethod
    def generated(cls, admin: tuple[str, str] = ("guest", "guest")) -> BrokerAccounts:
        return cls({identity: broker_definitions.generated_password() for identity in BrokerIdentity}, admin)

    @classmethod
    def stored(cls, path: Path) -> BrokerAccounts:
        """The passwords kept in ``path`` (owner-only JSON), made on first use."""
        return cls(broker_definitions.load_passwords(path))

    def url(self, base_url: str, identity: BrokerIdentity) -> str:
        """``base_url``'s broker and vhost, as ``identity``."""
        return with_credentials(base_url, identity, self.passwords[identity])

    def admin_url(self, base_url: str) -> str:
        return with_credentials(base_url, *self.admin)

    def environment(self) -> dict[str, str]:
        """The variables that make every Grace Period process connect as its own identity."""
        variables = broker_definitions.PASSWORD_VARIABLES
        return {variables[identity]: self.passwords[identity] for identity in PROCESS_IDENTITIES}

    def document(self, vhost: str) -> dict[str, Any]:
        """The definitions of one vhost: the identities, the administrator, the topology."""
        return broker_definitions.definitions(vhost, self.passwords, administrators=dict([self.admin]))

    def boot_definitions(self, path: Path, vhost: str = "/") -> Path:
        """The definitions RabbitMQ loads at boot (``load_definitions``): users with their
        password hashes, the administrator, permissions and the topology. Owner-only."""
        broker_definitions.write_private(path, json.dumps(self.document(vhost), indent=2) + "\n")
        return path

    def prepare_vhost(self, management_url: str, vhost: str, *, admin: tuple[str, str] | None = None) -> None:
        """Make ``vhost`` a Grace Period vhost on a running broker, over its management API:
        the users (made once per broker; the administrator tagged ``impersonator``), their
        permissions, and the topology. ``admin``: the broker's administrator (user, password),
        when not this stack's own."""
        accounts = self if admin is None else replace(self, admin=admin)
        document = accounts.document(vhost)
        _call(management_url, "PUT", f"api/vhosts/{quote(vhost, safe='')}", {})
        if management_url not in self._users_made:
            for user in document["users"]:
                body = {k: user[k] for k in ("password_hash", "hashing_algorithm")} | {"tags": ",".join(user["tags"])}
                _call(management_url, "PUT", f"api/users/{quote(user['name'], safe='')}", body)
            self._users_made.add(management_url)
        for grant in document["permissions"]:
            path = f"api/permissions/{quote(vhost, safe='')}/{quote(grant['user'], safe='')}"
            _call(management_url, "PUT", path, {k: grant[k] for k in ("configure", "write", "read")})
        for grant in document["topic_permissions"]:
            path = f"api/topic-permissions/{quote(vhost, safe='')}/{quote(grant['user'], safe='')}"
            _call(management_url, "PUT", path, {k: grant[k] for k in ("exchange", "write", "read")})
        topology = {key: document[key] for key in ("exchanges", "queues", "bindings")}
        _call(management_url, "POST", f"api/definitions/{quote(vhost, safe='')}", topology)


def _call(management_url: str, method: str, path: str, body: Any) -> Any:
    answer = management_request(management_url, method, path, body)
    if answer is None:
        msg = f"RabbitMQ management API refused or did not answer {method} {path}"
        raise ServerError(msg)
    return answer


@dataclass(frozen=True)
class ActorKeys:
    """The gateway's actor-assertion keys under ``directory``: ``private/<kid>.pem`` (the
    gateway's, owner-only) and ``public/<kid>.pem`` (the services')."""

    directory: Path
    kid: str = "actor-local"

    @property
    def private_dir(self) -> Path:
        return self.directory / "private"

    @property
    def public_dir(self) -> Path:
        return self.directory / "public"

    def ensure(self) -> ActorKeys:
        """Make the key pair once; later calls keep it."""
        if not any(self.private_dir.glob("*.pem")):
            generate(self.private_dir, self.kid, prefix="actor")
        self.public_dir.mkdir(parents=True, exist_ok=True)
        for kid, pem in KeyRing.load(directory=self.private_dir).public_pems().items():
            (self.public_dir / f"{kid}.pem").write_text(pem)
        return self

    def environment(self) -> dict[str, str]:
        """The gateway signs with the private key; every service verifies with the public one."""
        return {SIGNING_KEYS_VARIABLE: str(self.private_dir), "ASSERTION_PUBLIC_KEYS_DIR": str(self.public_dir)}
