"""``python -m graceperiod.devstack.local up|down|status|demo|docs`` (behind the Makefile targets)."""

from __future__ import annotations

import argparse
import asyncio
import email
import os
import sys
import time
from email import policy
from pathlib import Path
from typing import Any

from faststream.rabbit import RabbitBroker

from graceperiod.devstack.azure_endpoint.control import AzureEndpointAddress
from graceperiod.devstack.local import stack
from graceperiod.devstack.local.preflight import InTheWayError
from graceperiod.devstack.servers.dex import DEMO_PASSWORD, DEX_PEOPLE
from graceperiod.devstack.servers.processes import ServerError
from graceperiod.devstack.testkit.azure_demo import demo_azure_purchase, seed_demo_azure_purchase
from graceperiod.devstack.testkit.samples import purchase_payload
from graceperiod.devstack.testkit.upstream import connect, publish_upstream, seed_demo_account


def _up() -> int:
    print("Starting the Grace Period local stack (data and logs under var/)", file=sys.stderr)
    try:
        endpoints = stack.up()
    except InTheWayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ServerError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        stack.down()
        return 1
    print(
        f"""
Grace Period is running.

  Gateway (dashboard, API)   http://127.0.0.1:{stack.SERVICE_PORTS["gateway"]}   (OpenAPI: /schema)
  Revocation service         http://127.0.0.1:{stack.SERVICE_PORTS["revocation"]}/ready
  Notifier service           http://127.0.0.1:{stack.SERVICE_PORTS["notifier"]}/ready
  Cooldown service           http://127.0.0.1:{stack.SERVICE_PORTS["cooldown"]}/ready
  RabbitMQ                   {endpoints.amqp_url}  (management: {endpoints.management_url or "n/a"})
  MongoDB protocol (FerretDB) {endpoints.mongodb_url}
  SMTP                       {endpoints.smtp_url}  (mailbox: {endpoints.maildir or "external"})
  AWS endpoint               {endpoints.aws_endpoint_url}
  Azure endpoint             {endpoints.azure_endpoint_url or "external (REVOCATION_AZURE_ARM_URL)"}
  Identity provider (Dex)    {endpoints.oidc_issuer or "external (GATEWAY_OIDC_ISSUER)"}
  Environment                var/stack.env  (source it to talk to this stack)
{_demo_people() if endpoints.oidc_issuer else ""}
Publish a demo purchase:  make demo        Stop everything:  make stop
"""
    )
    return 0


def _demo_people() -> str:
    people = "\n".join(f"    {p.email:<20} {p.name:<16} groups: {', '.join(p.groups)}" for p in DEX_PEOPLE)
    return f"""
Sign in with Dex on the gateway's sign-in page as one of these (password: {DEMO_PASSWORD}):
{people}
"""


def _down() -> int:
    stopped = stack.down()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _status() -> int:
    rows = stack.status()
    if not rows:
        print("the local stack is not running (make run)")
        return 1
    for name, pid, port, alive in rows:
        print(f"  {name:<12} pid {pid:<8} port {port:<6} {'running' if alive else 'NOT RUNNING'}")
    return 0 if all(row[3] for row in rows) else 1


async def _demo(timeout: float, providers: list[str]) -> int:
    state = stack.load_state()
    endpoints = state.get("endpoints")
    if not endpoints:
        print("the local stack is not running: make run", file=sys.stderr)
        return 1
    local = {p["name"] for p in state.get("processes", [])}
    os.environ.update(stack.gateway_signing_environment())  # the seeding registers as the gateway
    broker = await connect(endpoints["amqp_url"])
    bodies = []
    try:
        if "aws" in providers:
            bodies.append(await _publish_aws(broker, endpoints, "aws" in local))
        if "azure" in providers:
            bodies.append(await _publish_azure(broker, endpoints, "azure" in local))
    finally:
        await broker.stop()
    failed = [await _show_emails(endpoints.get("maildir"), body["purchase_id"], timeout) for body in bodies]
    return 1 if any(failed) else 0


async def _publish_aws(broker: RabbitBroker, endpoints: dict[str, Any], seed: bool) -> dict[str, Any]:
    body = purchase_payload()
    if seed:
        await seed_demo_account(endpoints["aws_endpoint_url"], broker, body)
    await publish_upstream(broker, "purchase.executed", body, message_id=body["purchase_id"])
    print(f"published purchase.executed {body['purchase_id']} ({body['sku']}, account {body['account']['id']})")
    return body


async def _publish_azure(broker: RabbitBroker, endpoints: dict[str, Any], seed: bool) -> dict[str, Any]:
    body = demo_azure_purchase()
    if seed:
        address = AzureEndpointAddress(endpoints["azure_endpoint_url"], Path(endpoints["azure_ca_bundle"]))
        await seed_demo_azure_purchase(address, broker, body)
    await publish_upstream(broker, "purchase.executed", body, message_id=body["purchase_id"])
    order = body["azure"]["reservation_order_id"]
    print(f"published purchase.executed {body['purchase_id']} (Azure reservation order {order}, {body['sku']})")
    return body


async def _show_emails(maildir: str | None, purchase_id: str, timeout: float) -> bool:
    """Print the emails sent about the purchase; True when none arrived in time."""
    if not maildir:
        return False
    deadline = time.monotonic() + timeout
    found: list[Path] = []
    while time.monotonic() < deadline:
        found = [p for p in Path(maildir).glob("*.eml") if purchase_id in p.read_text(errors="replace")]
        if len(found) >= 3:
            break
        await asyncio.sleep(0.2)
    for path in found:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        print(f"  delivered to {message['To']}: {message['Subject']}  ({path})")
    if not found:
        print(f"no email about {purchase_id} arrived within {timeout:.0f}s; see var/log/*.log", file=sys.stderr)
    return not found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graceperiod.devstack.local")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the local stack in the background")
    sub.add_parser("down", help="stop it")
    sub.add_parser("status", help="show what runs")
    demo = sub.add_parser("demo", help="publish a demo purchase and wait for its emails")
    demo.add_argument("--timeout", type=float, default=20.0)
    demo.add_argument(
        "--provider", choices=["aws", "azure"], action="append", help="whose purchase (default: one of each)"
    )
    sub.add_parser("docs", help="write the AsyncAPI and OpenAPI documents into docs/")
    args = parser.parse_args(argv)
    if args.command == "up":
        return _up()
    if args.command == "down":
        return _down()
    if args.command == "status":
        return _status()
    if args.command == "demo":
        return asyncio.run(_demo(args.timeout, args.provider or ["aws", "azure"]))
    from graceperiod.devstack.local.docs import write_docs  # noqa: PLC0415 - imports every service

    for path in write_docs():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
