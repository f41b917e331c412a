"""The dashboard's purchase forms, and the rule for a support case's text that the dashboard
and the email link both apply. Every dashboard form carries its rendering's idempotency key."""

from __future__ import annotations

from dataclasses import dataclass

#: Said when a support case's text breaks :func:`valid_case_text`.
CASE_TEXT_RULE = "The subject must be 1-512 characters and the description 1-8000."


def valid_case_text(subject: str, body: str) -> bool:
    return 0 < len(subject) <= 512 and 0 < len(body) <= 8000


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
