"""The public portal in a real browser: Debian's Chromium, headless, driven by playwright,
against the four services and the portal started by the code of `techex up`. A visitor opens
the home page, searches 石墨烯 and opens a result, watches a live auction take a bid placed
through the API within 2 s and its end move with a last-minute bid, files an objection through
the form and sees it listed; no page shows a bidder's account. Each page's screenshot is kept
under .techex/test/artifacts/portal/.

Until the services serve the public API (issue 14, item 1) the test skips, saying so: only
when ``GET /public/procedures`` answers 404.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from techex.cli import PORTAL, portal_env, services_env, start_portal, stop_services
from techex.stack.chromium import HEADLESS_ARGS, ensure_chromium
from techex.stack.process import StackError
from techex.stack.stack import REPO
from tests.support.auction_processes import free_port
from tests.support.exchange import Exchange
from tests.support.flows import (
    INCREMENT,
    START,
    approved_listing,
    auction_open_for_bidding,
    buyer,
    first_bid,
    operator,
)

pytestmark = pytest.mark.timeout(600)

ARTIFACTS = Path(os.environ.get("TECHEX_ARTIFACTS", REPO / ".techex" / "test" / "artifacts")
                 ) / "portal"
BIDDERS = ("longjiang-coatings", "jizhong-materials")
NOTICE_BUYER = "heilongjiang-paint-works"
OBJECTOR = {"name": "王晓明", "contact": "wangxm-objector@example.cn",
            "reason": "协议价格明显低于同类石墨烯涂料技术近期的成交价格，请复核定价依据。"}
SHOWS_WITHIN = 2.0
"""Seconds from the API's answer to a bid until the page shows it."""
PRIVATE = (*BIDDERS, NOTICE_BUYER, OBJECTOR["name"], OBJECTOR["contact"])
"""What no page may show: the bidders' and the notice buyer's accounts, the objector's name
and contact."""


@pytest.fixture
async def portal(exchange: Exchange) -> AsyncIterator[str]:
    """The portal's process over the exchange, started as `techex up` starts it; its URL."""
    r = await exchange.client.get(exchange.url("auction", "/public/procedures"))
    if r.status_code == 404:
        pytest.skip("the services do not serve the public API yet (GET /public/procedures "
                    "answers 404): issue 14, item 1, is being built on other branches")
    env = {**exchange.extra_env, "PORTAL_PORT": str(free_port())}
    env.update(portal_env(services_env(exchange.stack, env)))
    proc = await asyncio.to_thread(start_portal, exchange.stack, exchange.workdir / "logs", env)
    try:
        yield f"http://127.0.0.1:{env['PORTAL_PORT']}"
    finally:
        await asyncio.to_thread(stop_services, {PORTAL: proc})


@pytest.fixture
async def browser(tmp_path):
    """A fresh Chromium profile for each test; the context's pages are phone-sized when asked."""
    from playwright.async_api import async_playwright

    try:
        chromium = ensure_chromium()
    except StackError as exc:
        pytest.fail(f"the browser test needs Debian's chromium: {exc}")
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=chromium, headless=True,
            args=list(HEADLESS_ARGS), locale="zh-CN", timezone_id="Asia/Shanghai",
            viewport={"width": 1280, "height": 900})
        try:
            yield context
        finally:
            await context.close()


class Visit:
    """The pages one visitor opened: each one's screenshot saved, each one's HTML kept for the
    check that nothing private shows."""

    def __init__(self, context, base: str) -> None:
        self.context, self.base = context, base
        self.seen: dict[str, str] = {}
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async def shot(self, page, name: str, *, own_input: bool = False) -> None:
        """``own_input``: the page shows back what this visitor typed (a refused form), which
        the check of what is private leaves out."""
        await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        if not own_input:
            self.seen[name] = await page.content()

    def private_shown(self) -> dict[str, list[str]]:
        return {name: found for name, html in self.seen.items()
                if (found := [p for p in PRIVATE if p in html])}


async def _negotiated_notice(ex: Exchange) -> dict:
    """A published notice of an agreed price, open for objections."""
    lid = await approved_listing(ex, title="石墨烯导热膜连续化制备技术",
                                 pricing_route="negotiated")
    return await ex.once_published("/notices", {
        "listing_id": lid, "project_name": "石墨烯导热膜连续化制备技术",
        "abstract": "卷对卷工艺连续制备高导热石墨烯膜。", "transfer_mode": "transfer",
        "price_fen": 60_000_000, "buyer_id": NOTICE_BUYER, "buyer_name": "黑龙江涂料厂",
        "buyer_relation": "none", "days": 15}, operator(ex))


