"""The ticker: publishes a :class:`~graceperiod.contracts.upstream.Tick` to ``graceperiod.ticks``.

``graceperiod-ticker`` publishes every ``TICK_INTERVAL_SECONDS`` (default 30) until stopped;
``graceperiod-ticker --once`` publishes one and exits (a Kubernetes CronJob runs that).
Services treat ticks as wake-up calls only, so a late, duplicated or missing tick is harmless.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from datetime import datetime
from typing import ClassVar
from uuid import uuid4

from faststream.rabbit import RabbitBroker
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.upstream import Tick
from graceperiod.runtime.clock import Clock, SystemClock
from graceperiod.runtime.logs import configure_logging, get_logger
from graceperiod.runtime.messaging import build_broker, publish_tick
from graceperiod.runtime.settings import ServiceSettings
from graceperiod.runtime.tracing import Tracing

log = get_logger("graceperiod.ticker")


class TickerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TICKER_", extra="ignore", frozen=True, populate_by_name=True)
    broker_identity: ClassVar[BrokerIdentity | None] = BrokerIdentity.SCHEDULER

    interval_seconds: float = Field(default=30.0, gt=0, validation_alias="TICK_INTERVAL_SECONDS")


async def publish_one(settings: ServiceSettings, clock: Clock) -> Tick:
    broker = build_broker(settings, app_id="ticker")
    async with broker:
        await broker.connect()
        return await _publish(broker, clock)


def new_tick(now: datetime) -> Tick:
    """A tick for ``now`` with a fresh id (its message id too)."""
    return Tick(tick_id=f"tick-{uuid4().hex}", at=now, occurred_at=now)


async def _publish(broker: RabbitBroker, clock: Clock) -> Tick:
    now = clock.now()
    tick = new_tick(now)
    await publish_tick(broker, tick, message_id=tick.tick_id)
    log.info("tick published", tick_id=tick.tick_id, at=now.isoformat())
    return tick


async def run_forever(settings: TickerSettings, clock: Clock) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_until(stop, settings, clock)


async def run_until(stop: asyncio.Event, settings: TickerSettings, clock: Clock) -> None:
    """A tick at once, then one every ``interval_seconds``, until ``stop`` is set."""
    tracing = Tracing.for_service(settings, "ticker")  # a tick's trace shows what it woke
    broker = build_broker(settings, app_id="ticker", tracing=tracing)
    async with broker:
        await broker.connect()
        while not stop.is_set():
            try:
                await _publish(broker, clock)
            except Exception:  # the broker reconnects; the next tick will go out
                log.exception("tick not published")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.interval_seconds)
    tracing.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="graceperiod-ticker", description=__doc__.splitlines()[0])
    parser.add_argument("--once", action="store_true", help="publish one tick and exit")
    args = parser.parse_args(argv)
    settings = TickerSettings()
    configure_logging(settings.log_level, settings.log_format)
    if args.once:
        asyncio.run(publish_one(settings, SystemClock()))
    else:
        asyncio.run(run_forever(settings, SystemClock()))


if __name__ == "__main__":
    main()
