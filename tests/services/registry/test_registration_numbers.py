"""Registration numbers stay unique and gap-free when a registrar registers concurrently."""

from __future__ import annotations

import asyncio

from shared.auth import Role
from tests.services.registry.builders import terms
from tests.services.registry.conftest import fetchval
from tests.support.services import bearer


async def test_fifty_concurrent_registrations_take_fifty_numbers_without_a_gap(registry):
    ids = []
    for i in range(50):
        r = await registry.post("/contracts", json=terms(tech=1_000_000 + i),
                                headers=registry.seller)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    answers = await asyncio.gather(*(
        registry.post(f"/contracts/{cid}/registration", headers=registry.registrar)
        for cid in ids))
    assert [a.status_code for a in answers] == [200] * 50
    numbers = sorted(a.json()["registration_number"] for a in answers)
    assert numbers == [f"2026230100{1:02d}{seq:04d}" for seq in range(1, 51)]
    # The rollups saw every one of them exactly once.
    assert await fetchval(registry.db, "SELECT contracts FROM contract_stats WHERE region ="
                          " '230000' AND month = 0 AND dimension = 'total'") == 50


async def test_each_registrar_of_a_region_has_its_own_code_and_sequence(registry):
    second = bearer(registry.runtime.common, Role.REGISTRAR, "230100", "harbin-registrar-2")
    numbers = []
    for who in (registry.registrar, second, registry.registrar):
        r = await registry.post("/contracts", json=terms(), headers=registry.seller)
        done = await registry.post(f"/contracts/{r.json()['id']}/registration", headers=who)
        numbers.append(done.json()["registration_number"])
    assert numbers == ["2026230100010001", "2026230100020001", "2026230100010002"]


async def test_a_failed_registration_leaves_no_gap(registry):
    good = (await registry.post("/contracts", json=terms(), headers=registry.seller)).json()
    oral = (await registry.post("/contracts", json=terms(form="oral"),
                                headers=registry.seller)).json()
    refused = await registry.post(f"/contracts/{oral['id']}/registration",
                                  headers=registry.registrar)
    assert refused.status_code == 409
    done = await registry.post(f"/contracts/{good['id']}/registration",
                               headers=registry.registrar)
    assert done.json()["registration_number"].endswith("0001")
