"""W3C Trace Context (``traceparent``) propagation without a tracing SDK.

The current ``traceparent`` lives in a context variable so that logs and outgoing Kafka
messages can carry the trace of the request (or message) being handled.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "TRACEPARENT",
    "TraceMiddleware",
    "current_traceparent",
    "new_child",
    "new_traceparent",
    "parse_traceparent",
    "trace_id_of",
    "use_traceparent",
]

TRACEPARENT: ContextVar[str | None] = ContextVar("techex_traceparent", default=None)

_HEADER = re.compile(
    r"(?P<version>[0-9a-f]{2})-(?P<trace_id>[0-9a-f]{32})-(?P<parent_id>[0-9a-f]{16})"
    r"-(?P<flags>[0-9a-f]{2})(?P<rest>-.*)?"
)
_SAMPLED = "01"


def new_traceparent() -> str:
    """A traceparent starting a new, sampled trace."""
    return f"00-{_random_hex(16)}-{_random_hex(8)}-{_SAMPLED}"


def parse_traceparent(value: str | None) -> str | None:
    """The canonical version-00 form of a received header, or ``None`` if it is not valid.

    Follows the W3C rules: lowercase hex only, all-zero ids and version ``ff`` are invalid,
    and fields a future version appends after the flags are dropped.
    """
    if value is None:
        return None
    match = _HEADER.fullmatch(value.strip(" \t"))
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.group(
        "version", "trace_id", "parent_id", "flags", "rest"
    )
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if set(trace_id) == {"0"} or set(parent_id) == {"0"}:
        return None
    return f"00-{trace_id}-{parent_id}-{flags}"


def _valid(traceparent: str) -> str:
    parsed = parse_traceparent(traceparent)
    if parsed is None:
        raise ValueError(f"not a valid traceparent: {traceparent!r}")
    return parsed


def trace_id_of(traceparent: str) -> str:
    """The 32-hex trace id shared by every span of the trace."""
    return _valid(traceparent).split("-")[1]


def new_child(traceparent: str) -> str:
    """A traceparent for a new span in the same trace, with the parent's flags."""
    _, trace_id, _, flags = _valid(traceparent).split("-")
    return f"00-{trace_id}-{_random_hex(8)}-{flags}"


def current_traceparent() -> str | None:
    """The traceparent of the request or message being handled, if any."""
    return TRACEPARENT.get()


@contextmanager
def use_traceparent(traceparent: str | None) -> Iterator[str]:
    """Run the block in a new span of ``traceparent``'s trace, e.g. while handling a Kafka
    message; a missing or invalid value (it may come from anywhere) starts a new trace.

    Yields the traceparent made current.
    """
    parent = parse_traceparent(traceparent)
    current = new_child(parent) if parent else new_traceparent()
    token = TRACEPARENT.set(current)
    try:
        yield current
    finally:
        TRACEPARENT.reset(token)


def _random_hex(n_bytes: int) -> str:
    """Random ids from the Mersenne Twister: trace ids must be unique, not secret, and this
    runs for every request and every consumed event (``secrets`` costs a syscall each)."""
    while True:  # all-zero ids are invalid; practically never loops
        value = _random.getrandbits(n_bytes * 8)
        if value:
            return f"{value:0{n_bytes * 2}x}"


_random = random.Random()


class TraceMiddleware:
    """Pure ASGI middleware giving each HTTP request a span of the caller's trace.

    A valid incoming ``traceparent`` is continued with a new span id (this service's span);
    otherwise a new trace starts. The result is current for the request, stored in
    ``request.state.traceparent`` and echoed in the ``traceparent`` response header.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        received = [value for name, value in scope["headers"] if name == b"traceparent"]
        incoming = parse_traceparent(received[0].decode("latin-1")) if len(received) == 1 else None
        traceparent = new_child(incoming) if incoming else new_traceparent()
        # Kept on the scope too: Starlette's last-resort error handler runs after this returns.
        scope.setdefault("state", {})["traceparent"] = traceparent
        encoded = traceparent.encode("latin-1")

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"traceparent"
                ]
                message = {**message, "headers": [*headers, (b"traceparent", encoded)]}
            await send(message)

        token = TRACEPARENT.set(traceparent)
        try:
            await self.app(scope, receive, send_with_header)
        finally:
            TRACEPARENT.reset(token)
