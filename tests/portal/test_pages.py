"""The portal's pages over a fake public API (fixtures/): what each page asks the API, what it
shows, and the API's errors as pages of their own. A unit test of the rendering only; the
browser test against the real services is tests/e2e/test_public_portal.py."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from portal.app import HERE as PORTAL_DIR
from tests.portal.fake_api import FakePublicApi, fixture

AUCTION = fixture("auction")["id"]
NOTICE = fixture("notice")["id"]
ACHIEVEMENT = fixture("achievement")["id"]


def text(html: str) -> str:
    """The page's text, tags taken out."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_healthz(browser: httpx.Client):
    assert browser.get("/healthz").json() == {"status": "ok"}


def test_home_shows_listings_auctions_notices_and_results(browser: httpx.Client,
                                                          api: FakePublicApi):
    r = browser.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-cache"
    page = text(r.text)
    assert "石墨烯改性防腐涂料制备技术" in page and "150 万元" in page      # newest listings
    assert "玉米秸秆生物降解地膜" in page                                # upcoming auction
    assert "海水淡化膜组件技术许可" in page                              # open notice
    assert "工业机器人视觉定位系统" in page and "310,000.00 元" in page    # a result
    assert "竞买号 A017" in page
    assert "寒地水稻抗倒伏栽培技术" in page and "无人出价" in page
    query, _, _ = api.last("/public/results")
    assert query["limit"] == ["6"]
    assert f'href="/auctions/{AUCTION}"' in r.text
    assert 'href="/notices/55555555-5555-4555-8555-555555555555"' in r.text
    assert 'href="/listing-trades/77777777-7777-4777-8777-777777777777"' in r.text


def test_home_still_renders_when_one_section_fails(browser: httpx.Client, api: FakePublicApi):
    api.fail["/public/results"] = (503, {"Retry-After": "5"})
    r = browser.get("/")
    assert r.status_code == 200
    assert "该栏目暂不可用" in r.text and "石墨烯改性防腐涂料制备技术" in r.text


def test_search_passes_the_filters_and_pages_by_cursor(browser: httpx.Client,
                                                      api: FakePublicApi):
    r = browser.get("/search", params=[
        ("q", " 石墨烯 "), ("field", "new_materials"), ("field", "energy"),
        ("region", "230000"), ("trl_min", "4"), ("trl_max", "x"),
        ("pricing_route", "auction"), ("price_min", "1,000"), ("price_max", "")])
    assert r.status_code == 200
    query, _, _ = api.last("/public/achievements")
    assert query == {"q": ["石墨烯"], "field": ["new_materials", "energy"],
                     "region": ["230000"], "trl_min": ["4"], "pricing_route": ["auction"],
                     "price_min_fen": ["100000"], "limit": ["20"]}
    assert "<mark>石墨烯</mark>改性防腐涂料制备技术" in r.text
    assert "&lt;b&gt;耐磨&lt;/b&gt;" in r.text       # the API's text is never markup
    assert "1,500,000.00 元" in r.text and "123,456.78 元" in r.text
    assert "2026-03-05" in r.text                      # published 16:30 UTC: next day there
    nxt = re.search(r'href="(/search\?[^"]*cursor=c2[^"]*)"', r.text)
    assert nxt, r.text
    assert "field=new_materials&amp;field=energy" in nxt.group(1)
    r = browser.get(nxt.group(1).replace("&amp;", "&"))
    query, _, _ = api.last("/public/achievements")
    assert query["cursor"] == ["c2"] and query["field"] == ["new_materials", "energy"]
    assert "第一页" in r.text


def test_achievement_page(browser: httpx.Client):
    page = text(browser.get(f"/achievements/{ACHIEVEMENT}").text)
    for shown in ("石墨烯改性防腐涂料制备技术", "参考价 1,500,000.00 元", "哈尔滨工业大学", "张伟",
                  "发明专利", "ZL201510012345.3", "TRL 6", "转让", "黑龙江省哈尔滨市道里区",
                  "2026-03-05 00:30"):
        assert shown in page, shown


@pytest.mark.parametrize("path", [
    "/achievements/00000000-0000-4000-8000-000000000000",
    "/auctions/00000000-0000-4000-8000-000000000000",
    "/notices/00000000-0000-4000-8000-000000000000",
    "/auctions/not-an-id", "/no-such-page"])
def test_what_is_not_there_is_a_404_page(browser: httpx.Client, path: str):
    r = browser.get(path)
    assert r.status_code == 404 and "未找到" in r.text and "返回首页" in r.text


