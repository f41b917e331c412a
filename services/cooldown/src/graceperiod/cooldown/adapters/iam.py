"""The IAM actions the cooldown service performs in the organisation's management account,
through the cost role (``COOLDOWN_COST_ROLE_ARN``). The management-account role of the
onboarding documents (deploy/onboarding/grace-period-cost-role.yaml) must grant exactly these;
tests check the adapters call nothing else and the role lacks none of them."""

from __future__ import annotations

from typing import Final

COST_IAM_ACTIONS: Final[frozenset[str]] = frozenset({"ce:GetCostAndUsage"})

#: Actions of the vendor's own identity (where Grace Period runs): its IAM policy must allow
#: them on the cost role it assumes.
VENDOR_IAM_ACTIONS: Final[frozenset[str]] = frozenset({"sts:AssumeRole"})
