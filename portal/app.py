"""The portal's pages: FastAPI routes rendering Jinja2 templates from the public API.

Each page makes one or two calls of the public API (the home page several at once, in
parallel) and keeps nothing: no database, no cache, no session. An error of the public API is
a page of its own with the same status (404, 429 with Retry-After, 503), never a 500.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from portal import formatting as fmt
from portal.config import PortalSettings
from portal.public_api import ApiError, PublicApi

HERE = Path(__file__).resolve().parent
log = logging.getLogger("portal")
MAX_FORM_BYTES = 16_384
"""An objection's form is three short fields; a larger body is refused unread."""
TICKER_BIDS = 20
"""Bids an auction's page shows when it opens; the stream adds the new ones."""

Id = uuid.UUID
Text = Annotated[str | None, Query(max_length=200)]
Many = Annotated[list[str] | None, Query(max_length=20)]

OBJECTION_FIELDS = {
    "name": ("姓名或单位", "请填写姓名或单位名称（1–100 字）"),
    "contact": ("联系方式", "请填写电话或电子邮箱（1–200 字）"),
    "reason": ("异议理由", "异议理由需 10–2000 字"),
}
ERROR_PAGES = {
    400: ("请求无效", "查询条件不正确，请修改后重试。"),
    404: ("未找到", "您访问的页面或信息不存在，或尚未公开。"),
    409: ("无法提交", "该事项当前不接受此操作。"),
    413: ("内容过长", "提交的内容过长。"),
    429: ("访问过于频繁", "您的访问过于频繁，请稍后再试。"),
    502: ("服务异常", "交易系统返回了无法处理的应答，请稍后再试。"),
    503: ("服务暂不可用", "交易系统暂时无法访问，请稍后再试。"),
}


def templates() -> Jinja2Templates:
    t = Jinja2Templates(directory=str(HERE / "templates"))
    env = t.env
    env.filters.update(
        yuan=fmt.yuan, wan=fmt.wan_yuan, beijing=fmt.beijing, date=fmt.beijing_date,
        region=fmt.region_name, mark=fmt.highlight,
        beijing_s=lambda v: fmt.beijing(v, seconds=True))
    env.globals.update(
        FIELDS=fmt.FIELDS, IP_TYPES=fmt.IP_TYPES, ROUTES=fmt.ROUTES,
        TRANSFER_MODES=fmt.TRANSFER_MODES, ACHIEVEMENT_STATUS=fmt.ACHIEVEMENT_STATUS,
        PROCEDURE_STATUS=fmt.PROCEDURE_STATUS, AUCTION_STATUS=fmt.AUCTION_STATUS,
        TRADE_STATUS=fmt.TRADE_STATUS, NOTICE_STATUS=fmt.NOTICE_STATUS,
        OBJECTION_STATUS=fmt.OBJECTION_STATUS, OUTCOMES=fmt.OUTCOMES, FAILURES=fmt.FAILURES,
        DEMAND_MODES=fmt.DEMAND_MODES, DEMAND_STATUS=fmt.DEMAND_STATUS,
        PROVINCES=_provinces(), label=fmt.label, procedure_href=procedure_href,
        page_href=page_href)
    return t


def _provinces() -> list[tuple[str, str]]:
    try:
        from shared.regions import PROVINCES
    except ImportError:
        return []
    return [(f"{prefix}0000", name) for prefix, name in PROVINCES.items()]


def procedure_href(item: dict[str, Any]) -> str:
    """The page of a procedure of any route."""
    route = item.get("route")
    base = {"auction": "/auctions", "listing": "/listing-trades",
            "negotiated": "/notices"}.get(route, "/auctions")
    return f"{base}/{item['id']}"


def page_href(path: str, query: dict[str, Any], cursor: str | None) -> str:
    """``path`` with the page's own query and ``cursor`` (the next page)."""
    pairs: list[tuple[str, str]] = []
    for key, value in query.items():
        if key == "cursor" or value in (None, "", []):
            continue
        for v in value if isinstance(value, list) else [value]:
            pairs.append((key, str(v)))
    if cursor:
        pairs.append(("cursor", cursor))
    return path + ("?" + urlencode(pairs) if pairs else "")


