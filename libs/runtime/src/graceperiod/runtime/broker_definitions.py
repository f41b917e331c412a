"""RabbitMQ definitions generated from the contracts: the broker identities with their
permissions (``graceperiod.contracts.identities``) and the whole topology (exchanges, quorum
queues with their arguments, bindings; ``graceperiod.contracts.topology``).

    graceperiod-broker-definitions [--vhost /] [--passwords FILE | --passwords-from-env]
                                   [--out FILE | --import-to MANAGEMENT_URL]
    graceperiod-broker-definitions --print-env      # new passwords, as VARIABLE=value lines

``--passwords FILE`` is a JSON object ``{"<identity>": "<password>"}``; missing entries are
generated and the file is (re)written owner-only. ``--passwords-from-env`` reads each identity's
password from its variable (:data:`PASSWORD_VARIABLES`; every one must be set): the deployment's
secret store hands the same variables to each process and to this tool. The definitions then
carry each user's salted SHA-256 password hash, so they are written owner-only, or imported
straight into a running broker over its management API (``--import-to``, the administrator's
URL: an import adds and updates, it deletes nothing). Without passwords the users are left out:
the topology alone, with no secret in it. Docs: docs/security.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit, urlunsplit

from graceperiod.contracts.identities import BrokerIdentity, grant_of
from graceperiod.contracts.topology import EVENTS_EXCHANGE, Queues
from graceperiod.runtime.messaging import DEAD_LETTERS, EVENTS, TICKS, dead_letter_queue_for, exchange_for, queue_for

HASHING_ALGORITHM: Final = "rabbit_password_hashing_sha256"
#: The variable that hands each identity its password (processes read their own).
PASSWORD_VARIABLES: Final[dict[BrokerIdentity, str]] = {
    BrokerIdentity.GATEWAY: "GATEWAY_AMQP_PASSWORD",
    BrokerIdentity.REVOCATION: "REVOCATION_AMQP_PASSWORD",
    BrokerIdentity.NOTIFIER: "NOTIFIER_AMQP_PASSWORD",
    BrokerIdentity.COOLDOWN: "COOLDOWN_AMQP_PASSWORD",
    BrokerIdentity.SCHEDULER: "TICKER_AMQP_PASSWORD",
    BrokerIdentity.PURCHASE_EXECUTOR: "PURCHASE_EXECUTOR_AMQP_PASSWORD",
    BrokerIdentity.LEASE_MANAGER: "LEASE_MANAGER_AMQP_PASSWORD",
    BrokerIdentity.OPERATOR: "OPERATOR_AMQP_PASSWORD",
}
Document = dict[str, Any]


def password_hash(password: str, *, salt: bytes | None = None) -> str:
    """RabbitMQ's SHA-256 password hash: base64(salt + sha256(salt + password)), 4-byte salt."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def users(passwords: Mapping[BrokerIdentity, str]) -> list[Document]:
    return [
        {
            "name": str(identity),
            "password_hash": password_hash(passwords[identity]),
            "hashing_algorithm": HASHING_ALGORITHM,
            "tags": list(grant_of(identity).tags),
        }
        for identity in BrokerIdentity
    ]


def permissions(vhost: str) -> tuple[list[Document], list[Document]]:
    """The permissions and topic permissions of every identity in ``vhost``."""
    plain: list[Document] = []
    topic: list[Document] = []
    for identity in BrokerIdentity:
        grant = grant_of(identity)
        plain.append(
            {
                "user": str(identity),
                "vhost": vhost,
                "configure": grant.configure,
                "write": grant.write,
                "read": grant.read,
            }
        )
        topic.append(
            {
                "user": str(identity),
                "vhost": vhost,
                "exchange": EVENTS_EXCHANGE,
                "write": grant.topic_write,
                "read": grant.topic_read,
            }
        )
    return plain, topic


def topology(vhost: str) -> Document:
    """Exchanges, queues and bindings exactly as the services declare them."""
    exchanges: list[Document] = [
        {
            "name": exchange.name,
            "vhost": vhost,
            "type": exchange.type.value,
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        }
        for exchange in (EVENTS, TICKS, DEAD_LETTERS)
    ]
    queues: list[Document] = []
    bindings: list[Document] = []
    for binding in Queues.all():
        dlq = dead_letter_queue_for(binding)
        queues.extend(
            {"name": queue.name, "vhost": vhost, "durable": True, "auto_delete": False, "arguments": queue.arguments}
            for queue in (queue_for(binding), dlq)
        )
        bindings.append(_binding(DEAD_LETTERS.name, dlq.name, binding.queue, vhost))
        if (exchange := exchange_for(binding)) is not None:
            bindings.append(_binding(exchange.name, binding.queue, binding.routing_key, vhost))
    return {"exchanges": exchanges, "queues": queues, "bindings": bindings}


