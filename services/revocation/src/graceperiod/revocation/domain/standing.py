"""The standing of a purchase, by its provider's rules (:mod:`.providers` names the shape)."""

from __future__ import annotations

from datetime import datetime

from graceperiod.contracts.enums import Provider
from graceperiod.revocation.domain.azure import AZURE_RULES
from graceperiod.revocation.domain.commitments import AWS_RULES
from graceperiod.revocation.domain.providers import ProviderRules, Standing
from graceperiod.revocation.domain.records import PurchaseRecord

RULES: dict[Provider, ProviderRules] = {Provider.AWS: AWS_RULES, Provider.AZURE: AZURE_RULES}


def standing_of(record: PurchaseRecord, now: datetime) -> Standing:
    return RULES[record.provider].standing(record, now)
