"""``make chaos``: run the fault-injection scenarios against private local servers.

python -m graceperiod.devstack.chaos [--short] [--soak] [--only NAME ...] [--doc docs/reliability.md]

Without ``--short`` the long sizes run (1,000 purchases per fault, 30 s outages). ``--soak``
adds the 10-minute soak. Results: a table on the terminal, JSON in ``var/chaos/``, and with
``--doc`` the marked section of that document. Exit status 1 when any scenario failed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from graceperiod.devstack.chaos import report
from graceperiod.devstack.chaos.core import CI, LONG, REGISTRY, Result, Size, Ui, progress_bars, run_scenario
from graceperiod.devstack.chaos.scenarios import __all__ as _registered  # noqa: F401 - registers them
from graceperiod.devstack.chaos.stack import ChaosStack
from graceperiod.devstack.servers.processes import repo_root


async def _run(names: list[str], size: Size, workdir: Path, console: Console) -> list[Result]:
    results: list[Result] = []
    with ChaosStack.running(workdir) as stack, progress_bars() as bars:
        ui = Ui(bars)
        for name in names:
            ui.note(f"[bold]{name}[/]: {REGISTRY[name].title}")
            try:
                result = await run_scenario(stack, name, size, ui)
            except Exception as exc:  # one broken scenario must not hide the others' results
                console.print_exception()
                result = Result(name, REGISTRY[name].title, problems=[f"scenario crashed: {exc!r}"])
            results.append(result)
            ui.note(f"{name}: {result.status}")
    return results


#: Table order: the issue's numbering (faults, AWS, duplicates, replicas, poison, soak).
ORDER = ("kill-", "rabbitmq-", "ferretdb-", "smtp-", "aws-", "duplicates", "replicas", "poison", "soak")


def _order(name: str) -> tuple[int, str]:
    return next((i for i, prefix in enumerate(ORDER) if name.startswith(prefix)), len(ORDER)), name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graceperiod.devstack.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the CI sizes (a few minutes in all)")
    parser.add_argument("--soak", action="store_true", help="also run the soak (10 minutes at 50 purchases/s)")
    parser.add_argument("--only", nargs="*", choices=sorted(REGISTRY), help="run only these scenarios")
    parser.add_argument("--out", type=Path, default=repo_root() / "var" / "chaos")
    parser.add_argument("--doc", type=Path, default=None, help="write the table into this document's marked section")
    args = parser.parse_args(argv)
    # Stopped by a CI timeout or `kill`: unwind like Ctrl-C, so the private servers and service
    # processes (own sessions, so no signal reaches them) are stopped, not left running.
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    # The load publisher's reconnection chatter during broker restarts is expected; keep the table readable.
    for noisy in ("aiormq", "aio_pika"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    size = CI if args.short else LONG
    names = sorted(args.only or [n for n, s in REGISTRY.items() if not s.long_only or args.soak], key=_order)
    console = Console(stderr=True)
    console.print(f"chaos: {len(names)} scenarios, size {size.name}, {os.cpu_count()} CPU cores")
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="gp-chaos-"))
    try:
        results = asyncio.run(_run(names, size, workdir, console))
    except KeyboardInterrupt:
        console.print(f"chaos: interrupted; private servers stopped, their logs kept in {workdir}")
        return 130
    seconds = time.monotonic() - started

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report.print_table(
        results,
        Console(width=max(160, Console().width)),
        title=f"Grace Period chaos — {size.name} — {when} — {seconds:.0f} s",
    )
    latest = report.write_json(results, args.out, size=size, seconds=seconds)
    passed = all(r.ok or r.pending for r in results)
    if passed and not os.environ.get("GP_CHAOS_KEEP"):
        shutil.rmtree(workdir, ignore_errors=True)
        console.print(f"results written to {latest}")
    else:
        console.print(f"results written to {latest}; server and service logs kept in {workdir}")
    if args.doc is not None:
        if report.write_doc_section(args.doc, report.markdown(results, size=size, when=when)):
            console.print(f"table written into {args.doc}")
        else:
            console.print(f"[yellow]{args.doc} has no chaos markers; table not written")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
