"""Command replies: the outcome, and the purchase as the asking person may see it now."""

from __future__ import annotations

from dataclasses import dataclass

from graceperiod.contracts.revocation import CommandReply
from graceperiod.contracts.revocation_views import PurchaseView
from graceperiod.contracts.rpc import CommandStatus, Problem
from graceperiod.revocation.changes import Loaded
from graceperiod.revocation.domain.authorization import Asker
from graceperiod.revocation.domain.outcomes import IN_PROGRESS_MESSAGE, Outcome, Rejected
from graceperiod.revocation.domain.views import view_of
from graceperiod.runtime.clock import Clock


@dataclass(frozen=True)
class Replies:
    clock: Clock

    def view(self, loaded: Loaded, asker: Asker | None) -> PurchaseView:
        return view_of(loaded.purchase, loaded.account, asker, self.clock.now())

    def answer(self, outcome: Outcome, loaded: Loaded, asker: Asker | None) -> CommandReply:
        return CommandReply(status=outcome.status, message=outcome.message, purchase=self.view(loaded, asker))

    def done(self, message: str, loaded: Loaded, asker: Asker | None) -> CommandReply:
        return self.answer(Outcome(CommandStatus.DONE, message), loaded, asker)

    def rejected(self, rejected: Rejected, asker: Asker) -> CommandReply:
        problem = Problem(code=rejected.code, message=rejected.message)
        view = None
        if rejected.record is not None:
            view = self.view(Loaded(rejected.record, rejected.account), asker)
        return CommandReply(status=CommandStatus.REJECTED, message=problem.message, problem=problem, purchase=view)


def in_progress() -> CommandReply:
    return CommandReply(status=CommandStatus.IN_PROGRESS, message=IN_PROGRESS_MESSAGE)
