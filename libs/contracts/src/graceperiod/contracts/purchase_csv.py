"""The History's CSV export, line by line: its columns and each purchase's line, with every cell
escaped against spreadsheet formula injection. One rule for both sides: the revocation service
writes each purchase's line when it lists the purchase, and the gateway writes the same line
from a row when a service without them answers.

A cell a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return; OWASP's "CSV injection") is prefixed with a single quote, so
``=HYPERLINK(...)`` in an account name arrives as text. Every upstream string can carry one:
account names, SKUs, payment options, names of people.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Final

from graceperiod.contracts import vocabulary
from graceperiod.contracts.formatting import iso8601
from graceperiod.contracts.revocation import PurchaseRow

#: Bumped whenever a line's columns or words change: lines written under another format are
#: not used (the service renders those rows again).
FORMAT: Final = 1

#: Leading characters that make a spreadsheet evaluate a cell.
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")

HEADER: Final = (
    "purchase_id",
    "commitment_id",
    "commitment_kind",
    "region",
    "account_id",
    "account_name",
    "provider",
    "service",
    "sku",
    "term_months",
    "payment_option",
    "currency",
    "upfront",
    "monthly",
    "total",
    "executed_at",
    "source",
    "requested_by",
    "requested_by_email",
    "state",
    "deadline",
    "aws_state",
)


def cell(value: object) -> str:
    """The text of one cell, neutralised if a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cells(row: PurchaseRow) -> tuple[str, ...]:
    """The row's cells, in :data:`HEADER`'s order."""
    p, deadline = row.purchase, row.windows.deadline(row.phase)
    values: Sequence[object] = (
        p.purchase_id,
        p.commitment_id,
        vocabulary.kind(p),
        p.location or "",
        p.account.id,
        p.account.name,
        vocabulary.label(p.provider),
        vocabulary.service_label(p),
        p.sku,
        p.term_months,
        p.payment_option,
        p.cost.currency,
        p.cost.upfront,
        p.cost.monthly,
        p.cost.total,
        iso8601(p.executed_at),
        vocabulary.label(p.execution.via),
        p.requester_label,
        p.requested_by.email if p.requested_by else "",
        vocabulary.label(row.phase),
        iso8601(deadline) if deadline else "",
        row.aws_state or "",
    )
    return tuple(cell(v) for v in values)


def chunk(lines: Iterable[Sequence[str]]) -> str:
    """CSV text (RFC 4180: CRLF line ends, quotes where needed) of some lines of cells."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(lines)
    return out.getvalue()


def line(row: PurchaseRow) -> str:
    """The row as one CSV line, CRLF included."""
    return chunk([cells(row)])