def _binding(source: str, queue: str, routing_key: str, vhost: str) -> Document:
    return {
        "source": source,
        "vhost": vhost,
        "destination": queue,
        "destination_type": "queue",
        "routing_key": routing_key,
        "arguments": {},
    }


def administrator(name: str, password: str, vhost: str) -> tuple[Document, Document]:
    """A broker administrator of a private stack (the management UI, test harnesses): the user
    and its permissions. Tagged ``impersonator`` so the harness may publish as any identity
    (acting as the gateway to seed data); never in production, where nobody is."""
    user = {"name": name, "password_hash": password_hash(password), "hashing_algorithm": HASHING_ALGORITHM}
    return user | {"tags": ["administrator", "impersonator"]}, {
        "user": name,
        "vhost": vhost,
        "configure": ".*",
        "write": ".*",
        "read": ".*",
    }


def definitions(
    vhost: str = "/",
    passwords: Mapping[BrokerIdentity, str] | None = None,
    *,
    administrators: Mapping[str, str] | None = None,
) -> Document:
    """The whole definitions document for one vhost; users only when ``passwords`` are given.
    ``administrators`` (name → password) are added as broker administrators: the local stack's
    ``guest`` and test harnesses only, never production."""
    plain, topic = permissions(vhost)
    admins = [administrator(name, password, vhost) for name, password in (administrators or {}).items()]
    document: Document = {
        "users": (users(passwords) if passwords is not None else []) + [user for user, _ in admins],
        "vhosts": [{"name": vhost}],
        "permissions": (plain if passwords is not None else []) + [grant for _, grant in admins],
        "topic_permissions": topic if passwords is not None else [],
        "policies": [],
        "parameters": [],
        "global_parameters": [],
    }
    return document | topology(vhost)


def generated_password() -> str:
    return secrets.token_urlsafe(24)


def load_passwords(path: Path) -> dict[BrokerIdentity, str]:
    """The passwords in ``path`` (created if missing), completed with generated ones for any
    identity it lacks, and written back owner-only."""
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    passwords = {identity: known.get(identity) or generated_password() for identity in BrokerIdentity}
    if set(known) != {str(i) for i in BrokerIdentity} or any(not known.get(i) for i in BrokerIdentity):
        write_private(path, json.dumps({str(k): v for k, v in passwords.items()}, indent=2) + "\n")
    return passwords


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by its owner only (also when it existed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)


def passwords_from_env(environ: Mapping[str, str]) -> dict[BrokerIdentity, str]:
    missing = [variable for variable in PASSWORD_VARIABLES.values() if not environ.get(variable)]
    if missing:
        msg = f"set every broker identity's password: {', '.join(missing)} missing"
        raise SystemExit(msg)
    return {identity: environ[variable] for identity, variable in PASSWORD_VARIABLES.items()}


def import_definitions(
    management_url: str, document: Document, *, environ: Mapping[str, str] = os.environ, timeout: float = 30.0
) -> None:
    """POST ``document`` to ``<management_url>/api/definitions``, as the administrator named in
    the URL, or else in ``RABBITMQ_ADMIN_USERNAME`` / ``RABBITMQ_ADMIN_PASSWORD``."""
    parts = urlsplit(management_url)
    user = unquote(parts.username) if parts.username else environ.get("RABBITMQ_ADMIN_USERNAME", "")
    password = unquote(parts.password) if parts.password else environ.get("RABBITMQ_ADMIN_PASSWORD", "")
    base = urlunsplit(
        (parts.scheme, f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname or "", parts.path, "", "")
    )
    request = urllib.request.Request(  # noqa: S310 - an http(s) URL the operator configured
        base.rstrip("/") + "/api/definitions",
        data=json.dumps(document).encode(),
        method="POST",
        headers={
            "content-type": "application/json",
            "authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310
        pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graceperiod-broker-definitions", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--vhost", default="/")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--passwords", type=Path, help="JSON {identity: password}; missing ones are generated")
    source.add_argument("--passwords-from-env", action="store_true", help="each identity's password variable")
    source.add_argument("--print-env", action="store_true", help="print new passwords as VARIABLE=value lines")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--out", type=Path, help="write here (owner-only when it holds users) instead of stdout")
    target.add_argument("--import-to", help="a broker's management URL with an administrator's credentials")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.print_env:
        sys.stdout.write("".join(f"{variable}={generated_password()}\n" for variable in PASSWORD_VARIABLES.values()))
        return 0
    passwords = None
    if args.passwords_from_env:
        passwords = passwords_from_env(os.environ)
    elif args.passwords:
        passwords = load_passwords(args.passwords)
    document = definitions(args.vhost, passwords)
    if args.import_to:
        import_definitions(args.import_to, document)
        return 0
    text = json.dumps(document, indent=2) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    elif passwords is not None:
        write_private(args.out, text)
    else:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
