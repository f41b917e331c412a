"""The cooldown service's tuning knobs (filled from ``settings.py``; defaults for tests and tools)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class CooldownOptions:
    release_batch_size: int = 500
    """Schedule entries a release pass reads and claims at a time."""
    release_pipeline: int = 2
    """Batches a release pass has in flight at once (one's events are confirmed while the next is stored)."""
    release_concurrency: int = 32
    """Releases of one batch stored one by one at once (those a batch's single writes cannot take)."""
    claim_grace: timedelta = timedelta(seconds=30)
    """A claimed change still unfinished after this long is finished by whoever meets it."""
    busy_wait_seconds: float = 2.0
    """How long a worker waits for another one's change in flight before retrying later."""
    recent_use_window: timedelta = timedelta(hours=24)
    """Acquisition prefers accounts cleaned longer ago than this, and warns otherwise."""
    candidate_batch: int = 100
    """Available accounts read at once and shared by concurrent acquisitions."""
    candidate_max_age_seconds: float = 1.0
    """How long a read batch of candidates may be used before it is read again."""
    acquire_attempts: int = 50
    history_limit: int = 50
    """Changes shown as an account's history (GetAccount)."""
    gauge_interval: timedelta = timedelta(seconds=60)
    """The pool-size gauge is refreshed on a tick at most this often (it reads every account)."""
    stuck_limit: int = 500
    read_batch_size: int = 200
    """Due cost reads a tick makes at most (the rest wait for the next tick)."""
    read_concurrency: int = 4
    """Cost Explorer requests in flight at once (it throttles)."""
