"""The federation run on one machine (`techex up --federation`): the layout of
:class:`~techex.stack.federation.FederationStack` (a Kafka cluster and a MirrorMaker 2 per
deployment), the profile's one PostgreSQL, and each deployment's services as supervised
processes on their own ports.

What runs: a province (Tianjin, Hebei) runs the five services and its portal; the national hub
(region 000000) runs only listing and registry, and its portal. Deployment *i* of the layout
has the ports ``FEDERATION_BASE[profile] + offset + 10·i``: broker +0, controller +1, listing
+4, auction +5, settlement +6, registry +7, portal +8, records +9.

Each deployment gets, in ``.techex/<profile>/federation/``:

- ``<alias>.json``: its local partner file (``TECHEX_FEDERATION_FILE``), made from
  ``deploy/federation/<alias>.json`` with only the partners the layout runs, each at its local
  cluster, with its local ``token_issuer`` and ``jwks_url``;
- ``keys/<alias>.pem`` (and ``.pub.pem``): its ES256 token key, made once; its services verify
  their tokens with the public key (``TECHEX_JWT_PUBLIC_KEY``) and its issuer
  (``TECHEX_JWT_ISSUER`` = ``http://127.0.0.1:<its listing port>``);
- ``<alias>/logs/<service>.log``: its processes' output.

Databases are ``techex_<alias>_<service>``; all deployments run on one simulation clock (the
profile's ``clock-shift`` file, so `techex clock advance` moves them all).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.auth import Role, public_jwk
from shared.federation import Federation, staff_region
from shared.settings import CommonSettings
from techex.cli import (
    PORTAL,
    _answers_ready,
    _wait_ready,
    spawn_service,
    stop_services,
)
from techex.client import ExchangeClient
from techex.stack.federation import LOCAL_DEPLOYMENTS, FederationStack
from techex.stack.postgres import EmbeddedPostgres
from techex.stack.process import StackError, port_open
from techex.stack.stack import PROFILES, REPO, SERVICES, create_database, port_offset, run_sync
from techex.supervisor import Supervisor

HUB_SERVICES = ("listing", "registry")
"""What the national hub runs: the catalog of every province and the national statistics."""
PORTAL_SLOT = 8
"""Where in its block of ten each deployment's portal listens."""
AUDIENCE = "techex"
"""The ``aud`` of every deployment's tokens (CommonSettings' default ``jwt_audience``)."""
HOST = "127.0.0.1"


# -- token keys ----------------------------------------------------------------------------------

class DeploymentKey:
    """A deployment's ES256 signing key, read from (or made once into)
    ``<directory>/<alias>.pem``."""

    def __init__(self, directory: Path, alias: str) -> None:
        self.private_file = directory / f"{alias}.pem"
        self.public_file = directory / f"{alias}.pub.pem"
        if not self.private_file.exists():
            self._make()
        self.private_pem = self.private_file.read_bytes()
        private = serialization.load_pem_private_key(self.private_pem, password=None)
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        self.public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.jwk = public_jwk(self.public_pem)
        self.kid = self.jwk["kid"]

    def _make(self) -> None:
        self.private_file.parent.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        tmp = self.private_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        os.replace(tmp, self.private_file)  # a key half written is never read
        self.public_file.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(dict(claims), self.private_pem, algorithm="ES256",
                          headers={"kid": self.kid})


def token_claims(issuer: str, subject: str, role: str, region: str,
                 ttl: timedelta = timedelta(hours=12), audience: str = AUDIENCE,
                 now: datetime | None = None) -> dict[str, Any]:
    """The claims shared.auth.mint_token sets (iss, aud, sub, role, region, iat, exp)."""
    now = now or datetime.now(UTC)
    return {"iss": issuer, "aud": audience, "sub": subject, "role": str(role),
            "region": region, "iat": now, "exp": now + ttl}


# -- the layout ----------------------------------------------------------------------------------