async def test_a_visitor_follows_the_exchange_in_a_browser(exchange: Exchange, portal: str,
                                                           browser):
    ex = exchange
    started = time.monotonic()
    auction = await auction_open_for_bidding(ex, BIDDERS)
    aid = auction["id"]
    opening = await first_bid(ex, aid, BIDDERS[0])
    notice = await _negotiated_notice(ex)
    visit = Visit(browser, portal)
    page = await browser.new_page()

    # Home: newest listings, live auctions, open notices.
    await page.goto(portal + "/")
    await page.wait_for_selector("#listings .card")
    assert await page.locator("#live .procedure", has_text="石墨烯改性防腐涂料").count() >= 1
    await visit.shot(page, "01-home")

    # Search 石墨烯 from the home page's box and open a result.
    await page.fill("form.hero input[name=q]", "石墨烯")
    await page.click("form.hero button[type=submit]")
    await page.wait_for_selector("#hits .hit")
    assert await page.locator("#hits .hit mark", has_text="石墨烯").count() >= 1
    await visit.shot(page, "02-search")
    await page.locator("#hits .hit a.title").first.click()
    await page.wait_for_selector("#achievement h1")
    assert "石墨烯" in await page.inner_text("#achievement h1")
    await visit.shot(page, "03-achievement")

    # A live auction: a bid placed through the API shows within 2 s.
    await page.goto(f"{portal}/auctions/{aid}")
    await page.wait_for_selector(f'#bids tr[data-sequence="{opening["sequence"]}"]')
    await page.wait_for_function(
        "document.getElementById('live-state').textContent === '实时更新中'")
    bid = await ex.call("auction", "POST", f"/auctions/{aid}/bids", buyer(ex, BIDDERS[1]),
                        expect=201, json={"amount_fen": START + INCREMENT})
    answered = time.monotonic()
    row = page.locator(f'#bids tr[data-sequence="{bid["sequence"]}"]')
    await row.wait_for(timeout=SHOWS_WITHIN * 1000)
    shown_after = time.monotonic() - answered
    assert shown_after <= SHOWS_WITHIN
    assert "1,550,000.00 元" in await row.inner_text()
    assert "1,550,000.00 元" in await page.inner_text("#high-bid")
    await visit.shot(page, "04-auction-bid")

    # A last-minute bid moves the end time on the open page.
    before = await page.get_attribute("#ends-at", "data-ends-at")
    state = await ex.call("auction", "GET", f"/public/auctions/{aid}", {})
    ex.advance_to(_instant(state["ends_at"]) - timedelta(minutes=2))
    late = await ex.call("auction", "POST", f"/auctions/{aid}/bids", buyer(ex, BIDDERS[0]),
                         expect=201, json={"amount_fen": START + 2 * INCREMENT})
    answered = time.monotonic()
    await page.locator(f'#bids tr[data-sequence="{late["sequence"]}"]').wait_for(
        timeout=SHOWS_WITHIN * 1000)
    await page.wait_for_function(
        f"document.getElementById('ends-at').dataset.endsAt !== {before!r}",
        timeout=SHOWS_WITHIN * 1000)
    extended_after = time.monotonic() - answered
    after = await page.get_attribute("#ends-at", "data-ends-at")
    assert _instant(after) > _instant(before)
    assert await page.is_visible("#extended")
    await visit.shot(page, "05-auction-extended")

    # The same auction on a phone's screen.
    phone = await browser.new_page()
    await phone.set_viewport_size({"width": 390, "height": 844})
    await phone.goto(f"{portal}/auctions/{aid}")
    await phone.wait_for_selector(f'#bids tr[data-sequence="{late["sequence"]}"]')
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px screen"
    await visit.shot(phone, "06-auction-phone")
    await phone.close()

    # An objection filed through the form is listed on the notice's page.
    await page.goto(f"{portal}/notices/{notice['id']}")
    await page.wait_for_selector("#objection-form")
    await page.fill("#f-name", OBJECTOR["name"])
    await page.fill("#f-contact", OBJECTOR["contact"])
    await page.fill("#f-reason", "太短")
    await page.click("#objection-form button[type=submit]")
    await page.wait_for_selector('.field-error[data-field="reason"]')
    await visit.shot(page, "07-notice-invalid", own_input=True)
    await page.fill("#f-reason", OBJECTOR["reason"])
    await page.click("#objection-form button[type=submit]")
    await page.wait_for_selector("#objections .objection.mine")
    assert OBJECTOR["reason"] in await page.inner_text("#objections")
    await visit.shot(page, "08-notice-objection")
    private = await ex.call("auction", "GET", f"/notices/{notice['id']}", operator(ex))
    assert OBJECTOR["contact"] in str(private)  # the operator sees whom to answer

    for name, path in (("09-auctions", "/auctions?status=live"), ("10-notices", "/notices"),
                       ("11-results", "/results"), ("12-demands", "/demands")):
        await page.goto(portal + path)
        await page.wait_for_selector("main h1")
        await visit.shot(page, name)

    assert visit.private_shown() == {}
    print(f"\nportal e2e: bid shown after {shown_after:.2f} s, extension after "
          f"{extended_after:.2f} s, whole test {time.monotonic() - started:.1f} s; "
          f"screenshots in {ARTIFACTS}")


def _instant(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))
