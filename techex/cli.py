"""`techex`: the one entry point — the embedded stack, the services, tokens, schemas, tests."""

from __future__ import annotations

import argparse
import importlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from techex.stack.process import StackError
from techex.stack.stack import REPO, SERVICES, Stack, port_offset, run_sync
from techex.supervisor import Supervisor

PORTAL = "portal"
"""The public portal's process: supervised with the services by `techex up`, not one of them
(it has no database and reads only their public API)."""


def _service_settings(service: str):
    config = importlib.import_module(f"services.{service}.config")
    return getattr(config, f"{service.capitalize()}Settings")()


def cmd_stack(args: argparse.Namespace) -> int:
    if args.federation:
        from techex.stack.federation import FederationStack

        if args.brokers != 1:
            print("techex stack: a federation layout runs one broker per deployment",
                  file=sys.stderr)
            return 2
        stack = FederationStack(args.profile)
    else:
        stack = Stack(args.profile, brokers=args.brokers if args.action == "up" else None)
    if args.action == "up":
        started = stack.up()
        print("started" if started else "already running")
    elif args.action == "down":
        stack.down()
        print("stopped")
    for name, state in stack.status().items():
        print(f"  {name:16} {state}")
    return 0


def cmd_federation(args: argparse.Namespace) -> int:
    """Print the MirrorMaker 2 configuration of a deployment from its partner file."""
    from shared.federation import InvalidFederation, load_federation
    from techex.stack.mirrormaker import mm2_properties

    try:
        federation = load_federation(args.file)
    except InvalidFederation as exc:
        print(f"techex federation: {exc}", file=sys.stderr)
        return 2
    print(mm2_properties(federation, args.bootstrap, brokers=args.brokers,
                         replication=args.replication), end="")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.service == PORTAL:
        return _serve_portal(args.port)
    from shared.settings import CommonSettings, InsecureSecrets, refuse_development_secrets

    if args.port:  # the service's own settings see the port it serves on
        os.environ[f"{args.service.upper()}_PORT"] = str(args.port)
    settings = _service_settings(args.service)
    try:  # said here in one line; the app factory would refuse too, in a traceback
        refuse_development_secrets(CommonSettings(), settings)
    except InsecureSecrets as exc:
        print(f"techex serve {args.service}: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        f"services.{args.service}.api:create_app", factory=True,
        host=settings.host, port=args.port or settings.port,
        log_config=None, access_log=False, lifespan="on",
    )
    return 0


def _serve_portal(port: int | None) -> int:
    import uvicorn

    from portal.config import PortalSettings

    if port:
        os.environ["PORTAL_PORT"] = str(port)
    settings = PortalSettings()
    uvicorn.run("portal.app:create_app", factory=True, host=settings.host, port=settings.port,
                log_config=None, access_log=False, lifespan="on")
    return 0


def portal_port(env: dict[str, str] | None = None) -> int:
    """``PORTAL_PORT``, else the embedded default's 8000 moved by ``TECHEX_PORT_OFFSET``."""
    from portal.config import DEFAULT_PORT

    env = os.environ if env is None else env
    override = env.get("PORTAL_PORT")
    return int(override) if override else DEFAULT_PORT + port_offset(env)


def portal_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The portal's port and the base URLs of the public API it reads: the ports the services
    of ``env`` listen on (a URL ``env`` names already is kept)."""
    env = dict(os.environ if env is None else env)
    out = {"PORTAL_PORT": str(portal_port(env))}
    for service in ("listing", "auction", "registry"):
        key = f"PORTAL_{service.upper()}_URL"
        out[key] = env.get(key) or f"http://127.0.0.1:{service_port(service, env)}"
    return out


def _answers_ready(url: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"{url} exited with code {proc.returncode} while starting")
        if _answers_ready(url):
            return
        time.sleep(0.3)
    raise StackError(f"{url} was not ready after {timeout:.0f}s")


def service_port(service: str, env: dict[str, str] | None = None) -> int:
    override = (env or os.environ).get(f"{service.upper()}_PORT")
    return int(override) if override else _service_settings(service).port


def _ready_url(service: str, env: dict[str, str]) -> str:
    if service == PORTAL:
        return f"http://127.0.0.1:{portal_port(env)}/healthz"
    return f"http://127.0.0.1:{service_port(service, env)}/readyz"


def services_env(stack: Stack, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the service processes over ``stack``."""
    return {**os.environ, **stack.service_env(), **(extra_env or {})}


