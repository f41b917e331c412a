"""How big a chaos run is: ``CI`` keeps every scenario to well under a minute, ``LONG`` is what
``make chaos`` runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    """How big a run is."""

    name: str
    purchases: int
    rate: float
    """Purchases/s offered while a fault is injected (publishing outlasts the CI-short faults)."""
    outage_seconds: float
    """How long FerretDB / the SMTP server stays down."""
    down_seconds: float
    """How long a killed service stays dead before it is started again."""
    settle_seconds: float
    """After the last expected effect: how long to keep watching for late duplicates."""
    deadline_seconds: float
    """Give up waiting for the effects after this long (they count as lost)."""
    replica_purchases: int
    soak_seconds: float
    soak_rate: float
    cooldown_accounts: int
    """Sandbox accounts taken through lease end, cleanup and release (cooldown scenarios)."""
    azure_reservations: int
    """Azure reservations bought and returned (azure-return), ten per tenant."""
    env: tuple[tuple[str, str], ...] = ()
    """Service settings for this size (added to every deployment's environment)."""


CI = Size(
    name="ci",
    purchases=100,
    rate=10.0,
    outage_seconds=8.0,
    down_seconds=1.0,
    settle_seconds=3.0,
    deadline_seconds=150.0,
    replica_purchases=100,
    soak_seconds=30.0,
    soak_rate=20.0,
    cooldown_accounts=30,
    azure_reservations=40,
    # A killed notifier's in-flight emails wait for their claim's lease before a redelivery may
    # resend them; the 30 s minimum (default 120 s) keeps the CI run short. The long size keeps
    # the default, so its recover times are the production ones.
    env=(("NOTIFIER_DELIVERY_LEASE_SECONDS", "30"),),
)
LONG = Size(
    name="long",
    purchases=1000,
    rate=50.0,
    outage_seconds=30.0,
    down_seconds=3.0,
    settle_seconds=10.0,
    deadline_seconds=600.0,
    replica_purchases=600,
    soak_seconds=600.0,
    soak_rate=50.0,
    cooldown_accounts=300,
    azure_reservations=300,
)
