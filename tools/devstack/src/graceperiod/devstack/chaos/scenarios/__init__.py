"""The registered scenarios. Importing this package registers all of them, in table order."""

from graceperiod.devstack.chaos.scenarios import (
    aws,
    azure,
    cluster,
    cooldown_billing,
    duplicates,
    faults,
    poison,
    replicas,
    soak,
)

__all__ = ["aws", "azure", "cluster", "cooldown_billing", "duplicates", "faults", "poison", "replicas", "soak"]