def deployment_services(federation: Federation) -> tuple[str, ...]:
    """The services a deployment runs: all four in a province, listing + registry at the hub."""
    return HUB_SERVICES if federation.national_hub else SERVICES


class FederationLayout:
    """Every deployment of a profile's federation layout with its services and portal.

    ``up()`` brings up the clusters, MirrorMakers, PostgreSQL, databases, partner files and keys;
    ``start()`` the processes (returns once all answer); ``supervisor()`` keeps them running;
    ``stop()`` ends them; ``down()`` stops what ``up()`` started. A process is named
    ``<alias>.<service>`` (``hebei.listing``, ``national.portal``).
    """

    def __init__(self, profile: str = "dev", env: Mapping[str, str] | None = None,
                 deployments: Sequence[str] = LOCAL_DEPLOYMENTS, *,
                 clock_file: Path | None = None, database_prefix: str = "techex") -> None:
        self.env = dict(os.environ if env is None else env)
        self.profile = profile
        self.stack = FederationStack(profile, self.env, deployments)
        self.home = self.stack.home
        base = Path(self.env.get("TECHEX_HOME", REPO / ".techex")) / profile
        self.admin_url = self.env.get("TECHEX_DATABASE_ADMIN_URL")
        self.postgres = None if self.admin_url else EmbeddedPostgres(
            base, PROFILES[profile].postgres + port_offset(self.env))
        named = self.env.get("TECHEX_CLOCK_SHIFT_FILE")
        self.clock_file = clock_file or (Path(named) if named else base / "clock-shift")
        self.database_prefix = database_prefix
        self.procs: dict[str, subprocess.Popen] = {}
        self._keys: dict[str, DeploymentKey] = {}
        self._started: list[str] = []

    # -- what runs where -------------------------------------------------------------------------

    @property
    def aliases(self) -> list[str]:
        return list(self.stack.deployments)

    def federation(self, alias: str) -> Federation:
        """The deployment's shipped partner file (deploy/federation/<alias>.json)."""
        return self.stack.deployment(alias).federation

    def services(self, alias: str) -> tuple[str, ...]:
        return deployment_services(self.federation(alias))

    def processes(self, alias: str) -> tuple[str, ...]:
        """Its services and its portal."""
        return (*self.services(alias), PORTAL)

    def port(self, alias: str, service: str) -> int:
        ports = self.stack.deployment(alias).ports
        if service == PORTAL:
            return ports.kafka + PORTAL_SLOT
        return ports.services[service]

    def url(self, alias: str, service: str) -> str:
        return f"http://{HOST}:{self.port(alias, service)}"

    def urls(self, alias: str) -> dict[str, str]:
        """Base URL of each process the deployment runs (its services and ``portal``)."""
        return {s: self.url(alias, s) for s in self.processes(alias)}

    def issuer(self, alias: str) -> str:
        """The ``iss`` of the deployment's tokens: its listing service's address."""
        return self.url(alias, "listing")

    def jwks_url(self, alias: str) -> str:
        return f"{self.url(alias, 'listing')}/.well-known/jwks.json"

    def database(self, alias: str, service: str) -> str:
        return f"{self.database_prefix}_{alias}_{service}"

    def database_url(self, alias: str, service: str) -> str:
        return f"{self._server_url()}/{self.database(alias, service)}"

    def _admin_url(self) -> str:
        if self.admin_url:
            return self.admin_url
        assert self.postgres is not None
        return self.postgres.url("postgres")

    def _server_url(self) -> str:
        return self._admin_url().rsplit("/", 1)[0]

    def key(self, alias: str) -> DeploymentKey:
        """The deployment's token key (made on first use)."""
        if alias not in self._keys:
            self.stack.deployment(alias)  # a KeyError for an alias not in the layout
            self._keys[alias] = DeploymentKey(self.home / "keys", alias)
        return self._keys[alias]

    def federation_file(self, alias: str) -> Path:
        return self.home / f"{alias}.json"

    def local_federation(self, alias: str) -> Federation | None:
        """Its partner file as run here: the partners of the layout at their local clusters,
        trusted by their local issuers and keys; None without a partner in the layout (a file
        names at least one)."""
        federation = self.stack.local_federation(alias)
        if not federation.partners:
            return None
        partners = [{**p.model_dump(mode="json"), "token_issuer": self.issuer(p.alias),
                     "jwks_url": self.jwks_url(p.alias),
                     "portal_url": self.url(p.alias, PORTAL)} for p in federation.partners]
        return Federation.model_validate({**federation.model_dump(mode="json"),
                                          "partners": partners})

    def write_federation_files(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        for alias in self.aliases:
            federation = self.local_federation(alias)
            path = self.federation_file(alias)
            if federation is None:
                path.unlink(missing_ok=True)
                continue
            text = json.dumps(federation.model_dump(mode="json", exclude_none=True),
                              ensure_ascii=False, indent=2) + "\n"
            if not path.exists() or path.read_text() != text:
                path.write_text(text)

    def log_dir(self, alias: str) -> Path:
        return self.home / alias / "logs"

    def env_of(self, alias: str) -> dict[str, str]:
        """What a process of deployment ``alias`` runs with besides the caller's environment:
        its cluster, topic prefix, region, partner file, token key, ports, databases, the
        shared clock and its portal's API addresses."""
        env = self.stack.service_env(alias)
        if self.local_federation(alias) is not None:
            env["TECHEX_FEDERATION_FILE"] = str(self.federation_file(alias))
        env |= {"TECHEX_JWT_PUBLIC_KEY": self.key(alias).public_pem,
                "TECHEX_JWT_ISSUER": self.issuer(alias),
                "TECHEX_JWT_AUDIENCE": AUDIENCE,
                "TECHEX_CLOCK_SHIFT_FILE": str(self.clock_file)}
        env |= {f"{s.upper()}_DATABASE_URL": self.database_url(alias, s)
                for s in self.services(alias)}
        env["PORTAL_PORT"] = str(self.port(alias, PORTAL))
        env |= {f"PORTAL_{s.upper()}_URL": self.url(alias, s)
                for s in ("listing", "auction", "registry")}
        return env

    def process_env(self, alias: str) -> dict[str, str]:
        """The whole environment of the deployment's processes."""
        env = {k: v for k, v in self.env.items()
               if k not in ("TECHEX_JWKS_URL", "TECHEX_JWT_SECRET", "TECHEX_FEDERATION_FILE")}
        return env | self.env_of(alias)

    # -- bringing it up --------------------------------------------------------------------------

    def up(self, log: Callable[[str], None] = print) -> bool:
        """The clusters and MirrorMakers, PostgreSQL and the databases, the partner files and
        the keys; True if anything was started."""
        started = False
        if self.postgres is not None and self.postgres.up(log):
            self._started.append("postgres")
            started = True
        if self.stack.up(log):
            self._started.append("federation")
            started = True
        run_sync(self._databases())
        self.write_federation_files()
        for alias in self.aliases:
            self.key(alias)
        return started

    async def _databases(self) -> None:
        conn = await asyncpg.connect(self._admin_url())
        try:
            for alias in self.aliases:
                for service in self.services(alias):
                    await create_database(conn, self.database(alias, service))
        finally:
            await conn.close()

    async def drop_databases(self) -> None:
        """Drop the layout's databases (tests' throw-away ones)."""
        conn = await asyncpg.connect(self._admin_url())
        try:
            for alias in self.aliases:
                for service in self.services(alias):
                    await conn.execute(
                        f'DROP DATABASE IF EXISTS "{self.database(alias, service)}" WITH (FORCE)')
        finally:
            await conn.close()

    def spawn(self, name: str) -> subprocess.Popen:
        alias, service = name.split(".", 1)
        return spawn_service(service, self.process_env(alias), self.log_dir(alias))

    def ready_url(self, name: str) -> str:
        alias, service = name.split(".", 1)
        return f"{self.url(alias, service)}/{'healthz' if service == PORTAL else 'readyz'}"

    def names(self) -> list[str]:
        return [f"{a}.{p}" for a in self.aliases for p in self.processes(a)]

    def start(self, timeout: float = 120) -> dict[str, subprocess.Popen]:
        """Start every deployment's services, then its portal; returns once all answer."""
        taken = [f"{n} ({self.port(*n.split('.', 1))})" for n in self.names()
                 if port_open(HOST, self.port(*n.split(".", 1)))]
        if taken:
            raise StackError("ports of the federation are taken: " + ", ".join(taken)
                             + ". Is `techex up --federation` running already?")
        try:
            services = [n for n in self.names() if not n.endswith(f".{PORTAL}")]
            for name in services:
                self.procs[name] = self.spawn(name)
            for name in services:
                _wait_ready(self.ready_url(name), self.procs[name], timeout)
            portals = [n for n in self.names() if n.endswith(f".{PORTAL}")]
            for name in portals:
                self.procs[name] = self.spawn(name)
            for name in portals:
                _wait_ready(self.ready_url(name), self.procs[name], 60)
        except BaseException:
            self.stop()
            raise
        return self.procs

    def supervisor(self, say: Callable[[str], None] = print) -> Supervisor:
        """The supervisor of `techex up` over the processes :meth:`start` started."""
        def log_file(name: str) -> Path:
            alias, service = name.split(".", 1)
            return self.log_dir(alias) / f"{service}.log"

        return Supervisor(
            self.procs, spawn=self.spawn, stop=stop_services, log_file=log_file,
            ready=lambda name: _answers_ready(self.ready_url(name), timeout=0.5), say=say)

    def stop(self) -> None:
        stop_services(self.procs)
        self.procs = {}

    def down(self) -> None:
        """Stop what :meth:`up` started (a cluster or PostgreSQL that ran before stays)."""
        if "federation" in self._started:
            self.stack.down()
        if "postgres" in self._started and self.postgres is not None:
            self.postgres.down()
        self._started = []

    # -- using it --------------------------------------------------------------------------------

    def client(self, alias: str) -> DeploymentClient:
        return DeploymentClient(alias, self.urls(alias), self.key(alias), self.issuer(alias),
                                staff_region(self.federation(alias)))

    def exchange(self, alias: str) -> DeploymentExchange:
        """Deployment ``alias`` as the exchange client the demo drives (its tokens, the
        layout's clock)."""
        return DeploymentExchange(self.client(alias), self.clock_file)

    def token(self, alias: str, role: str, region: str | None = None,
              subject: str | None = None, ttl: timedelta = timedelta(hours=12)) -> str:
        """A bearer token of deployment ``alias`` (its key, its issuer)."""
        region = region or staff_region(self.federation(alias))
        return self.key(alias).sign(token_claims(
            self.issuer(alias), subject or f"{role}-{region}", role, region, ttl))

    def describe(self) -> list[str]:
        """What `techex up --federation` prints: per deployment its portal and APIs."""
        lines = []
        for alias in self.aliases:
            fed = self.federation(alias)
            what = "national hub" if fed.national_hub else "province"
            lines.append(f"{alias} — {fed.name} {fed.region} ({what}), "
                         f"Kafka {self.stack.deployment(alias).bootstrap}, "
                         f"topics {fed.topic_prefix}.*")
            lines.append(f"  {PORTAL:11} {self.url(alias, PORTAL)}")
            for service in self.services(alias):
                base = self.url(alias, service)
                lines.append(f"  {service:11} {base}   docs {base}/docs")
            lines.append(f"  {'issuer':11} {self.issuer(alias)}   keys {self.jwks_url(alias)}")
            profile = "" if self.profile == "dev" else f" --profile {self.profile}"
            lines.append(f"  {'token':11} bin/techex token --deployment {alias}{profile} "
                         f"--role operator --region {staff_region(fed)}")
            lines.append("")
        return lines


class DeploymentClient:
    """HTTP calls to one deployment's services with tokens of its own key.

    ``urls``: base URL per service (and ``portal``). Commands (POST/PUT/PATCH/DELETE) carry an
    ``Idempotency-Key`` (a fresh one unless given), as every command accepts.
    """

    def __init__(self, alias: str, urls: Mapping[str, str], key: DeploymentKey, issuer: str,
                 region: str, timeout: float = 30) -> None:
        self.alias, self.urls, self.key, self.issuer, self.region = (
            alias, dict(urls), key, issuer, region)
        self.http = httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> DeploymentClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    def token(self, role: str, region: str | None = None, subject: str | None = None,
              ttl: timedelta = timedelta(hours=12)) -> str:
        region = region or self.region
        return self.key.sign(token_claims(self.issuer, subject or f"{role}-{region}", role,
                                          region, ttl))

    def as_(self, role: str, region: str | None = None, subject: str | None = None
            ) -> dict[str, str]:
        """Authorization headers of a token of this deployment."""
        return {"Authorization": f"Bearer {self.token(role, region, subject)}"}

    def url(self, service: str, path: str) -> str:
        return f"{self.urls[service]}{path}"

    async def request(self, service: str, method: str, path: str,
                      who: Mapping[str, str] | None = None, *, json: Any = None,
                      params: Mapping[str, Any] | None = None,
                      idempotency_key: str | None = None) -> httpx.Response:
        headers = dict(who or {})
        if method.upper() in ("POST", "PUT", "PATCH", "DELETE"):
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        return await self.http.request(method, self.url(service, path), json=json,
                                       params=params, headers=headers)

    async def get(self, service: str, path: str, who: Mapping[str, str] | None = None, *,
                  params: Mapping[str, Any] | None = None, expect: int | None = 200) -> Any:
        r = await self.request(service, "GET", path, who, params=params)
        return _answer(r, expect)

    async def post(self, service: str, path: str, body: Any, who: Mapping[str, str], *,
                   expect: int | None = 201, idempotency_key: str | None = None) -> Any:
        r = await self.request(service, "POST", path, who, json=body,
                               idempotency_key=idempotency_key)
        return _answer(r, expect)

    async def healthy(self) -> dict[str, bool]:
        """Whether each of its processes answers (``/readyz``; the portal ``/healthz``)."""
        out = {}
        for service in self.urls:
            path = "/healthz" if service == PORTAL else "/readyz"
            try:
                out[service] = (await self.http.get(self.url(service, path))).status_code == 200
            except httpx.HTTPError:
                out[service] = False
        return out


class DeploymentExchange(ExchangeClient):
    """One deployment of the layout as an :class:`~techex.client.ExchangeClient`: the calls,
    waits and clock of `techex demo`, with tokens of the deployment's own key."""

    def __init__(self, deployment: DeploymentClient, clock_file: Path | None) -> None:
        ports = {s: int(url.rsplit(":", 1)[1]) for s, url in deployment.urls.items()}
        super().__init__(ports, CommonSettings(region=deployment.region), clock_file)
        self.deployment = deployment

    def as_(self, role: Role | str, region: str, subject: str | None = None
            ) -> dict[str, str]:
        return self.deployment.as_(str(role), region, subject)

    async def aclose(self) -> None:
        await super().aclose()
        await self.deployment.aclose()


def _answer(r: httpx.Response, expect: int | None) -> Any:
    if expect is not None and r.status_code != expect:
        raise AssertionError(f"{r.request.method} {r.request.url} → {r.status_code} "
                             f"(expected {expect}): {r.text[:2000]}")
    return r.json() if "json" in r.headers.get("content-type", "") else r.text


def wait_all_ready(layout: FederationLayout, timeout: float = 60) -> None:
    """Until every process of the layout answers (after a restart, say)."""
    deadline = time.monotonic() + timeout
    for name in layout.names():
        while not _answers_ready(layout.ready_url(name), timeout=1):
            if time.monotonic() > deadline:
                raise StackError(f"{name} does not answer at {layout.ready_url(name)}")
            time.sleep(0.3)
