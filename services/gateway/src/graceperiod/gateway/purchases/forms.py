"""The dashboard's purchase forms. Every dashboard form carries its rendering's idempotency key.
(The rule for a support case's text is the contract's: ``contracts.revocation.valid_case_text``.)"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RevokeForm:
    idempotency_key: str


@dataclass
class SupportCaseForm:
    idempotency_key: str
    subject: str
    body: str


@dataclass
class ResolveForm:
    idempotency_key: str
    note: str = ""