def spawn_service(service: str, env: dict[str, str], log_dir: Path) -> subprocess.Popen:
    """One service process (or the portal's), its output appended to
    ``<log_dir>/<service>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{service}.log", "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "techex.cli", "serve", service],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )


def start_services(
    stack: Stack, log_dir: Path, extra_env: dict[str, str] | None = None
) -> dict[str, subprocess.Popen]:
    """Start the four service processes against ``stack``; returns them once all are ready."""
    env = services_env(stack, extra_env)
    procs: dict[str, subprocess.Popen] = {}
    try:
        for service in SERVICES:
            procs[service] = spawn_service(service, env, log_dir)
        for service, proc in procs.items():
            _wait_ready(_ready_url(service, env), proc)
    except BaseException:
        stop_services(procs)
        raise
    return procs


def start_portal(stack: Stack, log_dir: Path, extra_env: dict[str, str] | None = None
                 ) -> subprocess.Popen:
    """The portal's process over the services ``start_services`` started with the same
    ``extra_env`` (which names the portal's port and API URLs, see :func:`portal_env`);
    returns it once it answers ``/healthz``."""
    env = services_env(stack, extra_env)
    proc = spawn_service(PORTAL, env, log_dir)
    try:
        _wait_ready(_ready_url(PORTAL, env), proc, timeout=60)
    except BaseException:
        stop_services({PORTAL: proc})
        raise
    return proc


def supervisor_for(
    stack: Stack, log_dir: Path, procs: dict[str, subprocess.Popen],
    extra_env: dict[str, str] | None = None,
    say: Callable[[str], None] = lambda line: print(line, flush=True),
) -> Supervisor:
    """The supervisor `techex up` runs over the processes ``start_services`` started (with
    the same ``extra_env``): a service that exits is started again the same way."""
    env = services_env(stack, extra_env)
    return Supervisor(
        procs, spawn=lambda service: spawn_service(service, env, log_dir), stop=stop_services,
        log_file=lambda service: log_dir / f"{service}.log",
        ready=lambda service: _answers_ready(_ready_url(service, env), timeout=0.5),
        say=say)


def stop_services(procs: dict[str, subprocess.Popen], timeout: float = 20) -> None:
    """SIGTERM each (uvicorn drains and shuts down), SIGKILL what still runs after ``timeout``."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_prometheus(stack: Stack):
    """Our Prometheus on the profile's port scraping the four services, when it is installed
    (or can be); None otherwise: monitoring is optional for `techex up`."""
    from techex.stack.prometheus import PORTS, PrometheusServer, ensure_prometheus

    try:
        ensure_prometheus()
        targets = {s: f"127.0.0.1:{service_port(s)}" for s in SERVICES}
        prometheus = PrometheusServer(stack.home / "prometheus", PORTS[stack.profile], targets,
                                      scrape_interval="5s")
        prometheus.start()
    except StackError as exc:
        print(f"Prometheus not started: {exc}", flush=True)
        return None
    return prometheus


def _stop_on_signals() -> threading.Event:
    """Set once SIGINT or SIGTERM arrives: `up` stops its processes then."""
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    return stopping


def cmd_up(args: argparse.Namespace) -> int:
    from shared.auth import Role, mint_token
    from shared.settings import CommonSettings

    if args.federation:
        return _up_federation(args)
    if args.profile != "dev":
        print("techex up: --profile goes with --federation", file=sys.stderr)
        return 2
    stack = Stack("dev")
    print("Bringing up the embedded stack (Kafka, PostgreSQL)…", flush=True)
    started = stack.up()
    _ensure_pdf_font()
    procs: dict[str, subprocess.Popen] = {}
    prometheus = None
    stopping = _stop_on_signals()
    try:
        print("Starting the services…", flush=True)
        log_dir = stack.home / "logs"
        extra_env = {"TECHEX_CLOCK_SHIFT_FILE": str(clock_file(stack))}
        extra_env.update(portal_env({**os.environ, **extra_env}))
        procs = start_services(stack, log_dir, extra_env)
        procs[PORTAL] = start_portal(stack, log_dir, extra_env)
        supervisor = supervisor_for(stack, log_dir, procs, extra_env)
        prometheus = start_prometheus(stack)
        common = CommonSettings()
        token = mint_token(common, "operator-demo", Role.OPERATOR, common.region)
        print("\ntechex is up.\n")
        for name, state in stack.status().items():
            print(f"  {name:16} {state}")
        print()
        for service in SERVICES:
            base = f"http://127.0.0.1:{service_port(service)}"
            print(f"  {service:11} {base}   docs {base}/docs   metrics {base}/metrics")
        print(f"  {PORTAL:11} http://127.0.0.1:{portal_port(extra_env)}   "
              "the public portal (公共服务门户), open it in a browser")
        if prometheus:
            print(f"  {'prometheus':11} {prometheus.url}   alerts {prometheus.url}/alerts")
        print(f"\n  logs        {log_dir}")
        print(f"\nA sample operator token for region {common.region} (12 h):\n  {token}")
        print("\nMint others with: bin/techex token --role seller --region 230102")
        print("The services run on a simulation clock: `bin/techex clock advance 7d` moves "
              "them all forward.")
        print("A service that exits is started again; one that keeps crashing stops the "
              "exchange.")
        print("Ctrl-C stops everything.", flush=True)
        supervisor.run(stopping.is_set)
        return 0
    finally:
        print("Stopping…", flush=True)
        if prometheus:
            prometheus.stop()
        stop_services(procs)
        if started and not args.keep_stack:
            stack.down()
        print("Stopped.", flush=True)


def _up_federation(args: argparse.Namespace) -> int:
    """`techex up --federation`: Tianjin, Hebei and the hub, their services and portals."""
    from techex.federated import FederationLayout

    layout = FederationLayout(args.profile)
    print("Bringing up the federation layout (three Kafka clusters, their MirrorMakers, "
          "PostgreSQL)…", flush=True)
    started = layout.up(log=lambda line: print(line, flush=True))
    stopping = _stop_on_signals()
    try:
        print("Starting the services of each deployment…", flush=True)
        layout.start()
        supervisor = layout.supervisor(say=lambda line: print(line, flush=True))
        print("\nThe federation is up.\n")
        for name, state in layout.stack.status().items():
            print(f"  {name:16} {state}")
        print()
        for line in layout.describe():
            print(f"  {line}" if line else "")
        print(f"  logs        {layout.home}/<alias>/logs")
        print(f"  partners    {layout.home}/<alias>.json   keys {layout.home}/keys")
        profile = "" if args.profile == "dev" else f" --profile {args.profile}"
        print(f"\nOne simulation clock for all: `bin/techex clock{profile} advance 7d`.")
        print("Ctrl-C stops everything.", flush=True)
        supervisor.run(stopping.is_set)
        return 0
    finally:
        print("Stopping…", flush=True)
        layout.stop()
        if started and not args.keep_stack:
            layout.down()
        print("Stopped.", flush=True)


def clock_file(stack: Stack) -> Path:
    """The simulation clock's shift file of a profile's services (see shared.clock): the one
    ``TECHEX_CLOCK_SHIFT_FILE`` names, else the profile's own."""
    named = os.environ.get("TECHEX_CLOCK_SHIFT_FILE")
    return Path(named) if named else stack.home / "clock-shift"


_DURATION = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``7d``, ``1d2h30m`` (or a plain number of seconds)."""
    try:
        return timedelta(seconds=float(text))
    except ValueError:
        pass
    parts = _DURATION.findall(text.lower())
    if not parts or "".join(n + u for n, u in parts) != text.lower():
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 15m, 2h, 7d)")
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def instant(text: str) -> datetime:
    """An ISO 8601 instant with its offset (``2026-12-01T02:00:00Z``)."""
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"not an instant with an offset: {text!r}")
    return at


def cmd_clock(args: argparse.Namespace) -> int:
    """Show or move the simulation clock the services of a profile run on."""
    from shared.clock import advance_shift, read_shift

    path = clock_file(Stack(args.profile))
    now = datetime.now(UTC) + read_shift(path)
    if args.clock_command == "now":
        print((now + args.plus).isoformat(timespec="seconds").replace("+00:00", "Z"))
        return 0
    if args.clock_command == "advance":
        if (args.by is None) == (args.to is None):
            print("techex clock advance: give a duration or --to INSTANT", file=sys.stderr)
            return 2
        by = args.by if args.by is not None else args.to - args.before - now
        if by < timedelta(0):
            print(f"techex clock advance: the clock is already past that ({now.isoformat()})",
                  file=sys.stderr)
            return 2
        advance_shift(path, by)
    offset = read_shift(path)
    now = datetime.now(UTC) + offset
    print(f"shifted by {offset}; the services' now is {now.isoformat(timespec='seconds')}")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from shared.auth import Role, mint_token
    from shared.settings import CommonSettings

    subject = args.subject or f"{args.role}-{args.region}"
    if args.deployment:
        from techex.federated import FederationLayout

        layout = FederationLayout(args.profile)
        if args.deployment not in layout.aliases:
            print(f"techex token: no deployment {args.deployment!r} in the federation layout "
                  f"({', '.join(layout.aliases)})", file=sys.stderr)
            return 2
        print(layout.token(args.deployment, args.role, args.region, subject,
                           ttl=timedelta(hours=args.ttl_hours)))
        return 0
    print(mint_token(CommonSettings(), subject, Role(args.role), args.region,
                     ttl=timedelta(hours=args.ttl_hours)))
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    from shared.events.schema import write_schemas

    for path in write_schemas(Path(args.directory)):
        print(path)
    return 0


def cmd_records(args: argparse.Namespace) -> int:
    """`techex records verify`: recompute the archive's hash chain; exit 1 at a bad row."""
    import asyncpg

    from services.records.handlers import verify_chain

    url = args.database_url or os.environ.get("RECORDS_DATABASE_URL") \
        or Stack(args.profile).database_url("records")

    async def check():
        conn = await asyncpg.connect(url)
        try:
            return await verify_chain(conn, args.since)
        finally:
            await conn.close()

    checked = run_sync(check())
    first = checked.last_seq - checked.rows + 1
    if checked.broken is None:
        print(f"The chain holds: {checked.rows} rows checked ({first}–{checked.last_seq}), "
              f"head {checked.head.hex()}.")
        return 0
    bad = checked.broken
    event = f" (event {bad.event_id})" if bad.event_id else ""
    print(f"The chain is broken at row {bad.seq}{event}: {bad.reason}.\n"
          f"{checked.rows} rows before it hold ({first}–{checked.last_seq}).")
    return 1


def cmd_seed(args: argparse.Namespace) -> int:
    """Load the realistic sample set into the listing service's database."""
    from techex.seed.listing import seed_listing

    stack = Stack("dev")
    started = stack.up()
    try:
        counts = run_sync(seed_listing(stack.database_url("listing")))
    finally:
        if started and not args.keep_stack:
            stack.down()
    for kind, n in sorted(counts.items()):
        print(f"  {kind:32} {n}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Seed the running exchange and simulate a trading day on it (see techex.demo)."""
    if args.federation:
        return _demo_federation(args)
    from shared.settings import CommonSettings
    from techex.client import ExchangeClient
    from techex.demo import Demo
    from techex.seed.listing import seed_listing
    from techex.stack.prometheus import PORTS

    stack = Stack("dev")
    ports = {s: service_port(s) for s in SERVICES}
    for service, port in ports.items():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=3):
                pass
        except OSError:
            print(f"techex demo: the {service} service does not answer on port {port}; "
                  "start the exchange with `bin/techex up` first.", file=sys.stderr)
            return 2

    async def day() -> None:
        api = ExchangeClient(ports, CommonSettings(), clock_file(stack))
        try:
            print("Loading the listing seed (five provinces)…", flush=True)
            counts = await seed_listing(stack.database_url("listing"), now=api.now())
            print("  " + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())))
            demo = Demo(api, say=lambda line: print(line, flush=True))
            await demo.run(auctions=args.auctions)
            await demo.summary()
        finally:
            await api.aclose()

    run_sync(day())
    print(f"\nWatch it: Prometheus http://127.0.0.1:{PORTS['dev']}/graph "
          "(Grafana: deploy/grafana, see deploy/README.md)")
    return 0


