"""The federation for end-to-end tests: Tianjin, Hebei and the national hub on the test
profile (ports moved by ``TECHEX_PORT_OFFSET``), started by the same code as
`techex up --federation`.

Each run gets databases of its own (``tf<hex>_<alias>_<service>``, dropped afterwards) and a
simulation clock of its own; the clusters and MirrorMakers are the profile's and stay as they
are between runs (``TECHEX_KEEP_STACK=1`` leaves them running), so a test names what it makes
uniquely rather than count on empty topics.

A test reaches a deployment through ``federation.client(alias)`` (a
:class:`~techex.federated.DeploymentClient`: ``urls``, ``token(role, region, subject)``,
``as_(...)`` headers, ``get``/``post``) or ``federation.url(alias, service)`` and
``federation.token(alias, role, region, subject)``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from techex.federated import FederationLayout
from techex.stack.stack import run_sync


@contextmanager
def running_federation(workdir: Path, log=print) -> Iterator[FederationLayout]:
    """The layout up and its processes answering, for the block; then stopped (and the
    clusters too, unless they ran before or ``TECHEX_KEEP_STACK`` is set)."""
    layout = FederationLayout("test", clock_file=workdir / "clock-shift",
                              database_prefix=f"tf{uuid.uuid4().hex[:8]}")
    started = layout.up(log=lambda msg: log(f"[federation] {msg}"))
    try:
        layout.start()
        yield layout
    finally:
        layout.stop()
        with contextlib.suppress(Exception):  # the PostgreSQL may be gone already
            run_sync(layout.drop_databases())
        if started and not os.environ.get("TECHEX_KEEP_STACK"):
            layout.down()
