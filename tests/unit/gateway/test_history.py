"""History as a table, money at a glance, honest states, the CSV export and the API's filters,
over the in-memory service port (which applies the revocation service's listing rules)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar import Litestar
from litestar.serialization import encode_json, get_serializer
from litestar.testing import AsyncTestClient

from graceperiod.contracts.purchase_csv import HEADER, cell
from graceperiod.contracts.revocation import ExportPurchases, ListPurchases, PurchaseRowsReply, PurchaseSort
from graceperiod.contracts.revocation_views import Phase
from graceperiod.devstack.testkit.gateway_fakes import FakeServiceClients
from graceperiod.devstack.testkit.gateway_samples import ALICE, BOB, purchase_view
from graceperiod.gateway.purchases.export import page_text
from graceperiod.gateway.purchases.schemas import PurchasePage
from tests.unit.gateway.conftest import NOW, sign_in

Headers = Callable[[str], dict[str, str]]


def row_ids(html: str) -> list[str]:
    return re.findall(r'<tr class="purchase" data-purchase-id="([^"]+)">', html)


def many(clients: FakeServiceClients, count: int) -> None:
    """``count`` more purchases, an hour apart, alternately Alice's and Bob's."""
    for i in range(count):
        view = purchase_view(
            NOW,
            phase=Phase.CLOSED if i % 3 else Phase.SELF_SERVICE,
            requester=ALICE if i % 2 else BOB,
            purchase_id=f"pur-bulk-{i:03d}",
            executed_ago=timedelta(hours=10 + i),
        )
        clients.purchases[view.purchase.purchase_id] = view


async def test_history_is_a_table_with_sortable_columns(client: AsyncTestClient[Litestar]) -> None:
    await sign_in(client, "u-admin")
    page = (await client.get("/")).text
    headings = re.findall(r'<th scope="col" aria-sort="([a-z]+)"><a href="([^"]+)">([^<]+)', page)
    assert [h[2] for h in headings] == [
        "Purchase",
        "Commitment id",
        "Account",
        "Product",
        "Commitment",
        "Upfront",
        "Executed",
        "Deadline",
        "State",
        "Action",
    ]
    sorts = {heading: parse_qs(urlsplit(href.replace("&amp;", "&")).query) for _, href, heading in headings}
    assert sorts["Deadline"] == {"sort": ["deadline"]}  # soonest first
    assert sorts["Upfront"] == {"sort": ["upfront"]}  # largest first
    assert sorts["Executed"] == {"order": ["asc"]}  # sorted newest first now: the link turns it round
    assert {h[2]: h[0] for h in headings}["Executed"] == "descending"
    ids = row_ids(page)
    assert ids[0] == "pur-alice-sp"  # newest first
    assert "pur-alice-closed" in ids


async def test_sorting_is_over_all_purchases_and_pages_follow_the_sort(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    many(clients, 120)
    await sign_in(client, "u-admin")
    first = (await client.get("/?sort=purchase-id&order=desc")).text
    ids = row_ids(first)
    assert len(ids) == 50
    everything = sorted(clients.purchases, reverse=True)
    assert ids == everything[:50]  # the first screen of the sort over all 129, not of one page
    seen = list(ids)
    html = first
    while (more := re.search(r'<a href="/\?([^"]+)">Next \d+ purchases</a>', html)) is not None:
        html = (await client.get("/?" + more.group(1).replace("&amp;", "&"))).text
        assert "First page" in html
        seen.extend(row_ids(html))
    assert seen == everything
    query = next(q for q in reversed(clients.queries) if isinstance(q, ListPurchases))
    assert (query.sort, query.descending, query.limit) == (PurchaseSort.PURCHASE_ID, True, 50)


async def test_search_filters_and_notices(client: AsyncTestClient[Litestar], clients: FakeServiceClients) -> None:
    await sign_in(client, "u-admin")
    by_id = row_ids((await client.get("/?search=pur-bob-ri")).text)
    assert by_id == ["pur-bob-ri"]
    commitment = clients.purchases["pur-alice-case"].purchase.commitment_id
    assert row_ids((await client.get(f"/?search={commitment.upper()}")).text) == ["pur-alice-case"]
    by_name = row_ids((await client.get("/?search=analytics")).text)
    assert by_name == ["pur-bob-ri"]
    soon = row_ids((await client.get("/?expiring_within_hours=48")).text)
    assert soon == ["pur-alice-soon"]  # its window closes in 5 h 40 min
    assert set(row_ids((await client.get("/?expiring_within_hours=240")).text)) >= {"pur-alice-sp", "pur-alice-soon"}
    assert row_ids((await client.get("/?source=discovered")).text) == []
    executed = row_ids((await client.get("/?source=executed")).text)
    assert len(executed) == len(clients.purchases)
    day = (NOW - timedelta(days=30)).date().isoformat()
    assert row_ids((await client.get(f"/?executed_from={day}&executed_to={day}")).text) == ["pur-alice-closed"]
    bad = await client.get("/?executed_from=yesterday&sort=colour&expiring_within_hours=-3")
    assert bad.status_code == 200
    for words in ("from &#39;yesterday&#39;", "sort &#39;colour&#39;", "expiring within &#39;-3&#39; hours"):
        assert words in bad.text
    assert len(row_ids(bad.text)) == len(clients.purchases)


async def test_the_headline_sums_what_is_refundable_per_currency_and_names_the_next_deadline(
    client: AsyncTestClient[Litestar],
) -> None:
    await sign_in(client, "u-alice")
    page = (await client.get("/")).text
    glance = page[page.index('aria-labelledby="glance-title"') : page.index("</section>", page.index("glance-title"))]
    assert "<strong>$26,280.00</strong>" in glance  # two Savings Plans of $13,140.00
    assert "(2 purchases)" in glance
    assert "<strong>€5,000.00</strong>" in glance
    assert "(1 purchase)" in glance
    assert 'href="/purchases/pur-alice-soon"' in glance  # the soonest window
    assert "5 hours 40 minutes left" in glance
    assert 'class="deadline urgent"' in glance  # under 24 hours: red


async def test_rows_show_money_and_deadlines_the_one_way(client: AsyncTestClient[Litestar]) -> None:
    await sign_in(client, "u-admin")
    page = (await client.get("/")).text
    soon = page[page.index('data-purchase-id="pur-alice-soon"') :].split("</tr>")[0]
    assert "€5,000.00" in soon
    assert "+ €210.00/mo" in soon  # Partial Upfront: both figures
    assert "Savings Plan, 1 year, Partial Upfront" in soon
    assert 'class="deadline urgent"' in soon
    sp = page[page.index('data-purchase-id="pur-alice-sp"') :].split("</tr>")[0]
    assert "$13,140.00" in sp
    assert "/mo" not in sp  # All Upfront: no monthly figure
    assert "6 days 23 hours left" in sp
    assert "urgent" not in sp
    for internal in ("savings_plan", "self-service-api", "approval_email", "direct_execute"):
        assert internal not in page


async def test_a_pending_return_never_says_revoked(client: AsyncTestClient[Litestar]) -> None:
    await sign_in(client, "u-bob")
    detail = (await client.get("/purchases/pur-bob-pending")).text
    assert "Return in progress" in detail
    assert "AWS is processing the return" in detail
    assert "Revoked at" not in detail
    assert "Revoked via" not in detail
    assert ">Revoked<" not in detail
    history = (await client.get("/?search=pur-bob-pending")).text
    assert "Return in progress" in history


async def test_the_support_policy_note_only_where_a_case_is_the_route(client: AsyncTestClient[Litestar]) -> None:
    await sign_in(client, "u-alice")
    revocable = (await client.get("/purchases/pur-alice-sp")).text
    assert "Grace Period's policy" not in revocable
    support = (await client.get("/purchases/pur-alice-ri")).text
    assert "Grace Period's policy" in support
    draft = (await client.get("/purchases/pur-alice-ri/support-case")).text
    assert "any more" not in draft
    assert "AWS offers no self-service undo for a Reserved Instance once it has started." in draft


async def test_a_filed_case_is_not_called_a_revocation(client: AsyncTestClient[Litestar]) -> None:
    await sign_in(client, "u-alice")
    case = (await client.get("/purchases/pur-alice-case")).text
    assert "Refund requested through an AWS Support case" in case
    assert "Revoked" not in case.replace("Revoked:", "")


async def test_the_confirm_page_and_the_outcome_say_the_expected_refund(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    await sign_in(client, "u-bob")
    dialog = (await client.get("/purchases/pur-bob-sp/revoke")).text
    assert "Expected refund: $13,140.00, the upfront payment in full" in dialog
    clients.revoke_finishes = False  # AWS takes its time: pending-return
    token = re.search(r'name="_csrf_token" value="([^"]+)"', dialog)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', dialog)
    assert token
    assert key
    outcome = await client.post(
        "/purchases/pur-bob-sp/revoke", data={"idempotency_key": key.group(1), "_csrf_token": token.group(1)}
    )
    assert "Return requested: AWS is processing it" in outcome.text
    assert "Revocation: done" not in outcome.text
    assert "Expected refund: $13,140.00" in outcome.text


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("\rCR", "'\rCR"),
        ("Payments Production", "Payments Production"),
        ("a=b", "a=b"),
        (None, ""),
    ],
)
def test_csv_cells_are_escaped_against_formula_injection(value: object, written: str) -> None:
    assert cell(value) == written


async def test_the_csv_export_streams_what_the_filters_select(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients, bearer: Headers
) -> None:
    soon = await client.get("/api/purchases/export.csv?expiring_within_hours=48", headers=bearer("alice"))
    assert [r[0] for r in list(csv.reader(io.StringIO(soon.text)))[1:]] == ["pur-alice-soon"]
    many(clients, 1200)  # more than one page of the export
    evil = clients.purchases["pur-alice-sp"]
    clients.purchases["pur-alice-sp"] = evil.model_copy(
        update={
            "purchase": evil.purchase.model_copy(
                update={"account": evil.purchase.account.model_copy(update={"name": "=cmd|' /C calc'!A0"})}
            )
        }
    )
    response = await client.get("/api/purchases/export.csv?sort=purchase-id", headers=bearer("alice"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="purchases-')
    rows = list(csv.reader(io.StringIO(response.text)))
    assert tuple(rows[0]) == HEADER
    assert [r[0] for r in rows[1:]] == sorted(clients.purchases)
    pages = [q for q in clients.queries if isinstance(q, ExportPurchases)][1:]  # after the expiring-soon export
    assert [q.cursor is None for q in pages] == [True, False]  # page by page, 1,000 rows each
    by_id = {r[0]: dict(zip(HEADER, r, strict=True)) for r in rows[1:]}
    assert by_id["pur-alice-sp"]["account_name"] == "'=cmd|' /C calc'!A0"
    assert by_id["pur-alice-sp"]["upfront"] == "13140.00"
    assert by_id["pur-alice-soon"]["currency"] == "EUR"
    assert by_id["pur-alice-sp"]["state"] == "Revocable"
    assert by_id["pur-alice-sp"]["source"] == "Executed after approval by email"


async def test_the_export_answers_503_before_streaming_when_the_service_is_silent(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients, bearer: Headers
) -> None:
    clients.down.add("revocation")
    response = await client.get("/api/purchases/export.csv", headers=bearer("alice"))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_api_takes_the_same_filters_and_refuses_a_cursor_it_did_not_issue(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients, bearer: Headers
) -> None:
    many(clients, 30)
    first = (await client.get("/api/purchases?sort=deadline&limit=10", headers=bearer("bob"))).json()
    assert len(first["items"]) == 10
    deadlines = [i["windows"]["self_service_until"] for i in first["items"] if i["phase"] == "self-service"]
    assert deadlines == sorted(deadlines)
    second = await client.get(
        f"/api/purchases?sort=deadline&limit=10&cursor={first['next_cursor']}", headers=bearer("bob")
    )
    assert second.status_code == 200
    assert {i["purchase"]["purchase_id"] for i in second.json()["items"]}.isdisjoint(
        i["purchase"]["purchase_id"] for i in first["items"]
    )
    other_sort = await client.get(f"/api/purchases?sort=upfront&cursor={first['next_cursor']}", headers=bearer("bob"))
    assert other_sort.status_code == 422
    assert "another sort" in other_sort.json()["detail"]
    assert (await client.get("/api/purchases?sort=colour", headers=bearer("bob"))).status_code == 400
    assert (await client.get("/api/purchases?executed_from=yesterday", headers=bearer("bob"))).status_code == 400
    searched = (await client.get("/api/purchases?search=pur-bob-ri", headers=bearer("bob"))).json()["items"]
    assert [i["purchase"]["purchase_id"] for i in searched] == ["pur-bob-ri"]


async def test_the_summary_in_the_api(client: AsyncTestClient[Litestar], bearer: Headers) -> None:
    summary = (await client.get("/api/purchases/summary", headers=bearer("bob"))).json()
    assert {(t["currency"], t["upfront"], t["purchases"]) for t in summary["refundable"]} == {
        ("USD", "26280.00", 2),
        ("EUR", "5000.00", 1),
    }
    assert summary["next_deadline"]["purchase"]["purchase_id"] == "pur-alice-soon"


async def test_each_caller_gets_its_allowed_actions_as_the_dashboard_shows_them(
    client: AsyncTestClient[Litestar], bearer: Headers
) -> None:
    admin = (await client.get("/api/purchases", headers=bearer("admin"))).json()["items"]
    actions = {i["purchase"]["purchase_id"]: i["allowed_actions"] for i in admin}
    assert actions["pur-alice-sp"] == actions["pur-bob-sp"] == ["revoke"]
    assert actions["pur-alice-ri"] == ["request-support-case"]
    alice = (await client.get("/api/purchases", headers=bearer("alice"))).json()["items"]
    assert {i["purchase"]["purchase_id"]: i["allowed_actions"] for i in alice}["pur-bob-sp"] == []


async def test_a_list_page_is_the_json_the_route_would_encode(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients, bearer: Headers
) -> None:
    """The list's body is written by pydantic, not the route's encoder: byte for byte what
    the encoder makes of the same PurchasePage (Decimals, instants and all)."""
    many(clients, 60)
    response = await client.get("/api/purchases?limit=50", headers=bearer("alice"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    query = next(q for q in reversed(clients.queries) if isinstance(q, ListPurchases))
    reply = await clients.list_purchases(query)
    page = PurchasePage(items=reply.items, next_cursor=reply.next_cursor)
    encoder = get_serializer(client.app.route_handler_method_map["/api/purchases"]["GET"].resolve_type_encoders())
    assert response.content == encode_json(page, encoder)
    assert page.next_cursor is not None
    assert len(page.items) == 50


def test_an_export_page_of_csv_lines_is_written_as_the_service_wrote_them() -> None:
    lines = ["pur-1,x,  spaced  \r\n", "pur-2,'=SUM(A1)\r\n"]
    page = PurchaseRowsReply.model_validate_json(PurchaseRowsReply(lines=lines).model_dump_json())
    assert page_text(page) == "".join(lines)
