"""The settlement metrics under the exact names the alerts and dashboards use."""

from __future__ import annotations

import uuid

from prometheus_client.parser import text_string_to_metric_families

from tests.services.settlement.support import concluded, deliver, operator, with_deposits


async def test_the_settlement_metrics_are_exposed(settlement, common):
    client = settlement
    await with_deposits(client, common, uuid.uuid4(), {"dalian-marine": 3_000_000})
    deal = concluded(uuid.uuid4(), "longjiang-coatings", 50_000_000, route="negotiated")
    await deliver(client, deal)
    await client.post(f"/deals/{deal.deal_id}/payments", json={"amount_fen": 51_500_000},
                      headers=operator(common))
    from services.settlement import metrics
    await metrics.refresh(client.runtime.pool)
    r = await client.get("/metrics")
    assert r.status_code == 200
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(r.text) for s in family.samples}
    province = (("province", "230000"),)
    assert samples[("techex_settlement_settled_fen_total", province)] >= 50_000_000
    assert samples[("techex_settlement_subsidies_assessed_fen_total", province)] >= 15_000_000
    assert samples[("techex_settlement_deposits_held_fen", ())] == 3_000_000
    assert samples[("techex_settlement_overdue_payments", ())] == 0
