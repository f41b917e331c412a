"""The AWS side of the revocation service, per customer account: one object holding every
AWS product the service uses, built once by the composition root."""

from __future__ import annotations

from opentelemetry.trace import Tracer

from graceperiod.revocation.adapters.aws.commitments import Commitments
from graceperiod.revocation.adapters.aws.discovery import Discovery
from graceperiod.revocation.adapters.aws.organizations import Organizations
from graceperiod.revocation.adapters.aws.probes import Probes
from graceperiod.revocation.adapters.aws.support import Support
from graceperiod.runtime.aws import AwsSessions, ClientOptions
from graceperiod.runtime.clock import Clock


class AwsAccounts:
    def __init__(self, *, clock: Clock, options: ClientOptions | None = None, tracer: Tracer | None = None) -> None:
        self.sessions = AwsSessions(clock=clock, options=options, tracer=tracer)
        self.commitments = Commitments(self.sessions, clock)
        self.support = Support(self.sessions)
        self.probes = Probes(self.sessions, self.commitments)
        self.discovery = Discovery(self.sessions, clock)
        self.organizations = Organizations(self.sessions)

    async def start(self) -> None:
        await self.sessions.start()

    async def close(self) -> None:
        await self.sessions.close()
