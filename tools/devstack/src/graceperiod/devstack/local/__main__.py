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

from graceperiod.devstack.local import stack
from graceperiod.devstack.local.preflight import InTheWayError
from graceperiod.devstack.servers.dex import DEMO_PASSWORD, DEX_PEOPLE
from graceperiod.devstack.servers.processes import ServerError
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


async def _demo(timeout: float) -> int:
    state = stack.load_state()
    endpoints = state.get("endpoints")
    if not endpoints:
        print("the local stack is not running: make run", file=sys.stderr)
        return 1
    body = purchase_payload()
    os.environ.update(stack.gateway_signing_environment())  # the seeding registers a role as the gateway
    broker = await connect(endpoints["amqp_url"])
    try:
        if any(p["name"] == "aws" for p in state.get("processes", [])):
            await seed_demo_account(endpoints["aws_endpoint_url"], broker, body)
        await publish_upstream(broker, "purchase.executed", body, message_id=body["purchase_id"])
    finally:
        await broker.stop()
    print(f"published purchase.executed {body['purchase_id']} ({body['sku']}, account {body['account']['id']})")
    maildir = endpoints.get("maildir")
    if not maildir:
        return 0
    deadline = time.monotonic() + timeout
    found: list[Path] = []
    while time.monotonic() < deadline:
        found = [p for p in Path(maildir).glob("*.eml") if body["purchase_id"] in p.read_text(errors="replace")]
        if len(found) >= 3:
            break
        await asyncio.sleep(0.2)
    for path in found:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        print(f"  delivered to {message['To']}: {message['Subject']}  ({path})")
    if not found:
        print(f"no email arrived within {timeout:.0f}s; see var/log/*.log", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graceperiod.devstack.local")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the local stack in the background")
    sub.add_parser("down", help="stop it")
    sub.add_parser("status", help="show what runs")
    demo = sub.add_parser("demo", help="publish a demo purchase and wait for its emails")
    demo.add_argument("--timeout", type=float, default=20.0)
    sub.add_parser("docs", help="write the AsyncAPI and OpenAPI documents into docs/")
    args = parser.parse_args(argv)
    if args.command == "up":
        return _up()
    if args.command == "down":
        return _down()
    if args.command == "status":
        return _status()
    if args.command == "demo":
        return asyncio.run(_demo(args.timeout))
    from graceperiod.devstack.local.docs import write_docs  # noqa: PLC0415 - imports every service

    for path in write_docs():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
