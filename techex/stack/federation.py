"""Several deployments on one machine: a single-node Kafka cluster each, and each one's
MirrorMaker 2 copying its partners' public topics into it (`techex stack up --federation`).

The deployments are those of ``deploy/federation/<alias>.json``; a partner named there that is
not part of the layout is left out of the local MirrorMaker's configuration, and a partner that
is gets its local cluster's address instead of the one in the file.

Ports: deployment *i* of the layout (0 ≤ i < 5) has the ten ports from
``FEDERATION_BASE[profile] + 10·i`` (moved by ``TECHEX_PORT_OFFSET`` like the stack's): its
broker on +0, its controller on +1, and +4…+7 kept for its services. Their last two digits
(40–89) are none of the single stack's (02, 03, 12, 13, 32, 90, 92, 93), so the layout of any
offset in steps of 100 shares no port with any profile's stack of any such offset.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from shared.federation import Federation, InvalidFederation, load_federation
from shared.kafka import ensure_topics, wait_until_ready
from shared.settings import CommonSettings
from techex.stack.kafka import EmbeddedKafka
from techex.stack.mirrormaker import (
    DEFAULT_TUNING,
    MirrorMaker,
    Tuning,
    flow_states,
    mm2_properties,
    wait_flowing,
)
from techex.stack.process import StackError
from techex.stack.stack import REPO, SERVICES, default_topics, port_offset, run_sync

FEDERATION_DIR = REPO / "deploy" / "federation"
LOCAL_DEPLOYMENTS = ("tianjin", "hebei", "national")
"""What `techex stack up --federation` runs: two provinces of 京津冀 and the national hub."""
FEDERATION_BASE = {"dev": 19040, "test": 29040}
DEPLOYMENT_SPACING = 10
MAX_DEPLOYMENTS = 5
SERVICE_PORTS = {"listing": 4, "auction": 5, "settlement": 6, "registry": 7, "records": 9}
"""Where in its block of ten each deployment's services will listen (listing +4 … registry +7,
records +9; the portal has +8)."""
assert set(SERVICE_PORTS) == set(SERVICES), "every service has its place in the block"


@dataclass(frozen=True)
class DeploymentPorts:
    kafka: int
    controller: int
    services: dict[str, int]


def deployment_ports(profile: str, slot: int, offset: int = 0) -> DeploymentPorts:
    """The ports of the ``slot``-th deployment of a profile's federation layout."""
    if not 0 <= slot < MAX_DEPLOYMENTS:
        raise StackError(f"the federation layout has room for {MAX_DEPLOYMENTS} deployments")
    base = FEDERATION_BASE[profile] + offset + DEPLOYMENT_SPACING * slot
    return DeploymentPorts(base, base + 1, {s: base + n for s, n in SERVICE_PORTS.items()})


@dataclass
class LocalDeployment:
    """One deployment of the layout: its partner file, its cluster and its MirrorMaker."""

    federation: Federation
    ports: DeploymentPorts
    kafka: EmbeddedKafka
    mirrormaker: MirrorMaker
    partners: list[str] = field(default_factory=list)
    """The aliases of its partners that are part of the layout (the flows it runs)."""

    @property
    def alias(self) -> str:
        return self.federation.alias

    @property
    def bootstrap(self) -> str:
        return self.kafka.bootstrap

    def settings(self) -> CommonSettings:
        """The common settings of this deployment's services."""
        return CommonSettings(kafka_bootstrap_servers=self.bootstrap,
                              topic_prefix=self.federation.topic_prefix,
                              region=self.federation.region)


