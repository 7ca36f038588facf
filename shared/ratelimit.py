"""Rate limits: a token bucket per account or per client address, answered 429 with
``Retry-After``.

Each limit lets ``burst`` requests through at once and refills at ``rate`` per second, so a
bidder may bid a few times in the last seconds of an auction while a script that floods gets
429s, cheaply and before any work is done for it, and does not slow anyone else. Limits:

- per account (the token's subject): ``bids`` (auction bids, proxy maxima, listing-trade
  bids) and ``search`` (listing search and matching), with ``Depends(per_account(...))``;
- per client address: ``unauthenticated`` (every request answered 401 costs a token, so
  guessed or expired tokens cannot be tried at will — valid tokens from the same address are
  not held back), ``bank_callbacks``, and ``public`` for anonymous surfaces, applied with
  ``dependencies=[per_address("public")], responses=rate_limited("public")`` on a route or
  a router.

The buckets live in the process. Behind a load balancer each instance counts on its own, so an
account spreading its requests over N instances gets at most N times the rate; a bid forwarded
to its auction's writer counts there too (the forwarding header is not trusted to skip the
limit: any client can send it). The client address is the one uvicorn reports
(``FORWARDED_ALLOW_IPS`` names the proxies whose ``X-Forwarded-For`` it trusts).

Why not the ``limits`` package: measured on the 2-core machine bench/bids.py runs on, its
in-memory async strategies cost 5–11 µs a check (fixed, moving and sliding window), this
bucket 0.7–0.9 µs, against ~700 µs of CPU per bid; it has no token bucket (rate and burst),
and its shared backends (Redis, Memcached, MongoDB) are nothing techex runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from prometheus_client import Counter

from shared.auth import Principal, current_principal
from shared.problems import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA, RETRY_AFTER_HEADER, Problem
from shared.settings import CommonSettings

__all__ = ["RateLimited", "RateLimits", "TokenBuckets", "client_address", "install_rate_limits",
           "per_account", "per_address", "rate_limited"]

RATE_LIMITED = Counter("techex_rate_limited_total", "Requests refused by a rate limit (429)",
                       ["service", "limit"])

MAX_KEYS = 100_000
"""Buckets kept per limit; past that the full ones (idle long enough) are forgotten."""


class RateLimited(Problem):
    slug = "rate-limited"
    status = 429
    title = "Too many requests"


class TokenBuckets:
    """One limit: a bucket of ``burst`` tokens per key, refilled at ``rate`` per second.

    ``rate`` 0 switches the limit off. ``who`` names a key in the refusal (``"account {}"``).
    ``now`` is a monotonic clock in seconds (real time, not the service clock: a simulation
    clock's jumps must not refill anyone's bucket).
    """

    __slots__ = ("_buckets", "_refused", "burst", "max_keys", "name", "now", "rate", "who")

    def __init__(self, name: str, rate: float, burst: int, *, who: str = "{}",
                 service: str = "", max_keys: int = MAX_KEYS,
                 now: Callable[[], float] = time.monotonic) -> None:
        if rate < 0 or burst < 1:
            raise ValueError("a rate limit needs rate >= 0 and burst >= 1")
        self.name, self.rate, self.burst, self.who = name, float(rate), burst, who
        self.max_keys, self.now = max_keys, now
        self._buckets: dict[str, list[float]] = {}  # key -> [tokens, at]
        self._refused = RATE_LIMITED.labels(service, name)

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0.0 if there was one, else the seconds until there is."""
        if not self.rate:
            return 0.0
        now = self.now()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._forget_full(now)
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def check(self, key: str) -> None:
        """Take a token for ``key`` or raise :class:`RateLimited`."""
        wait = self.take(key)
        if wait:
            self._refused.inc()
            seconds = max(1, math.ceil(wait))
            raise RateLimited(
                f"Too many requests from {self.who.format(key)} (limit '{self.name}': "
                f"{self.burst} at once, "
                f"{self.rate:g} per second); retry in {seconds} s.",
                headers={"Retry-After": str(seconds)}, limit=self.name,
                retry_after_seconds=seconds)

    def _forget_full(self, now: float) -> None:
        full_after = self.burst / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b[1] < full_after}
        if len(self._buckets) >= self.max_keys * 0.9:  # all busy: start afresh, briefly lenient
            self._buckets.clear()


@dataclass(frozen=True)
class RateLimits:
    """The limits of one service process (``app.state.rate_limits``)."""

    bids: TokenBuckets
    search: TokenBuckets
    unauthenticated: TokenBuckets
    bank_callbacks: TokenBuckets
    public: TokenBuckets

    @classmethod
    def from_settings(cls, common: CommonSettings, service: str = "") -> RateLimits:
        def limit(name: str, rate: float, burst: int, who: str) -> TokenBuckets:
            return TokenBuckets(name, rate, burst, who=who, service=service)

        return cls(
            bids=limit("bids", common.bid_rate, common.bid_burst, "account {}"),
            search=limit("search", common.search_rate, common.search_burst, "account {}"),
            unauthenticated=limit("unauthenticated", common.unauthenticated_rate,
                                  common.unauthenticated_burst,
                                  "address {} without a valid token"),
            bank_callbacks=limit("bank_callbacks", common.bank_callback_rate,
                                 common.bank_callback_burst, "address {}"),
            public=limit("public", common.public_rate, common.public_burst, "address {}"))

    def refuse_unauthenticated(self, request: Request) -> None:
        """Count a request that carries no valid principal; raise once its address is over."""
        self.unauthenticated.check(client_address(request))


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limits(request: Request) -> RateLimits:
    return request.app.state.rate_limits


def _known(limit: str) -> str:
    if limit not in RateLimits.__dataclass_fields__:
        raise ValueError(f"no rate limit {limit!r}; the limits are "
                         f"{', '.join(RateLimits.__dataclass_fields__)}")
    return limit


def per_account(limit: str) -> Any:
    """``Depends(...)`` limiting each account (token subject) by the named limit (document it
    with ``responses=rate_limited(limit)``). The principal is resolved once with the route's
    own."""
    _known(limit)

    async def dependency(request: Request,
                         principal: Annotated[Principal, Depends(current_principal)]) -> None:
        getattr(_limits(request), limit).check(principal.subject)

    return Depends(dependency)


def per_address(limit: str) -> Any:
    """``Depends(...)`` limiting each client address by the named limit."""
    _known(limit)

    async def dependency(request: Request) -> None:
        getattr(_limits(request), limit).check(client_address(request))

    return Depends(dependency)


def rate_limited(limit: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` documenting a limited route's 429 (with ``per_account`` / ``per_address``
    in its ``dependencies``)."""
    return {429: {
        "description": f"Too many requests (rate limit '{limit}'); retry after Retry-After "
                       "seconds",
        "headers": RETRY_AFTER_HEADER,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}}}


def install_rate_limits(app: FastAPI, common: CommonSettings, service: str) -> RateLimits:
    """Keep the service's limits in ``app.state`` for the dependencies and plain routes."""
    limits = RateLimits.from_settings(common, service)
    app.state.rate_limits = limits
    return limits
