"""A real HTTP server answering the public API's contract from the JSON files in fixtures/:
what the portal's unit tests render. It checks nothing of the services themselves (the
browser test in tests/e2e/test_public_portal.py runs against the real ones)."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ID = r"[0-9a-f-]{36}"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class FakePublicApi:
    """``with FakePublicApi() as api: api.url``; ``api.requests`` records each request as
    (method, path, query, headers, body); ``api.fail[path] = (status, headers)`` answers that
    path with a problem document instead."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, list[str]], dict[str, str], Any]] = []
        self.fail: dict[str, tuple[int, dict[str, str]]] = {}
        self.stream_hold = 0.0
        """Seconds a stream stays open after its events (the relay test reads them first)."""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakePublicApi:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def last(self, path: str) -> tuple[dict[str, list[str]], dict[str, str], Any]:
        for _method, p, query, headers, body in reversed(self.requests):
            if p == path:
                return query, headers, body
        raise AssertionError(f"no request of {path}; got {[r[1] for r in self.requests]}")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None,
                      media: str = "application/json") -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", media)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _problem(self, status: int, headers: dict[str, str] | None = None,
                         **extra: Any) -> None:
                self._send(status, {"type": f"urn:techex:problem:{status}", "status": status,
                                    "title": "fake", **extra}, headers,
                           "application/problem+json")

            def _record(self, body: Any = None) -> tuple[str, dict[str, list[str]]]:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                api.requests.append((self.command, parts.path, query, dict(self.headers), body))
                return parts.path, query

            def do_GET(self) -> None:
                path, query = self._record()
                if path in api.fail:
                    status, headers = api.fail[path]
                    return self._problem(status, headers)
                one = lambda key: (query.get(key) or [None])[0]  # noqa: E731
                if path == "/public/achievements":
                    return self._send(200, fixture("achievements"))
                if path == "/public/procedures":
                    page = fixture("procedures")
                    page["items"] = [p for p in page["items"]
                                     if one("status") in (None, p["status"])
                                     and one("route") in (None, p["route"])]
                    return self._send(200, page)
                if path == "/public/results":
                    return self._send(200, fixture("results"))
                if path == "/public/demands":
                    return self._send(200, fixture("demands"))
                for pattern, name in (
                        (rf"/public/achievements/({ID})", "achievement"),
                        (rf"/public/auctions/({ID})", "auction"),
                        (rf"/public/auctions/({ID})/bids", "bids"),
                        (rf"/public/listing-trades/({ID})", "listing_trade"),
                        (rf"/public/notices/({ID})", "notice"),
                        (rf"/public/demands/({ID})", "demand")):
                    m = re.fullmatch(pattern, path)
                    if m:
                        body = fixture(name)
                        known = fixture("auction")["id"] if name == "bids" else body["id"]
                        if m.group(1) != known:
                            return self._problem(404)
                        return self._send(200, body)
                m = re.fullmatch(rf"/public/auctions/({ID})/stream", path)
                if m and m.group(1) == fixture("auction")["id"]:
                    return self._stream(int(self.headers.get("Last-Event-ID")
                                            or one("after") or 0))
                return self._problem(404)

            def _stream(self, after: int) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"event: state\ndata: "
                                 + json.dumps(fixture("auction")).encode() + b"\n\n")
                for e in fixture("stream"):
                    if e["id"] is not None and e["id"] <= after:
                        continue
                    head = f"event: {e['event']}\n" + (f"id: {e['id']}\n" if e["id"] else "")
                    self.wfile.write((head + "data: " + json.dumps(e["data"]) + "\n\n").encode())
                    self.wfile.flush()
                time.sleep(api.stream_hold)
                self.close_connection = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                path, _ = self._record(body)
                if path in api.fail:
                    status, headers = api.fail[path]
                    return self._problem(status, headers)
                m = re.fullmatch(rf"/public/notices/({ID})/objections", path)
                if not m or m.group(1) != fixture("notice")["id"]:
                    return self._problem(404)
                bounds = {"name": (1, 100), "contact": (1, 200), "reason": (10, 2000)}
                errors = [{"field": f"body.{k}", "message": f"String should have at least {lo} "
                                                            "characters"}
                          for k, (lo, hi) in bounds.items()
                          if not lo <= len(str((body or {}).get(k, ""))) <= hi]
                if errors:
                    return self._problem(422, errors=errors)
                return self._send(201, {"id": "dddddddd-dddd-4ddd-8ddd-dddddddddddd",
                                        "reason": body["reason"], "filed_at":
                                        "2026-03-04T08:00:00Z", "status": "open",
                                        "outcome": None})

        return Handler
