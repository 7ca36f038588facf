"""A partner deployment's token issuer for tests: an ES256 key, its JWK set served over real
HTTP from a thread, tokens it signs, and this deployment's federation file trusting it."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.auth import jwk_set
from shared.envelope import Envelope
from shared.kafka import new_producer
from shared.settings import CommonSettings

HEBEI_ISSUER = "https://auth.hebei.example"
AUDIENCE = "techex"


class Issuer:
    """A partner's signing key; ``sign`` makes its tokens (``kid``: the key's thumbprint)."""

    def __init__(self, issuer: str = HEBEI_ISSUER) -> None:
        self.issuer = issuer
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.jwks = jwk_set(CommonSettings(jwt_public_key=self.public_pem))
        self.kid = self.jwks["keys"][0]["kid"]

    def claims(self, sub: str, role: str, region: str, **overrides: Any) -> dict[str, Any]:
        now = datetime.now(UTC)
        claims = {"iss": self.issuer, "aud": AUDIENCE, "sub": sub, "role": role,
                  "region": region, "iat": now, "exp": now + timedelta(minutes=10)}
        return claims | overrides

    def sign(self, sub: str, role: str = "buyer", region: str = "130109", *,
             kid: str | None = None, **overrides: Any) -> str:
        return jwt.encode(self.claims(sub, role, region, **overrides), self.key,
                          algorithm="ES256", headers={"kid": kid or self.kid})

    def bearer(self, sub: str, role: str = "buyer", region: str = "130109",
               **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.sign(sub, role, region, **kw)}"}


class JwksServer:
    """Serves a JWK set at ``url``; ``mode`` ``"ok"``, ``"error"`` (HTTP 500), ``"garbage"``
    (not JSON) or ``"reset"`` (the connection dropped without an answer). ``hits`` counts
    requests."""

    def __init__(self, body: dict) -> None:
        self.body = json.dumps(body).encode()
        self.mode = "ok"
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits += 1
                if server.mode == "reset":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                payload = b"<html>oops" if server.mode == "garbage" else server.body
                self.send_response(500 if server.mode == "error" else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_port}/.well-known/jwks.json"

    @contextmanager
    def running(self) -> Iterator[JwksServer]:
        thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._http.shutdown()
            self._http.server_close()


def unused_url() -> str:
    """A JWKS URL nobody answers on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/jwks.json"


def tianjin_file(tmp_path: Path, topic_prefix: str = "techex",
                 **issuers: tuple[str, str]) -> Path:
    """Tianjin's partner file: Hebei (130000) and Beijing (110000), each trusted for tokens
    when ``issuers`` names it (``hebei=(issuer, jwks_url)``); every deployment's topics
    under ``topic_prefix``."""
    partners = []
    for alias, name, region in (("hebei", "河北省", "130000"), ("beijing", "北京市", "110000")):
        partner: dict[str, Any] = {"alias": alias, "name": name, "region": region,
                                   "bootstrap_servers": [f"kafka.{alias}.example:9094"],
                                   "portal_url": f"https://techex.{alias}.example",
                                   "topic_prefix": topic_prefix}
        if alias in issuers:
            issuer, url = issuers[alias]
            partner |= {"token_issuer": issuer, "jwks_url": url}
        partners.append(partner)
    path = tmp_path / "tianjin.json"
    path.write_text(json.dumps({"alias": "tianjin", "name": "天津市", "region": "120000",
                                "topic_prefix": topic_prefix, "partners": partners}))
    return path


async def mirror(bootstrap: str, topic: str, *records: Envelope) -> None:
    """Put ``records`` on a partner's mirrored topic as MirrorMaker does (in order, each
    acknowledged)."""
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        for record in records:
            key, value, headers = record.to_record()
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()