def _demo_federation(args: argparse.Namespace) -> int:
    """`techex demo --federation`: a trade across the border of the running federation layout
    (see techex.crossborder)."""
    import uuid

    from techex.crossborder import CrossBorder
    from techex.federated import FederationLayout

    layout = FederationLayout(args.profile)
    for name in layout.names():
        if not _answers_ready(layout.ready_url(name), timeout=3):
            print(f"techex demo: {name} does not answer; start the federation with "
                  f"`bin/techex up --federation` first.", file=sys.stderr)
            return 2

    async def trade() -> None:
        tianjin, hebei, hub = (layout.exchange(a) for a in ("tianjin", "hebei", "national"))
        try:
            border = CrossBorder(tianjin, hebei, say=lambda line: print(line, flush=True))
            done = await border.run(f"DEMO-{uuid.uuid4().hex[:6].upper()}")
            await border.counted(done, hub)
        finally:
            for api in (tianjin, hebei, hub):
                await api.aclose()

    run_sync(trade())
    print("\nSee it: " + ", ".join(f"{a} {layout.url(a, PORTAL)}" for a in layout.aliases))
    return 0


def _ensure_pdf_font() -> None:
    """The Chinese font of the records service's PDFs (Debian's package, installed when it is
    missing and we may); without it the PDFs answer 503 and everything else runs."""
    from services.records.documents import FontMissing, ensure_font

    try:
        ensure_font(log=lambda msg: print(msg, flush=True))
    except FontMissing as exc:
        print(f"techex: {exc}", file=sys.stderr)


