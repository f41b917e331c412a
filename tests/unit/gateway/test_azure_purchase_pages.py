"""An Azure purchase on the dashboard: its pages answer in Azure's terms instead of failing on
AWS-only facts (an Azure purchase has no AWS service or commitment)."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from graceperiod.contracts.revocation_views import Phase
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.contracts.upstream_examples import AZURE_RESERVATION
from graceperiod.devstack.testkit.gateway_fakes import FakeServiceClients, purchase_view
from tests.unit.gateway.conftest import NOW, sign_in


async def test_an_azure_purchase_opens_and_its_revoke_dialog_says_what_azure_will_do(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    azure = PurchaseExecuted.model_validate(AZURE_RESERVATION)
    aws = purchase_view(NOW, phase=Phase.SELF_SERVICE, purchase_id=azure.purchase_id)
    clients.purchases[azure.purchase_id] = aws.model_copy(update={"purchase": azure})
    await sign_in(client, "u-admin")
    page = await client.get(f"/purchases/{azure.purchase_id}")
    assert page.status_code == 200, page.text[:300]
    assert azure.commitment_id in page.text
    dialog = await client.get(f"/purchases/{azure.purchase_id}/revoke")
    assert dialog.status_code == 200, dialog.text[:300]
    assert "Azure will return the reservation" in dialog.text
