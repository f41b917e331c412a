"""Writes the published interface documents into ``docs/``:

* ``docs/asyncapi.json`` — every queue, message and event of every service (AsyncAPI 3.0);
* ``docs/openapi.json`` — the gateway's HTTP API (OpenAPI 3.1).

Both are generated from the code (FastStream and Litestar), never edited by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from faststream.specification import AsyncAPI

from graceperiod.cooldown.app import create_app as cooldown_app
from graceperiod.devstack.servers.processes import repo_root
from graceperiod.gateway.app import create_app as gateway_app
from graceperiod.notifier.app import create_app as notifier_app
from graceperiod.revocation.app import create_app as revocation_app
from graceperiod.runtime.worker import VERSION

DESCRIPTION = (
    "Messages of Grace Period. Upstream systems publish to the `graceperiod.events` topic exchange "
    "(purchase.executed, lease.terminated, account.cleanup.succeeded|failed, account.registered) and "
    "the `graceperiod.ticks` fanout exchange (Tick). Every body is JSON with `schema_version` and "
    "`occurred_at`; the AMQP `message_id` is the idempotency key. Commands and queries are RPC "
    "(direct reply-to) on `<service>.commands` / `<service>.queries`."
)


def asyncapi_document() -> dict[str, Any]:
    brokers = [factory().broker for factory in (revocation_app, notifier_app, cooldown_app)]
    spec = AsyncAPI(
        *(b for b in brokers if b is not None), title="Grace Period messaging", version=VERSION, description=DESCRIPTION
    )
    document: dict[str, Any] = json.loads(spec.to_specification().to_json())
    return document


def openapi_document() -> dict[str, Any]:
    schema: dict[str, Any] = gateway_app().openapi_schema.to_schema()
    return schema


def write_docs(target: Path | None = None) -> list[Path]:
    docs = target or repo_root() / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in (("asyncapi.json", asyncapi_document()), ("openapi.json", openapi_document())):
        path = docs / name
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
