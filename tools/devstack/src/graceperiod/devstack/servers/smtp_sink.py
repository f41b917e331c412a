"""A real SMTP server process that keeps every message it accepts.

Each accepted message is written atomically to ``<maildir>/<time>-<id>.eml`` with the
envelope in ``X-Envelope-From`` / ``X-Envelope-To`` headers. Recipients whose local part
starts with ``reject`` are refused with ``550`` (a permanent rejection), and those starting
with ``defer`` with ``451`` (a temporary one), so tests can exercise both paths. With
``--refusals FILE`` every refusal is also appended to ``FILE`` as one JSON line
(``{"at_ns", "recipient", "code"}``), so a test can count how often a refused address was tried.

    python -m graceperiod.devstack.servers.smtp_sink --port 2525 --maildir var/mail [--refusals var/refused.jsonl]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class MaildirHandler:
    def __init__(self, maildir: Path, refusals: Path | None = None) -> None:
        self.maildir = maildir
        self.maildir.mkdir(parents=True, exist_ok=True)
        self.refusals = refusals

    def _refused(self, address: str, code: int) -> None:
        if self.refusals is not None:
            line = json.dumps({"at_ns": time.time_ns(), "recipient": address, "code": code})
            with self.refusals.open("a") as log:
                log.write(line + "\n")

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            self._refused(address, 550)
            return "550 5.1.1 Mailbox unavailable (rejected by the test sink)"
        if local.startswith("defer"):
            self._refused(address, 451)
            return "451 4.3.0 Try again later (deferred by the test sink)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        content = envelope.original_content or b""
        header = (
            f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:12]}.eml"
        tmp = self.maildir / f".{name}.tmp"
        # Owner-only: a message holds live one-click revoke links.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(header + content)
        os.replace(tmp, self.maildir / name)
        return "250 Message accepted for delivery"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="SMTP server that stores every accepted message as .eml")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, required=True)
    parser.add_argument("--refusals", type=Path, default=None, help="append every refused RCPT here (JSON lines)")
    args = parser.parse_args(argv)

    handler = MaildirHandler(args.maildir, args.refusals)
    kwargs: dict[str, Any] = {"hostname": args.host, "port": args.port, "ready_timeout": 10}
    controller = Controller(handler, **kwargs)
    controller.start()
    print(f"SMTP sink listening on {args.host}:{args.port}, mail in {args.maildir}", flush=True)

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        loop.run_until_complete(stop.wait())
    finally:
        controller.stop()
        loop.close()


if __name__ == "__main__":
    main()
