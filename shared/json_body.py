"""Request bodies are UTF-8 JSON, said so by ``Content-Type``, or refused before any route runs.

Every service's commands take JSON. :class:`JsonBodyMiddleware` (pure ASGI, so it covers routes
that bypass FastAPI's body machinery, such as the auction service's bid route) looks at each
request that carries a body:

- its ``Content-Type`` must be ``application/json`` (or ``application/*+json``), with no other
  charset than UTF-8 → else **415** ``unsupported-media-type``;
- it must be at most :data:`MAX_BODY_BYTES` → else **413** ``body-too-large``;
- it must be one JSON text in UTF-8 (RFC 8259): no byte-order mark, no ``NaN``/``Infinity``, no
  lone surrogate escape (it has no UTF-8 form), nothing after the value → else **400**
  ``malformed-body``, with where the parser stopped.

A request without a body passes on untouched: a command that needs one answers 422 (body
required) from its model. The checked body is handed on as it came, so routes read it as before.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.problem_handlers import problem_response
from shared.problems import BodyTooLarge, MalformedBody, Problem, UnsupportedMediaType

__all__ = [
    "BODY_METHODS",
    "MAX_BODY_BYTES",
    "JsonBodyMiddleware",
    "is_json_media_type",
]

MAX_BODY_BYTES = 1 << 20
"""The largest request body (1 MiB): every model's own bounds stay far below it."""

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_json_media_type(content_type: str | None) -> bool:
    """``application/json`` or ``application/<anything>+json``, charset UTF-8 if one is named."""
    if not content_type:
        return False
    media, _, parameters = content_type.partition(";")
    kind, _, subtype = media.strip().lower().partition("/")
    if kind != "application" or not (subtype == "json" or subtype.endswith("+json")):
        return False
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower().replace(
                "_", "-") not in ("utf-8", "utf8"):
            return False
    return True


def _headers(scope: Scope) -> tuple[str | None, str | None, bool]:
    """Content-Length, Content-Type and whether the body is chunked, in one pass."""
    length = content_type = None
    chunked = False
    for key, value in scope["headers"]:
        if key == b"content-length":
            length = value.decode("latin-1")
        elif key == b"content-type":
            content_type = value.decode("latin-1")
        elif key == b"transfer-encoding":
            chunked = True
    return length, content_type, chunked


class JsonBodyMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        length, content_type, chunked = _headers(scope)
        if not chunked and (length is None or length.strip() == "0"):
            await self.app(scope, receive, send)
            return
        if not is_json_media_type(content_type):
            shown = f"{content_type!r}" if content_type else "no Content-Type"
            await self._refuse(UnsupportedMediaType(
                f"The body was sent as {shown}; send it as application/json (UTF-8).",
                content_type=content_type), scope, receive, send)
            return
        if length is not None and length.strip().isdigit() and int(length) > self.max_bytes:
            await self._refuse(self._too_large(), scope, receive, send)
            return
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._refuse(self._too_large(), scope, receive, send)
                return
        if body:
            reason = _malformed(bytes(body))
            if reason is not None:
                await self._refuse(MalformedBody(
                    f"The body is not one JSON text in UTF-8: {reason}.", errors=[
                        {"field": "body", "message": reason}]), scope, receive, send)
                return
        await self.app(scope, _replay(bytes(body), receive), send)

    def _too_large(self) -> BodyTooLarge:
        return BodyTooLarge(f"A request body is at most {self.max_bytes} bytes.",
                            max_bytes=self.max_bytes)

    @staticmethod
    async def _refuse(problem: Problem, scope: Scope, receive: Receive, send: Send) -> None:
        await problem_response(problem, Request(scope))(scope, receive, send)


def _malformed(body: bytes) -> str | None:
    """Why ``body`` is not one UTF-8 JSON text, or None."""
    try:
        from_json(body, allow_inf_nan=False, cache_strings=False)
    except ValueError as exc:
        return str(exc)
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