def cmd_test(args: argparse.Namespace) -> int:
    """The lint (ruff, as configured in pyproject.toml), then the tests."""
    from techex.stack.chromium import ensure_chromium
    from techex.stack.prometheus import ensure_prometheus

    lint = subprocess.call([sys.executable, "-m", "ruff", "check", "."], cwd=REPO)
    if lint != 0:
        print("techex: ruff found problems (above); fix them, or `ruff check --fix .`",
              file=sys.stderr)
        return lint
    try:  # the deploy checks and the monitoring tests run the real Prometheus
        ensure_prometheus()
    except StackError as exc:
        print(f"techex: {exc}", file=sys.stderr)
    try:  # the portal's browser test drives Debian's Chromium
        ensure_chromium()
    except StackError as exc:
        print(f"techex: {exc}", file=sys.stderr)
    _ensure_pdf_font()
    return subprocess.call([sys.executable, "-m", "pytest", *args.pytest_args], cwd=REPO)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="techex", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("stack", help="the embedded Kafka and PostgreSQL (or the federation)")
    s.add_argument("action", choices=["up", "down", "status"])
    s.add_argument("--profile", choices=["dev", "test"], default="dev")
    s.add_argument("--brokers", type=int, choices=[1, 3], default=1,
                   help="up: Kafka nodes, 3 for a replicated cluster (default 1)")
    s.add_argument("--federation", action="store_true",
                   help="the federation layout instead: Tianjin, Hebei and the national hub, "
                        "a Kafka cluster and a MirrorMaker 2 each")
    s.set_defaults(func=cmd_stack)

    s = sub.add_parser("federation", help="the links between deployments (MirrorMaker 2)")
    fed = s.add_subparsers(dest="federation_command", required=True)
    f = fed.add_parser("mm2-config", help="print a deployment's mm2.properties")
    f.add_argument("file", help="its partner file, e.g. deploy/federation/hebei.json")
    f.add_argument("--bootstrap", required=True, help="its own Kafka's bootstrap servers")
    f.add_argument("--brokers", type=int, default=1,
                   help="brokers of its Kafka (replication 1 below three, else 3)")
    f.add_argument("--replication", type=int, help="replication factor, instead of --brokers")
    s.set_defaults(func=cmd_federation)

    s = sub.add_parser("up", help="the stack, the four services and the public portal; "
                                  "Ctrl-C stops them")
    s.add_argument("--keep-stack", action="store_true", help="leave Kafka and PostgreSQL running")
    s.add_argument("--federation", action="store_true",
                   help="Tianjin, Hebei and the national hub instead, each on its own Kafka "
                        "cluster and ports with its services and portal (see README, Federation)")
    s.add_argument("--profile", choices=["dev", "test"], default="dev",
                   help="with --federation: the profile's ports and data")
    s.set_defaults(func=cmd_up)

    s = sub.add_parser("serve", help="run one service process (or the public portal's)")
    s.add_argument("service", choices=[*SERVICES, PORTAL])
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("clock", help="show or move the services' simulation clock")
    s.add_argument("--profile", default="dev", choices=["dev", "test"])
    clock = s.add_subparsers(dest="clock_command", required=True)
    clock.add_parser("show", help="the current shift and the services' now")
    c = clock.add_parser("now", help="the services' now as an ISO instant (for scripts)")
    c.add_argument("--plus", type=duration, default=timedelta(0), help="e.g. 7d, 1d2h")
    c = clock.add_parser("advance", help="move the clock forward: by 7d, 36h, 10m … or --to")
    c.add_argument("by", type=duration, nargs="?")
    c.add_argument("--to", type=instant, help="an ISO instant to move the clock to")
    c.add_argument("--before", type=duration, default=timedelta(0),
                   help="with --to: stop this long before it, e.g. 2m")
    s.set_defaults(func=cmd_clock)

    s = sub.add_parser("token", help="mint a local bearer token for the embedded default")
    s.add_argument("--role", required=True,
                   choices=["seller", "buyer", "operator", "registrar", "regulator", "admin"])
    s.add_argument("--region", required=True, help="GB/T 2260 code, e.g. 230100")
    s.add_argument("--subject")
    s.add_argument("--ttl-hours", type=float, default=12)
    s.add_argument("--deployment", help="a deployment of the federation layout (tianjin, hebei, "
                                        "national): signed with its key, for its issuer")
    s.add_argument("--profile", choices=["dev", "test"], default="dev",
                   help="with --deployment: the profile's federation layout")
    s.set_defaults(func=cmd_token)

    s = sub.add_parser("events", help="the event catalog")
    events = s.add_subparsers(dest="events_command", required=True)
    e = events.add_parser("schema", help="write a JSON Schema per event type and an AsyncAPI doc")
    e.add_argument("directory")
    e.set_defaults(func=cmd_events)

    s = sub.add_parser("records", help="the archive of every event")
    records = s.add_subparsers(dest="records_command", required=True)
    r = records.add_parser("verify", help="recompute the archive's hash chain and name the "
                                          "first bad row (exit 1)")
    r.add_argument("--from", dest="since", type=date.fromisoformat, metavar="DATE",
                   help="from the first row archived on DATE (Asia/Shanghai, YYYY-MM-DD)")
    r.add_argument("--database-url", help="the records database (default: "
                                          "RECORDS_DATABASE_URL, else the embedded stack's)")
    r.add_argument("--profile", choices=["dev", "test"], default="dev")
    r.set_defaults(func=cmd_records)

    s = sub.add_parser("seed", help="load realistic sample achievements, demands and interests")
    s.add_argument("--keep-stack", action="store_true")
    s.set_defaults(func=cmd_seed)

    s = sub.add_parser("demo", help="seed the running exchange and simulate a trading day")
    s.add_argument("--auctions", type=int, default=4, choices=range(1, 6), metavar="1-5",
                   help="auctions to run, one per province (default 4)")
    s.add_argument("--federation", action="store_true",
                   help="instead: a Hebei enterprise buys a Tianjin achievement across the "
                        "border, on the layout of `techex up --federation`")
    s.add_argument("--profile", choices=["dev", "test"], default="dev",
                   help="with --federation: the profile's layout")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("test", help="run the lint and the test suite (starts its own stack)")
    s.add_argument("pytest_args", nargs=argparse.REMAINDER)
    s.set_defaults(func=cmd_test)
    return p


def main(argv: list[str] | None = None) -> None:
    p = parser()
    args, unknown = p.parse_known_args(argv)
    if unknown and args.command != "test":
        p.error(f"unrecognized arguments: {' '.join(unknown)}")
    if unknown:  # pytest's own options before the first path: `techex test -q -x tests/e2e`
        args.pytest_args = unknown + args.pytest_args
    try:
        sys.exit(args.func(args))
    except StackError as exc:
        print(f"techex: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