def _visitor(request: Request) -> str | None:
    return request.client.host if request.client else None


def _int(text: str | None, lo: int, hi: int) -> int | None:
    try:
        value = int(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and lo <= value <= hi else None


def _items(page: Any) -> list[dict[str, Any]]:
    if isinstance(page, dict):
        return list(page.get("items") or [])
    return list(page or [])


def create_app(settings: PortalSettings | None = None, transport: Any = None) -> FastAPI:
    settings = settings or PortalSettings()
    api = PublicApi(settings, transport)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await api.aclose()

    app = FastAPI(title="techex 公共服务门户", lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)
    app.state.api = api
    app.state.settings = settings
    pages = templates()
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def render(request: Request, name: str, http_status: int = 200, **context: Any
               ) -> HTMLResponse:
        response = pages.TemplateResponse(request, name, context, status_code=http_status)
        # Every page is public and current: no cache keeps an old bid or objection list.
        response.headers["Cache-Control"] = "no-cache"
        return response

    def error_page(request: Request, status: int, detail: str | None = None,
                   retry_after: str | None = None) -> HTMLResponse:
        title, text = ERROR_PAGES.get(status, ERROR_PAGES[502])
        response = render(request, "error.html", http_status=status, status_code=status,
                          title=title, text=detail or text, retry_after=retry_after)
        if retry_after:
            response.headers["Retry-After"] = retry_after
        return response

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> HTMLResponse:
        if exc.status in (404, 410):
            return error_page(request, 404)
        if exc.status == 429:
            return error_page(request, 429, retry_after=exc.retry_after)
        if exc.status in (400, 422):
            return error_page(request, 400)
        if exc.status == 409:
            return error_page(request, 409)
        if exc.status == 503 or exc.status >= 500:
            return error_page(request, 503, retry_after=exc.retry_after)
        return error_page(request, 502)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> HTMLResponse:
        if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()):
            return error_page(request, 404)  # e.g. /auctions/not-an-id
        return error_page(request, 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        return error_page(request, exc.status_code if exc.status_code in ERROR_PAGES else 404)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> HTMLResponse:
        # Most likely an answer of the API the pages do not expect: said, logged, not a 500.
        log.exception("rendering %s failed", request.url.path)
        return error_page(request, 502)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        v = _visitor(request)
        calls = {
            "listings": api.get("listing", "/public/achievements", {"limit": 6}, visitor=v),
            "live": api.get("auction", "/public/procedures",
                            {"route": "auction", "status": "live", "limit": 6}, visitor=v),
            "upcoming": api.get("auction", "/public/procedures",
                                {"route": "auction", "status": "upcoming", "limit": 6},
                                visitor=v),
            "notices": api.get("auction", "/public/procedures",
                               {"route": "negotiated", "status": "live", "limit": 6}, visitor=v),
            "results": api.get("auction", "/public/results", {"limit": 6}, visitor=v),
        }
        answers = await asyncio.gather(*calls.values(), return_exceptions=True)
        sections: dict[str, list[dict[str, Any]] | None] = {}
        failures: list[ApiError] = []
        for name, answer in zip(calls, answers, strict=True):
            if isinstance(answer, ApiError):
                failures.append(answer)
                sections[name] = None
            elif isinstance(answer, BaseException):
                raise answer
            else:
                sections[name] = _items(answer)
        if len(failures) == len(calls):
            raise failures[0]
        return render(request, "home.html", **sections)

    @app.get("/search", response_class=HTMLResponse)
    async def search(request: Request, q: Text = None, field: Many = None,
                     region: Text = None, trl_min: Text = None, trl_max: Text = None,
                     ip_type: Many = None, pricing_route: Many = None,
                     price_min: Text = None, price_max: Text = None,
                     cursor: Annotated[str | None, Query(max_length=2000)] = None,
                     ) -> HTMLResponse:
        form = {"q": (q or "").strip(), "field": field or [], "region": region or "",
                "trl_min": trl_min or "", "trl_max": trl_max or "", "ip_type": ip_type or [],
                "pricing_route": pricing_route or [], "price_min": price_min or "",
                "price_max": price_max or ""}
        params = {
            "q": form["q"] or None, "field": form["field"], "region": region or None,
            "trl_min": _int(trl_min, 1, 9), "trl_max": _int(trl_max, 1, 9),
            "ip_type": form["ip_type"], "pricing_route": form["pricing_route"],
            "price_min_fen": fmt.yuan_to_fen(price_min),
            "price_max_fen": fmt.yuan_to_fen(price_max),
            "cursor": cursor, "limit": settings.page_size}
        page = await api.get("listing", "/public/achievements", params, visitor=_visitor(request))
        return render(request, "search.html", form=form, hits=_items(page),
                      next_href=page_href("/search", form, page.get("next_cursor")) if
                      page.get("next_cursor") else None,
                      first_href=page_href("/search", form, None) if cursor else None)

    @app.get("/achievements/{achievement_id}", response_class=HTMLResponse)
    async def achievement(request: Request, achievement_id: Id) -> HTMLResponse:
        a = await api.get("listing", f"/public/achievements/{achievement_id}",
                          visitor=_visitor(request))
        return render(request, "achievement.html", a=a)

    async def procedures(request: Request, route: str, title: str, path: str,
                         status: str | None, region: str | None, cursor: str | None
                         ) -> HTMLResponse:
        status = status if status in fmt.PROCEDURE_STATUS else None
        query = {"status": status, "region": region or None}
        page = await api.get("auction", "/public/procedures",
                             {"route": route, **query, "cursor": cursor,
                              "limit": settings.page_size}, visitor=_visitor(request))
        nxt = page.get("next_cursor")
        return render(request, "procedures.html", title=title, path=path, route=route,
                      items=_items(page), status=status, region=region or "",
                      next_href=page_href(path, query, nxt) if nxt else None,
                      first_href=page_href(path, query, None) if cursor else None)

    Cursor = Annotated[str | None, Query(max_length=2000)]

    @app.get("/auctions", response_class=HTMLResponse)
    async def auctions(request: Request, status: Text = None, region: Text = None,
                       cursor: Cursor = None) -> HTMLResponse:
        return await procedures(request, "auction", "拍卖公告", "/auctions", status, region,
                                cursor)

    @app.get("/listing-trades", response_class=HTMLResponse)
    async def listing_trades(request: Request, status: Text = None, region: Text = None,
                             cursor: Cursor = None) -> HTMLResponse:
        return await procedures(request, "listing", "挂牌交易", "/listing-trades", status,
                                region, cursor)

    @app.get("/notices", response_class=HTMLResponse)
    async def notices(request: Request, status: Text = None, region: Text = None,
                      cursor: Cursor = None) -> HTMLResponse:
        return await procedures(request, "negotiated", "协议定价公示", "/notices", status,
                                region, cursor)

    @app.get("/auctions/{auction_id}", response_class=HTMLResponse)
    async def auction(request: Request, auction_id: Id) -> HTMLResponse:
        v = _visitor(request)
        a = await api.get("auction", f"/public/auctions/{auction_id}", visitor=v)
        after = max(0, int(a.get("bid_count") or 0) - TICKER_BIDS)
        bids = _items(await api.get("auction", f"/public/auctions/{auction_id}/bids",
                                    {"after": after, "limit": TICKER_BIDS}, visitor=v))
        bids.sort(key=lambda b: b.get("sequence", 0), reverse=True)
        last = max((b.get("sequence", 0) for b in bids), default=after)
        return render(request, "auction.html", a=a, bids=bids, last_sequence=last)

    @app.get("/auctions/{auction_id}/stream")
    async def auction_stream(request: Request, auction_id: Id,
                             after: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None
                             ) -> StreamingResponse:
        """The auction service's public stream, relayed byte for byte: its ``id:`` lines are
        the bid sequence, so the browser's ``Last-Event-ID`` on a reconnect (passed on here)
        resumes right after the last bid it got."""
        last_event_id = request.headers.get("last-event-id")
        if last_event_id is not None and not last_event_id.isdigit():
            last_event_id = None
        path = f"/public/auctions/{auction_id}/stream"
        if after is not None and last_event_id is None:
            path += f"?after={after}"
        upstream, chunks = await api.stream("auction", path, last_event_id=last_event_id,
                                            visitor=_visitor(request))

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in chunks:
                    yield chunk
            except Exception:  # the service went away: the browser reconnects by itself
                return
            finally:
                await upstream.aclose()

        return StreamingResponse(relay(), media_type="text/event-stream", headers={
            "Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/listing-trades/{trade_id}", response_class=HTMLResponse)
    async def listing_trade(request: Request, trade_id: Id) -> HTMLResponse:
        t = await api.get("auction", f"/public/listing-trades/{trade_id}",
                          visitor=_visitor(request))
        return render(request, "trade.html", t=t)

    async def notice_page(request: Request, notice_id: Id, status: int = 200, **context: Any
                          ) -> HTMLResponse:
        n = await api.get("auction", f"/public/notices/{notice_id}", visitor=_visitor(request))
        context.setdefault("form", {"name": "", "contact": "", "reason": ""})
        context.setdefault("errors", {})
        return render(request, "notice.html", http_status=status, n=n, fields=OBJECTION_FIELDS,
                      **context)

    @app.get("/notices/{notice_id}", response_class=HTMLResponse)
    async def notice(request: Request, notice_id: Id,
                     filed: Annotated[str | None, Query(max_length=64)] = None) -> HTMLResponse:
        return await notice_page(request, notice_id, filed=filed)

    @app.post("/notices/{notice_id}/objections", response_model=None)
    async def object_to(request: Request, notice_id: Id) -> HTMLResponse | RedirectResponse:
        """The form's POST: passed on to the public API; its validation errors are shown
        beside the fields, the form keeping what was typed."""
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
            return error_page(request, 413)
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_FORM_BYTES:
                return error_page(request, 413)
        fields = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
        form = {k: (fields.get(k) or [""])[0] for k in OBJECTION_FIELDS}
        body = {k: v.strip() for k, v in form.items()}
        try:
            made = await api.post("auction", f"/public/notices/{notice_id}/objections", body,
                                  visitor=_visitor(request))
        except ApiError as exc:
            if exc.status == 422:
                errors = {name: OBJECTION_FIELDS[name][1] for name in exc.field_errors
                          if name in OBJECTION_FIELDS}
                if not errors:
                    errors = {"": "提交的内容无效，请检查后重试。"}
                return await notice_page(request, notice_id, 422, form=form, errors=errors)
            if exc.status == 409:
                return await notice_page(request, notice_id, 409, form=form, errors={
                    "": "公示期已结束，不再接受异议。"})
            if exc.status == 429:
                return await notice_page(request, notice_id, 429, form=form, errors={
                    "": "提交过于频繁，请稍后再试。"})
            raise
        oid = str(made.get("id", ""))
        return RedirectResponse(f"/notices/{notice_id}?{urlencode({'filed': oid})}"
                                f"#objection-{oid}", status_code=303)

    @app.get("/results", response_class=HTMLResponse)
    async def results(request: Request, cursor: Cursor = None) -> HTMLResponse:
        page = await api.get("auction", "/public/results",
                             {"cursor": cursor, "limit": settings.page_size},
                             visitor=_visitor(request))
        nxt = page.get("next_cursor")
        return render(request, "results.html", items=_items(page),
                      next_href=page_href("/results", {}, nxt) if nxt else None,
                      first_href="/results" if cursor else None)

    @app.get("/demands", response_class=HTMLResponse)
    async def demands(request: Request, q: Text = None, field: Many = None,
                      region: Text = None, cursor: Cursor = None) -> HTMLResponse:
        form = {"q": (q or "").strip(), "field": field or [], "region": region or ""}
        page = await api.get("listing", "/public/demands",
                             {"q": form["q"] or None, "field": form["field"],
                              "region": region or None, "cursor": cursor,
                              "limit": settings.page_size}, visitor=_visitor(request))
        nxt = page.get("next_cursor")
        return render(request, "demands.html", form=form, items=_items(page),
                      next_href=page_href("/demands", form, nxt) if nxt else None,
                      first_href=page_href("/demands", form, None) if cursor else None)

    @app.get("/demands/{demand_id}", response_class=HTMLResponse)
    async def demand(request: Request, demand_id: Id) -> HTMLResponse:
        d = await api.get("listing", f"/public/demands/{demand_id}", visitor=_visitor(request))
        return render(request, "demand.html", d=d)

    return app
