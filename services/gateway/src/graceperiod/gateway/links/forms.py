"""The email-link page's one form: revoke, or file the (edited) support case."""

from __future__ import annotations

from dataclasses import dataclass

from graceperiod.contracts.revocation_views import valid_case_text
from graceperiod.gateway.store import LinkAction


@dataclass
class LinkForm:
    action: LinkAction
    subject: str | None = None
    body: str | None = None

    @property
    def case_subject(self) -> str | None:
        """The edited subject, or None to file the drafted one."""
        return (self.subject or "").strip() or None

    @property
    def case_body(self) -> str | None:
        return (self.body or "").strip() or None

    def invalid(self) -> bool:
        return self.action == "submit-support-case" and not valid_case_text(
            self.case_subject or "", self.case_body or ""
        )
