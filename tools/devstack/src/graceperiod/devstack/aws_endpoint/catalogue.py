"""What the emulator sells: a small, fixed catalogue of offerings per product and Region.

Offering ids are stable (derived from what the offering is), so a test may keep one, but
clients find them as real ones do, through the ``Describe*Offerings`` calls. Prices are
illustrative, not AWS's: an hourly rate per instance or node type, 40 % off for one year and
60 % off for three, paid all upfront, half upfront and half hourly, or all hourly.

Regions: the commercial Regions enabled by default in every account, and the opt-in ones an
account must enable first (``DescribeRegions`` / ``ListRegions`` answer per account).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

#: Enabled in every account (AWS: Regions introduced before 2019-03-20 need no opt-in).
DEFAULT_REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "sa-east-1",
)
OPT_IN_REGIONS = (
    "af-south-1",
    "ap-east-1",
    "ap-south-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ca-west-1",
    "eu-central-2",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "me-south-1",
)
ALL_REGIONS = DEFAULT_REGIONS + OPT_IN_REGIONS

ONE_YEAR, THREE_YEARS = 31_536_000, 94_608_000
DURATIONS = (ONE_YEAR, THREE_YEARS)
PAYMENT_OPTIONS = ("All Upfront", "Partial Upfront", "No Upfront")
_DISCOUNT = {ONE_YEAR: Decimal("0.6"), THREE_YEARS: Decimal("0.4")}
_NAMESPACE = uuid.UUID("5b0f7c1e-6a57-4d8e-9c43-6f0d1b2a9e11")
_CENT = Decimal("0.01")

#: Hourly on-demand rate per instance or node type, per product.
HOURLY_RATES: dict[str, dict[str, Decimal]] = {
    "ec2": {"m6i.large": Decimal("0.096"), "c6i.large": Decimal("0.085"), "r6i.large": Decimal("0.126")},
    "rds": {"db.m6g.large": Decimal("0.152"), "db.r6g.large": Decimal("0.215")},
    "elasticache": {"cache.m6g.large": Decimal("0.149"), "cache.r6g.large": Decimal("0.206")},
    "redshift": {"ra3.xlplus": Decimal("1.086"), "ra3.4xlarge": Decimal("3.26")},
    "memorydb": {"db.r6g.large": Decimal("0.309"), "db.r7g.large": Decimal("0.317")},
    "opensearch": {"m6g.large.search": Decimal("0.128"), "r6g.large.search": Decimal("0.167")},
}
PRODUCT_DESCRIPTIONS = {"ec2": "Linux/UNIX", "rds": "postgresql", "elasticache": "redis", "memorydb": "redis"}


@dataclass(frozen=True)
class Offering:
    """A reserved-capacity offering (EC2 and the node products)."""

    id: str
    service: str
    region: str
    instance_type: str
    duration: int
    payment: str
    offering_class: str = "standard"

    @property
    def hours(self) -> int:
        return self.duration // 3600

    @property
    def effective_total(self) -> Decimal:
        rate = HOURLY_RATES.get(self.service, {}).get(self.instance_type, Decimal("0.1"))
        return rate * _DISCOUNT.get(self.duration, Decimal("0.5")) * self.hours

    @property
    def fixed_price(self) -> Decimal:
        share = {"All Upfront": Decimal(1), "Partial Upfront": Decimal("0.5")}.get(self.payment, Decimal(0))
        return (self.effective_total * share).quantize(_CENT, ROUND_HALF_UP)

    @property
    def recurring_hourly(self) -> Decimal:
        return ((self.effective_total - self.fixed_price) / self.hours).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def offering_id(*parts: str | int) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts)))


@cache
def offerings(service: str, region: str) -> tuple[Offering, ...]:
    classes = ("standard", "convertible") if service == "ec2" else ("standard",)
    return tuple(
        Offering(offering_id(service, region, kind, d, payment, cls), service, region, kind, d, payment, cls)
        for kind in HOURLY_RATES[service]
        for d in DURATIONS
        for payment in PAYMENT_OPTIONS
        for cls in classes
    )


@cache
def offering_by_id(service: str, region: str) -> dict[str, Offering]:
    return {o.id: o for o in offerings(service, region)}


# --- Savings Plans --------------------------------------------------------------------------------

SAVINGS_PLAN_TYPES = ("Compute", "EC2Instance")
#: EC2 Instance Savings Plans are bought for one instance family in one Region.
EC2_INSTANCE_PLAN_FAMILIES = ("m6i", "c6i", "r6i")
EC2_INSTANCE_PLAN_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1")
_PRODUCT_TYPES = {"Compute": ["EC2", "Fargate", "Lambda"], "EC2Instance": ["EC2"]}


@dataclass(frozen=True)
class PlanOffering:
    id: str
    plan_type: str
    duration: int
    payment: str
    region: str = ""
    instance_family: str = ""

    @property
    def product_types(self) -> list[str]:
        return _PRODUCT_TYPES[self.plan_type]

    @property
    def description(self) -> str:
        years = self.duration // ONE_YEAR
        kind = "Compute" if self.plan_type == "Compute" else f"EC2 Instance {self.instance_family} in {self.region}"
        return f"{years} year {self.payment} {kind} Savings Plan"

    def search_result(self) -> dict[str, object]:
        properties = [
            {"name": "region", "value": self.region},
            {"name": "instanceFamily", "value": self.instance_family},
        ]
        return {
            "offeringId": self.id,
            "productTypes": self.product_types,
            "planType": self.plan_type,
            "description": self.description,
            "paymentOption": self.payment,
            "durationSeconds": self.duration,
            "currency": "USD",
            "serviceCode": "ComputeSavingsPlans" if self.plan_type == "Compute" else "EC2InstanceSavingsPlans",
            "usageType": "ComputeSP:" if self.plan_type == "Compute" else f"EC2SP:{self.instance_family}",
            "operation": "",
            "properties": [p for p in properties if p["value"]],
        }


@cache
def plan_offerings() -> tuple[PlanOffering, ...]:
    compute = [
        PlanOffering(offering_id("savingsplans", "Compute", d, p), "Compute", d, p)
        for d in DURATIONS
        for p in PAYMENT_OPTIONS
    ]
    ec2 = [
        PlanOffering(offering_id("savingsplans", "EC2Instance", r, f, d, p), "EC2Instance", d, p, r, f)
        for r in EC2_INSTANCE_PLAN_REGIONS
        for f in EC2_INSTANCE_PLAN_FAMILIES
        for d in DURATIONS
        for p in PAYMENT_OPTIONS
    ]
    return tuple(compute + ec2)


@cache
def plan_offering_by_id() -> dict[str, PlanOffering]:
    return {o.id: o for o in plan_offerings()}