def test_too_many_requests_is_a_429_page_with_retry_after(browser: httpx.Client,
                                                          api: FakePublicApi):
    api.fail["/public/achievements"] = (429, {"Retry-After": "7"})
    r = browser.get("/search", params={"q": "石墨烯"})
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert "访问过于频繁" in r.text and "7 秒后重试" in r.text


def test_an_unavailable_service_is_a_503_page(browser: httpx.Client, api: FakePublicApi):
    api.fail[f"/public/auctions/{AUCTION}"] = (503, {"Retry-After": "5"})
    r = browser.get(f"/auctions/{AUCTION}")
    assert r.status_code == 503 and "服务暂不可用" in r.text


async def test_an_unreachable_api_is_a_503_page_not_a_500(api: FakePublicApi):
    from portal.app import create_app
    from portal.config import PortalSettings

    app = create_app(PortalSettings(listing_url="http://127.0.0.1:9", auction_url=api.url,
                                    timeout_seconds=1))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://portal") as c:
        r = await c.get("/search", params={"q": "石墨烯"})
        assert r.status_code == 503 and "服务暂不可用" in r.text
        r = await c.get(f"/achievements/{ACHIEVEMENT}")
        assert r.status_code == 503
    await app.state.api.aclose()


def test_a_bad_query_of_the_api_is_a_400_page(browser: httpx.Client, api: FakePublicApi):
    api.fail["/public/achievements"] = (422, {})
    r = browser.get("/search", params={"cursor": "forged"})
    assert r.status_code == 400 and "请求无效" in r.text


def test_the_portal_asks_for_the_visitors_address_not_its_own(browser: httpx.Client,
                                                              api: FakePublicApi):
    browser.get(f"/achievements/{ACHIEVEMENT}")
    _, headers, _ = api.last(f"/public/achievements/{ACHIEVEMENT}")
    assert headers.get("X-Forwarded-For") == "127.0.0.1"
    assert "Authorization" not in headers


def test_auction_page_shows_the_anonymous_bids_and_the_live_ticker(browser: httpx.Client,
                                                                  api: FakePublicApi):
    r = browser.get(f"/auctions/{AUCTION}")
    assert r.status_code == 200
    query, _, _ = api.last(f"/public/auctions/{AUCTION}/bids")
    assert query == {"after": ["0"], "limit": ["20"]}
    page = text(r.text)
    assert "1,600,000.00 元" in page and "0002" in page and "代理出价" in page
    assert "2026-03-05 09:00:00" in page                       # ends 01:00 UTC
    assert 'data-last-sequence="2"' in r.text
    assert r.text.index('data-sequence="2"') < r.text.index('data-sequence="1"')  # newest first
    assert '<script src="/static/auction.js" defer></script>' in r.text


