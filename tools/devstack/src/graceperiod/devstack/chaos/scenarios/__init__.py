"""The registered scenarios. Importing this package registers all of them, in table order."""

from graceperiod.devstack.chaos.scenarios import (
    aws,
    cluster,
    cooldown_billing,
    duplicates,
    faults,
    poison,
    replicas,
    soak,
)

__all__ = ["aws", "cluster", "cooldown_billing", "duplicates", "faults", "poison", "replicas", "soak"]
