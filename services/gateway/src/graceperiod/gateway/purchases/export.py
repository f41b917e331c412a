"""The History as CSV: what the filters select, streamed a page at a time (never every row in
memory), each cell escaped against spreadsheet formula injection
(:mod:`graceperiod.contracts.purchase_csv`). The revocation service sends each page's lines
written already; from one that sends rows only, the lines are written here by the same rule."""

from __future__ import annotations

from collections.abc import AsyncIterator

from graceperiod.contracts.purchase_csv import HEADER, cells, chunk
from graceperiod.contracts.revocation import PurchaseRowsReply


def page_text(page: PurchaseRowsReply) -> str:
    """A page's CSV lines."""
    if page.lines:
        return "".join(page.lines)
    return chunk(cells(row) for row in page.items)


async def csv_stream(pages: AsyncIterator[PurchaseRowsReply]) -> AsyncIterator[str]:
    """The header, then one chunk per page, as the pages arrive."""
    yield chunk([HEADER])
    async for page in pages:
        if text := page_text(page):
            yield text
