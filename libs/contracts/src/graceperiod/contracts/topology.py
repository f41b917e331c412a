"""Names of every exchange, routing key and queue. One place, so no service spells them twice.

Layout:

* ``graceperiod.events`` (topic, durable): upstream events and the services' own events.
* ``graceperiod.ticks`` (fanout, durable): :class:`~graceperiod.contracts.upstream.Tick`.
* ``graceperiod.dlx`` (direct, durable): dead letters, routed by the name of the queue
  they died in to ``<queue>.dlq``.
* Commands and queries go straight to the owning service's ``<service>.commands`` /
  ``<service>.queries`` queue through the default exchange, as RPC (direct reply-to).

Each consumer owns one durable quorum queue per event type it reads, named
``<service>.<routing key>``, so every queue has one message type and its own DLQ.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

EVENTS_EXCHANGE = "graceperiod.events"
TICKS_EXCHANGE = "graceperiod.ticks"
DEAD_LETTER_EXCHANGE = "graceperiod.dlx"
DEAD_LETTER_SUFFIX = ".dlq"


class RoutingKey(StrEnum):
    # Upstream contract (brief: keep these names).
    PURCHASE_EXECUTED = "purchase.executed"
    LEASE_TERMINATED = "lease.terminated"
    ACCOUNT_CLEANUP_SUCCEEDED = "account.cleanup.succeeded"
    ACCOUNT_CLEANUP_FAILED = "account.cleanup.failed"
    ACCOUNT_REGISTERED = "account.registered"

    # Revocation service events.
    PURCHASE_RECORDED = "revocation.purchase.recorded"
    PURCHASE_CHANGED = "revocation.purchase.changed"

    # Notifier events.
    EMAIL_DELIVERED = "notifier.email.delivered"

    # Cooldown service events.
    ACCOUNT_STATUS_CHANGED = "cooldown.account.status-changed"
    ACCOUNT_SETTLED = "cooldown.account.settled"
    WAIT_GRANTED = "cooldown.wait.granted"
    WAIT_EXPIRED = "cooldown.wait.expired"
    POOL_RUNNING_LOW = "cooldown.pool.low"


class ServiceName(StrEnum):
    GATEWAY = "gateway"
    REVOCATION = "revocation"
    NOTIFIER = "notifier"
    COOLDOWN = "cooldown"
    LEASE_MANAGER = "lease-manager"
    """Not a Grace Period service: the upstream lease manager (or a billing system) reading the
    cooldown service's events. Its queues are declared here, with everyone else's, so an
    account event is never lost (nor refused as unroutable) while that consumer is down."""


def event_queue(service: ServiceName, routing_key: RoutingKey) -> str:
    """The queue a service reads one event type from."""
    return f"{service}.{routing_key}"


def tick_queue(service: ServiceName) -> str:
    return f"{service}.ticks"


def command_queue(service: ServiceName) -> str:
    """Durable RPC queue for state-changing commands (never lost if the caller times out)."""
    return f"{service}.commands"


def query_queue(service: ServiceName) -> str:
    """RPC queue for reads; requests expire with the caller's timeout."""
    return f"{service}.queries"


def dead_letter_queue(queue: str) -> str:
    return f"{queue}{DEAD_LETTER_SUFFIX}"


class QueueKind(StrEnum):
    EVENTS = "events"
    """Durable quorum queue of one event type; dead-letters at least once."""
    TICKS = "ticks"
    """Short quorum queue bound to the ticks fanout; old ticks are dropped, never piled up."""
    COMMANDS = "commands"
    """Durable quorum RPC queue: a command outlives its caller's timeout."""
    QUERIES = "queries"
    """RPC queue for reads; each request expires with its caller's timeout."""


@dataclass(frozen=True, slots=True)
class Binding:
    """A queue, and the exchange and routing key that feed it (default exchange: empty)."""

    service: ServiceName
    queue: str
    kind: QueueKind
    exchange: str = ""
    routing_key: str = ""


def _events(service: ServiceName, key: RoutingKey) -> Binding:
    return Binding(service, event_queue(service, key), QueueKind.EVENTS, EVENTS_EXCHANGE, key)


def _ticks(service: ServiceName) -> Binding:
    return Binding(service, tick_queue(service), QueueKind.TICKS, TICKS_EXCHANGE)


def _rpc(service: ServiceName, kind: QueueKind) -> Binding:
    name = command_queue(service) if kind is QueueKind.COMMANDS else query_queue(service)
    return Binding(service, name, kind)


_R, _N, _C = ServiceName.REVOCATION, ServiceName.NOTIFIER, ServiceName.COOLDOWN
_L = ServiceName.LEASE_MANAGER


class Queues:
    """Every queue in the system. Each service consumes only its own."""

    REVOCATION_PURCHASE_EXECUTED = _events(_R, RoutingKey.PURCHASE_EXECUTED)
    REVOCATION_EMAIL_DELIVERED = _events(_R, RoutingKey.EMAIL_DELIVERED)
    REVOCATION_TICKS = _ticks(_R)
    REVOCATION_COMMANDS = _rpc(_R, QueueKind.COMMANDS)
    REVOCATION_QUERIES = _rpc(_R, QueueKind.QUERIES)

    NOTIFIER_PURCHASE_RECORDED = _events(_N, RoutingKey.PURCHASE_RECORDED)
    NOTIFIER_PURCHASE_CHANGED = _events(_N, RoutingKey.PURCHASE_CHANGED)
    NOTIFIER_POOL_RUNNING_LOW = _events(_N, RoutingKey.POOL_RUNNING_LOW)
    NOTIFIER_TICKS = _ticks(_N)
    NOTIFIER_COMMANDS = _rpc(_N, QueueKind.COMMANDS)
    NOTIFIER_QUERIES = _rpc(_N, QueueKind.QUERIES)

    COOLDOWN_ACCOUNT_REGISTERED = _events(_C, RoutingKey.ACCOUNT_REGISTERED)
    COOLDOWN_LEASE_TERMINATED = _events(_C, RoutingKey.LEASE_TERMINATED)
    COOLDOWN_CLEANUP_SUCCEEDED = _events(_C, RoutingKey.ACCOUNT_CLEANUP_SUCCEEDED)
    COOLDOWN_CLEANUP_FAILED = _events(_C, RoutingKey.ACCOUNT_CLEANUP_FAILED)
    COOLDOWN_TICKS = _ticks(_C)
    COOLDOWN_COMMANDS = _rpc(_C, QueueKind.COMMANDS)
    COOLDOWN_QUERIES = _rpc(_C, QueueKind.QUERIES)

    # Read by the upstream lease manager / billing system (docs/cooldown.md).
    LEASE_MANAGER_ACCOUNT_SETTLED = _events(_L, RoutingKey.ACCOUNT_SETTLED)
    LEASE_MANAGER_ACCOUNT_STATUS_CHANGED = _events(_L, RoutingKey.ACCOUNT_STATUS_CHANGED)
    LEASE_MANAGER_WAIT_GRANTED = _events(_L, RoutingKey.WAIT_GRANTED)
    LEASE_MANAGER_WAIT_EXPIRED = _events(_L, RoutingKey.WAIT_EXPIRED)

    @classmethod
    def all(cls) -> list[Binding]:
        return [value for value in vars(cls).values() if isinstance(value, Binding)]

    @classmethod
    def of(cls, service: ServiceName) -> list[Binding]:
        return [binding for binding in cls.all() if binding.service is service]
