"""Contract terms of every category, valid unless a test changes them."""

from __future__ import annotations

from typing import Any

SELLER_REGION = "230102"  # 哈尔滨市道里区


def party(role: str, region: str | None = SELLER_REGION, *, country: str = "CN",
          entity_type: str = "university", name: str | None = None) -> dict[str, Any]:
    p = {"role": role, "name": name or f"{role}-{region}", "country": country,
         "entity_type": entity_type}
    if region is not None:
        p["region"] = region
    return p


def terms(category: str = "transfer", subtype: str | None = None, *,
          seller: str = SELLER_REGION, buyer: str | None = "230602", buyer_country: str = "CN",
          total: int = 200_000_000, tech: int = 186_000_000, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "category": category,
        "subtype": subtype or {"development": "commissioned", "transfer": "patent",
                               "licence": "exclusive", "consulting": "consulting",
                               "service": "service"}[category],
        "project_name": "石墨烯改性防腐涂料制备技术",
        "signed_on": "2026-03-30",
        "valid_from": "2026-04-01",
        "valid_until": "2028-03-31",
        "total_amount_fen": total,
        "tech_amount_fen": tech,
        "tech_field": "new_materials",
        "parties": [party("seller", seller),
                    party("buyer", buyer, country=buyer_country, entity_type="enterprise")],
    }
    if category in ("transfer", "licence"):
        base["ip"] = {"ip_type": "patent_invention", "name": "一种石墨烯防腐涂料",
                      "numbers": ["ZL201510012345.3"]}
    if category == "transfer":
        base |= {"expected_investment_fen": 500_000_000, "expected_output_fen": 2_000_000_000}
    if category == "licence":
        base["licence_term"] = {"starts_on": "2026-04-01", "ends_on": "2032-03-31"}
    if category in ("consulting", "service"):
        base["deliverable"] = "可行性研究报告"
    return base | changes


async def registered(client: Any, data: dict[str, Any]) -> str:
    """File ``data`` as the client's seller and register it as its registrar: the contract id."""
    r = await client.post("/contracts", json=data, headers=client.seller)
    assert r.status_code == 201, r.text
    done = await client.post(f"/contracts/{r.json()['id']}/registration",
                             headers=client.registrar)
    assert done.status_code == 200, done.text
    return r.json()["id"]
