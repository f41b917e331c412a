"""What every command and query carries, and how every reply reports failure.

Commands and queries are RPC over RabbitMQ (direct reply-to). A command goes to the owning
service's durable ``<service>.commands`` queue, so it is carried out even when the caller
has stopped waiting; a query goes to ``<service>.queries`` and expires with its caller.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from graceperiod.contracts.base import EmailAddress, Identifier, Model, NonEmptyStr
from graceperiod.contracts.enums import ActionPath, Permission


class Actor(Model):
    """Who asks, as the gateway authenticated them. Owning services re-check permissions."""

    user_id: Identifier
    email: EmailAddress
    name: NonEmptyStr | None = None
    permissions: list[Permission] = Field(default_factory=list)
    path: ActionPath

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


class ErrorCode(StrEnum):
    INVALID = "invalid"
    """The request is malformed or refers to something in a wrong form."""
    NOT_FOUND = "not-found"
    """Nothing with that id exists (or the actor may not know it exists)."""
    FORBIDDEN = "forbidden"
    """The actor lacks the permission for this action on this object."""
    CONFLICT = "conflict"
    """The object's state no longer allows the action (e.g. the window closed meanwhile)."""
    UNAVAILABLE = "unavailable"
    """A dependency (AWS, a role, a support plan) does not allow it now; the message says why."""
    FAILED = "failed"
    """The action was attempted and failed; the message carries the cause."""


class Problem(Model):
    """Why a command or query did not succeed: a code for programs, a message for people."""

    code: ErrorCode
    message: NonEmptyStr


class Reply(Model):
    """Base of every reply: ``problem`` says why a command or query did not succeed."""

    problem: Problem | None = None


class CommandStatus(StrEnum):
    DONE = "done"
    """The outcome is known and final."""
    IN_PROGRESS = "in-progress"
    """Accepted; the outcome follows later (an event says when)."""
    REJECTED = "rejected"
    """Not carried out; ``problem`` says why. Nothing changed."""


class Command(Model):
    """Base of every command: who, and the key that makes a retried command harmless."""

    actor: Actor
    idempotency_key: Identifier


class Query(Model):
    """Base of every query."""

    actor: Actor
