"""``make chaos``: run the fault-injection scenarios against private local servers.

python -m graceperiod.devstack.chaos [--short] [--soak] [--only NAME ...] [--doc docs/reliability.md]

Without ``--short`` the long sizes run (1,000 purchases per fault, 30 s outages). ``--soak``
adds the 10-minute soak. Results: a table on the terminal, JSON in ``var/chaos/``, and with
``--doc`` the marked section of that document. Exit status 1 when any scenario failed.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from graceperiod.devstack.chaos import report
from graceperiod.devstack.chaos.core import REGISTRY, run_scenario
from graceperiod.devstack.chaos.results import Result, Ui, progress_bars
from graceperiod.devstack.chaos.scenarios import __all__ as _registered  # noqa: F401 - registers them
from graceperiod.devstack.chaos.sizes import CI, LONG, Size
from graceperiod.devstack.chaos.stack import ChaosStack
from graceperiod.devstack.servers.netns import remove_owned
from graceperiod.devstack.servers.processes import repo_root


async def _interruptible(work: Coroutine[Any, Any, list[Result]]) -> list[Result]:
    """Stopped by a CI timeout or `kill` (SIGTERM): cancel the run like Ctrl-C does, so it unwinds
    at an await and stops its private servers, service processes (own sessions, so no signal
    reaches them) and test hosts. A KeyboardInterrupt raised at an arbitrary point instead could
    leave a lock held and the cleanup undone (seen with the cluster stack)."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await work


async def _run(names: list[str], size: Size, workdir: Path, console: Console) -> list[Result]:
    """Run the scenarios in order, each topology's consecutive ones on one stack (the cluster's
    is made when the first cluster scenario comes, and removed after the last)."""
    results: list[Result] = []
    with progress_bars() as bars:
        ui = Ui(bars)
        for topology, group in itertools.groupby(names, key=lambda n: REGISTRY[n].topology):
            with ChaosStack.running(workdir / topology, topology) as stack:
                results += [await _one(stack, name, size, ui, console) for name in group]
    return results


async def _one(stack: ChaosStack, name: str, size: Size, ui: Ui, console: Console) -> Result:
    ui.note(f"[bold]{name}[/]: {REGISTRY[name].title}")
    try:
        result = await run_scenario(stack, name, size, ui)
    except Exception as exc:  # one broken scenario must not hide the others' results
        console.print_exception()
        result = Result(name, REGISTRY[name].title, problems=[f"scenario crashed: {exc!r}"])
    ui.note(f"{name}: {result.status}")
    return result


#: Table order: the issue's numbering (faults, AWS, duplicates, replicas, poison, the cluster, soak).
ORDER = ("kill-", "rabbitmq-", "ferretdb-", "smtp-", "aws-", "duplicates", "replicas", "poison", "cluster-", "soak")


def _order(name: str) -> tuple[int, int]:
    """By ORDER, then as registered (the cluster scenarios in the issue's order)."""
    return next((i for i, prefix in enumerate(ORDER) if name.startswith(prefix)), len(ORDER)), list(REGISTRY).index(
        name
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graceperiod.devstack.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the CI sizes (a few minutes in all)")
    parser.add_argument("--soak", action="store_true", help="also run the soak (10 minutes at 50 purchases/s)")
    parser.add_argument("--only", nargs="*", choices=sorted(REGISTRY), help="run only these scenarios")
    parser.add_argument("--out", type=Path, default=repo_root() / "var" / "chaos")
    parser.add_argument("--doc", type=Path, default=None, help="write the table into this document's marked section")
    parser.add_argument(
        "--cluster-doc", type=Path, default=None, help="write the cluster scenarios' rows into this document's too"
    )
    args = parser.parse_args(argv)

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
        results = asyncio.run(_interruptible(_run(names, size, workdir, console)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        # Whatever the unwinding could not stop: the processes on this run's test hosts, its
        # namespaces and links (a run killed outright leaves them to the next run's sweep).
        remove_owned(os.getpid())
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
    cluster = [r for r in results if REGISTRY[r.scenario].topology == "cluster"]
    for doc, rows in ((args.doc, results), (args.cluster_doc, cluster)):
        if doc is None or not rows:
            continue
        text = report.markdown(rows, size=size, when=when)
        if report.write_doc_section(doc, text, size=size.name, scenarios=[r.scenario for r in rows]):
            console.print(f"table written into {doc}")
        else:
            console.print(f"[yellow]{doc} has no chaos markers; table not written")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