def test_the_stream_is_relayed_and_resumes_after_the_last_event_id(browser: httpx.Client,
                                                                   api: FakePublicApi):
    with browser.stream("GET", f"/auctions/{AUCTION}/stream",
                        headers={"Last-Event-ID": "3"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        body = r.read().decode()
    _, headers, _ = api.last(f"/public/auctions/{AUCTION}/stream")
    assert headers["Last-Event-ID"] == "3"
    assert "event: state" in body and "id: 4" in body and "id: 3" not in body
    with browser.stream("GET", f"/auctions/{AUCTION}/stream", params={"after": 0}) as r:
        body = r.read().decode()
    query, headers, _ = api.last(f"/public/auctions/{AUCTION}/stream")
    assert query == {"after": ["0"]} and "Last-Event-ID" not in headers
    assert "id: 3" in body and "event: extended" in body and "id: 4" in body


def test_a_stream_of_an_unknown_auction_is_a_404(browser: httpx.Client):
    r = browser.get("/auctions/00000000-0000-4000-8000-000000000000/stream")
    assert r.status_code == 404


def test_listing_trade_page(browser: httpx.Client):
    page = text(browser.get("/listing-trades/77777777-7777-4777-8777-777777777777").text)
    assert "工业机器人视觉定位系统" in page and "已成交" in page
    assert "成交价 310,000.00 元" in page and "买受人竞买号 A017" in page


def test_lists_of_each_route_filter_by_status(browser: httpx.Client, api: FakePublicApi):
    r = browser.get("/auctions", params={"status": "upcoming", "region": "220000"})
    query, _, _ = api.last("/public/procedures")
    assert query == {"route": ["auction"], "status": ["upcoming"], "region": ["220000"],
                     "limit": ["20"]}
    assert "玉米秸秆生物降解地膜" in r.text and "石墨烯改性" not in r.text
    r = browser.get("/notices", params={"status": "bogus"})
    query, _, _ = api.last("/public/procedures")
    assert query == {"route": ["negotiated"], "limit": ["20"]}
    assert "海水淡化膜组件技术许可" in r.text
    r = browser.get("/listing-trades")
    assert "工业机器人视觉定位系统" in r.text


def test_notice_page_lists_the_objections_and_the_form(browser: httpx.Client):
    r = browser.get(f"/notices/{NOTICE}")
    page = text(r.text)
    assert "协议价格明显低于同类技术的市场价格。" in page and "异议不成立" in page
    assert "经评估，价格在合理区间。" in page
    assert "500,000.00 元" in page
    assert f'action="/notices/{NOTICE}/objections"' in r.text


def test_an_objection_is_posted_to_the_public_api(browser: httpx.Client, api: FakePublicApi):
    r = browser.post(f"/notices/{NOTICE}/objections", data={
        "name": " 李明 ", "contact": "13800000000", "reason": "价格明显低于评估价，请复核。"})
    assert r.status_code == 303
    assert r.headers["location"] == (f"/notices/{NOTICE}?filed=dddddddd-dddd-4ddd-8ddd-"
                                     "dddddddddddd#objection-dddddddd-dddd-4ddd-8ddd-dddddddddddd")
    _, headers, body = api.last(f"/public/notices/{NOTICE}/objections")
    assert body == {"name": "李明", "contact": "13800000000",
                    "reason": "价格明显低于评估价，请复核。"}
    assert "Authorization" not in headers
    assert "您的异议已提交" in browser.get(r.headers["location"]).text


def test_the_api_s_validation_errors_are_shown_beside_the_fields(browser: httpx.Client):
    r = browser.post(f"/notices/{NOTICE}/objections",
                     data={"name": "", "contact": "x@y.cn", "reason": "太低<了>"})
    assert r.status_code == 422
    assert 'data-field="name"' in r.text and 'data-field="reason"' in r.text
    assert 'data-field="contact"' not in r.text
    assert "异议理由需 10–2000 字" in r.text
    assert 'value="x@y.cn"' in r.text and "太低&lt;了&gt;</textarea>" in r.text  # kept, escaped


def test_an_objection_after_the_period_says_so(browser: httpx.Client, api: FakePublicApi):
    api.fail[f"/public/notices/{NOTICE}/objections"] = (409, {})
    r = browser.post(f"/notices/{NOTICE}/objections",
                     data={"name": "李明", "contact": "13800000000", "reason": "x" * 20})
    assert r.status_code == 409 and "公示期已结束" in r.text


def test_an_oversized_form_is_refused_unread(browser: httpx.Client):
    r = browser.post(f"/notices/{NOTICE}/objections", data={"reason": "x" * 20_000})
    assert r.status_code == 413


def test_results_page(browser: httpx.Client):
    r = browser.get("/results")
    page = text(r.text)
    assert "成交价 310,000.00 元" in page and "未成交（无人出价）" in page
    assert 'href="/results?cursor=r2"' in r.text


def test_demands_and_a_demand_with_its_open_call(browser: httpx.Client, api: FakePublicApi):
    r = browser.get("/demands", params={"q": "混凝土", "field": "new_materials"})
    query, _, _ = api.last("/public/demands")
    assert query == {"q": ["混凝土"], "field": ["new_materials"], "limit": ["20"]}
    assert "寒区混凝土抗冻融添加剂" in r.text and "揭榜比拼" in r.text
    page = text(browser.get("/demands/cccccccc-cccc-4ccc-8ccc-cccccccccccc").text)
    assert "3,000,000.00 元" in page and "2 份" in page and "2026-06-30 23:59" in page


def test_pages_use_nothing_from_outside_the_machine(browser: httpx.Client):
    shipped = [p for p in Path(PORTAL_DIR).rglob("*") if p.suffix in (".html", ".css", ".js")]
    assert shipped
    for path in shipped:
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", path.read_text()), path
        assert "@import" not in path.read_text() and "@font-face" not in path.read_text()
    for asset in ("/static/portal.css", "/static/auction.js"):
        assert browser.get(asset).status_code == 200
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in (
        browser.get("/").text)
    assert "@media (max-width: 640px)" in browser.get("/static/portal.css").text


def test_pages_render_fast(browser: httpx.Client):
    paths = ["/", "/search?q=石墨烯", f"/auctions/{AUCTION}", f"/notices/{NOTICE}", "/results"]
    for path in paths:
        browser.get(path)  # warm: templates compiled once
    for path in paths:
        started = time.perf_counter()
        assert browser.get(path).status_code == 200
        assert time.perf_counter() - started < 0.2, path
