"""Request rates per account, enforced with token buckets at the figures AWS publishes.

A bucket holds ``capacity`` tokens and gains ``refill_per_second`` (never above capacity); a
call takes one token or is throttled with the service's own throttling error. Buckets are per
account, and per Region where AWS says so. The figures (read 2026-11 from AWS's pages):

* **EC2** — per account per Region, each API its own bucket ("Request throttling for the
  Amazon EC2 API", https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html):
  non-mutating actions (``DescribeReservedInstances``, ``DescribeRegions``) 100 / 20 per s;
  the uncategorized ``DescribeReservedInstancesOfferings`` 10 / 10 and
  ``DeleteQueuedReservedInstances`` 5 / 5; mutating actions (``PurchaseReservedInstancesOffering``)
  50 / 5.
* **RDS** — per account per Region, all RDS API requests together: "up to 300 requests in a
  burst and a sustained 12 requests per second" ("Request throttling for the Amazon RDS API",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-api-throttling.html).
* **Account Management** — ``ListRegions`` 5 per s, burst 5, per account ("Quotas for AWS
  Account Management", https://docs.aws.amazon.com/accounts/latest/reference/quotas.html).

AWS publishes no request rate for Savings Plans, ElastiCache, Redshift, MemoryDB, OpenSearch,
Cost Explorer or Organizations; the emulator invents none. Their calls are not limited unless
a test sets a limit for them through the control API (``PUT /_emulator/rate-limits``).

Buckets run on the wall clock (monotonic), not the emulator's clock, which tests freeze.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    capacity: float
    refill_per_second: float
    #: Buckets per Region (EC2, RDS) or one per account (global APIs).
    per_region: bool = True
    #: Actions naming the same group share one bucket (RDS: the whole API); None: its own.
    group: str | None = None
    source: str = ""


_EC2 = "https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html"
_RDS = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-api-throttling.html"
_ACCOUNT = "https://docs.aws.amazon.com/accounts/latest/reference/quotas.html"
_RDS_LIMIT = RateLimit(300, 12, group="rds:*", source=_RDS)

#: IAM action → its documented limit. Only what AWS publishes.
AWS_RATE_LIMITS: dict[str, RateLimit] = {
    "ec2:DescribeReservedInstances": RateLimit(100, 20, source=_EC2),
    "ec2:DescribeRegions": RateLimit(100, 20, source=_EC2),
    "ec2:DescribeReservedInstancesOfferings": RateLimit(10, 10, source=_EC2),
    "ec2:DeleteQueuedReservedInstances": RateLimit(5, 5, source=_EC2),
    "ec2:PurchaseReservedInstancesOffering": RateLimit(50, 5, source=_EC2),
    "rds:DescribeReservedDBInstances": _RDS_LIMIT,
    "rds:DescribeReservedDBInstancesOfferings": _RDS_LIMIT,
    "rds:PurchaseReservedDBInstancesOffering": _RDS_LIMIT,
    "account:ListRegions": RateLimit(5, 5, per_region=False, source=_ACCOUNT),
}


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, updated: float) -> None:
        self.tokens = tokens
        self.updated = updated


class RateLimiter:
    """Token buckets per (account, Region, action or group), thread-safe."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        self.enabled = True
        self.limits: dict[str, RateLimit] = dict(AWS_RATE_LIMITS)

    def allow(self, account: str, region: str, action: str) -> bool:
        """Take a token for one call; False when the bucket is empty (the call is throttled)."""
        limit = self.limits.get(action)
        if not self.enabled or limit is None:
            return True
        key = (account, region if limit.per_region else "*", limit.group or action)
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(limit.capacity, now)
            bucket.tokens = min(limit.capacity, bucket.tokens + (now - bucket.updated) * limit.refill_per_second)
            bucket.updated = now
            if bucket.tokens < 1:
                return False
            bucket.tokens -= 1
            return True

    def set_limit(self, action: str, limit: RateLimit | None) -> None:
        """Override (or with None, remove) one action's limit; its buckets start full again."""
        with self._lock:
            old = self.limits.pop(action, None)
            if limit is not None:
                self.limits[action] = limit
            stale = {action} | {g for g in (old and old.group, limit and limit.group) if g}
            self._buckets = {k: v for k, v in self._buckets.items() if k[2] not in stale}

    def reset(self) -> None:
        """AWS's published limits again, every bucket full."""
        with self._lock:
            self._buckets.clear()
            self.limits = dict(AWS_RATE_LIMITS)

    def describe(self) -> dict[str, object]:
        with self._lock:
            return {
                "enabled": self.enabled,
                "limits": {
                    action: {
                        "capacity": limit.capacity,
                        "refill_per_second": limit.refill_per_second,
                        "per_region": limit.per_region,
                        "group": limit.group,
                        "source": limit.source,
                    }
                    for action, limit in sorted(self.limits.items())
                },
            }