class FederationStack:
    """A profile's federation layout: ``deployments`` (aliases of files in ``directory``)."""

    def __init__(self, profile: str = "dev", env: Mapping[str, str] | None = None,
                 deployments: Sequence[str] = LOCAL_DEPLOYMENTS,
                 directory: Path = FEDERATION_DIR, tuning: Tuning = DEFAULT_TUNING) -> None:
        self.env = dict(os.environ if env is None else env)
        self.profile = profile
        self.tuning = tuning
        base = Path(self.env.get("TECHEX_HOME", REPO / ".techex"))
        self.home = base / profile / "federation"
        if len(set(deployments)) != len(deployments) or len(deployments) > MAX_DEPLOYMENTS:
            raise StackError(f"a federation layout runs 1 to {MAX_DEPLOYMENTS} distinct "
                             f"deployments, not {', '.join(deployments)}")
        offset = port_offset(self.env)
        partitions = CommonSettings().topic_partitions
        self.deployments: dict[str, LocalDeployment] = {}
        for slot, alias in enumerate(deployments):
            federation = _load(directory / f"{alias}.json", alias)
            ports = deployment_ports(profile, slot, offset)
            home = self.home / alias
            self.deployments[alias] = LocalDeployment(
                federation, ports,
                EmbeddedKafka(home, [(ports.kafka, ports.controller)], partitions, heap="512m"),
                MirrorMaker(home / "mirrormaker", alias, home / "logs" / "mirrormaker.log"),
                [p.alias for p in federation.partners if p.alias in deployments])

    def deployment(self, alias: str) -> LocalDeployment:
        return self.deployments[alias]

    def local_federation(self, alias: str) -> Federation:
        """The deployment's partner list as its local MirrorMaker runs it: the partners of the
        layout only, each at its local cluster."""
        deployment = self.deployments[alias]
        partners = [
            p.model_copy(update={"bootstrap_servers":
                                 self.deployments[p.alias].bootstrap.split(",")})
            for p in deployment.federation.partners if p.alias in deployment.partners]
        return deployment.federation.model_copy(update={"partners": partners})

    def up(self, log=print) -> bool:
        """Start what does not run yet: the clusters, their topics, the MirrorMakers, and wait
        until every flow runs; True if anything started."""
        deployments = list(self.deployments.values())
        with ThreadPoolExecutor(len(deployments)) as pool:
            started = any(list(pool.map(lambda d: d.kafka.up(log), deployments)))
        run_sync(self._topics())
        mirrored = [d for d in deployments if d.partners]
        launched = []
        since = time.time()  # what a killed MirrorMaker left in its status topic is older
        for d in mirrored:
            if not d.mirrormaker.running():
                d.mirrormaker.write_config(mm2_properties(
                    self.local_federation(d.alias), d.bootstrap, brokers=1, tuning=self.tuning))
                d.mirrormaker.start(log)
                launched.append(d)
        for d in launched:
            d.mirrormaker.wait_started()
        run_sync(self._flowing(mirrored, {d.alias: since for d in launched}))
        return started or bool(launched)

    async def _topics(self) -> None:
        for d in self.deployments.values():
            settings = d.settings()
            await wait_until_ready(d.bootstrap, timeout=90)
            await ensure_topics(d.bootstrap, default_topics(settings), settings.topic_partitions)

    async def _flowing(self, deployments: list[LocalDeployment],
                       since: dict[str, float]) -> None:
        for d in deployments:
            await wait_flowing(d.bootstrap, d.partners, since=since.get(d.alias))

    def down(self) -> None:
        """Stop the MirrorMakers (each commits where its flows stand), then the clusters."""
        deployments = list(self.deployments.values())
        with ThreadPoolExecutor(len(deployments)) as pool:
            list(pool.map(lambda d: d.mirrormaker.stop(), deployments))
            list(pool.map(lambda d: d.kafka.down(), deployments))

    def status(self) -> dict[str, str]:
        out = {}
        for d in self.deployments.values():
            fed = d.federation
            up = d.kafka.running()
            out[f"kafka.{d.alias}"] = (f"{'up' if up else 'down'} {d.bootstrap} (embedded, "
                                       f"{fed.name} {fed.region}, topics {fed.topic_prefix}.*)")
            if not d.partners:
                out[f"mm2.{d.alias}"] = "none: no partner of it in this layout"
                continue
            if not d.mirrormaker.running():
                out[f"mm2.{d.alias}"] = f"down (from {', '.join(d.partners)})"
                continue
            flows = []
            for source in d.partners:
                states = run_sync(flow_states(d.bootstrap, source)) if up else {}
                flows.append(f"{source} {states.get('MirrorSourceConnector', 'starting')}")
            away = [p.alias for p in fed.partners if p.alias not in d.partners]
            out[f"mm2.{d.alias}"] = (f"up pid {d.mirrormaker.pid()}: from " + ", ".join(flows)
                                     + (f" ({', '.join(away)}: not in this layout)" if away
                                        else ""))
        return out

    def service_env(self, alias: str) -> dict[str, str]:
        """What points a service process of deployment ``alias`` at its cluster and ports."""
        d = self.deployments[alias]
        env = {"KAFKA_BOOTSTRAP_SERVERS": d.bootstrap,
               "TECHEX_TOPIC_PREFIX": d.federation.topic_prefix,
               "TECHEX_REGION": d.federation.region}
        env |= {f"{s.upper()}_PORT": str(port) for s, port in d.ports.services.items()}
        return env


def _load(path: Path, alias: str) -> Federation:
    try:
        federation = load_federation(path)
    except InvalidFederation as exc:
        raise StackError(str(exc)) from None
    if federation.alias != alias:
        raise StackError(f"{path} names the deployment {federation.alias!r}, not {alias!r}")
    return federation
