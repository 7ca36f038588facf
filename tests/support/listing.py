"""Request bodies of the listing API, realistic and valid unless a test changes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def achievement(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "石墨烯改性防腐涂料制备技术",
        "abstract": "以少层石墨烯为填料的水性环氧防腐涂料，耐盐雾超过3000小时，"
                    "适用于海洋工程钢结构。",
        "region": "230102",
        "field": "new_materials",
        "industry": "涂料制造",
        "keywords": ["石墨烯", "防腐涂料", "海洋工程"],
        "ip_type": "patent_invention",
        "ip_numbers": ["ZL201510012345.3"],
        "trl": 6,
        "holders": [{"name": "哈尔滨工业大学", "kind": "university"}],
        "inventors": ["张伟", "李娜"],
        "transfer_mode": "transfer",
        "pricing_route": "auction",
        "reference_price_fen": 150_000_000,
    }
    body.update(overrides)
    return body


def demand(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "海洋平台钢结构石墨烯防腐涂层",
        "description": "需要耐盐雾3000小时以上的水性防腐涂料技术，用于海上风电塔筒。",
        "region": "130102",
        "field": "new_materials",
        "keywords": ["石墨烯", "防腐"],
        "mode": "open_call",
        "budget_fen": 200_000_000,
        "min_trl": 5,
        "deadline": (datetime.now(UTC) + timedelta(days=60)).isoformat(),
    }
    body.update(overrides)
    return body
