"""The README's walk through the main flow, run as written (bash, curl, `techex`) against the
service processes: what a newcomer copies and pastes works."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys

import pytest

from techex.stack.stack import REPO, SERVICES
from tests.support.exchange import Exchange

pytestmark = pytest.mark.timeout(300)

PORTS = {"listing": 8001, "auction": 8002, "settlement": 8003, "registry": 8004,
         "records": 8005}


def walkthrough() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## A walk through the main flow", 1)[1]
    return section.split("```sh\n", 1)[1].split("\n```", 1)[0]


def _for(exchange: Exchange, script: str) -> str:
    """The same commands pointed at this exchange's ports; waits for events a little longer
    than a person typing would need."""
    for service in SERVICES:
        script = script.replace(f"localhost:{PORTS[service]}",
                                f"127.0.0.1:{exchange.ports[service]}")
    script = script.replace("bin/techex ", f"{sys.executable} -m techex ")
    return re.sub(r"\bsleep (\d+)\b", lambda m: f"sleep {int(m.group(1)) * 3}", script)


async def test_the_readme_walkthrough_runs_as_written(exchange: Exchange, tmp_path):
    script = walkthrough()
    assert "bin/techex clock advance 7d" in script and "localhost:8002" in script
    env = {**os.environ, "TECHEX_CLOCK_SHIFT_FILE": str(exchange.clock_file),
           "RECORDS_DATABASE_URL": exchange.databases["records"]}
    done = await asyncio.to_thread(
        subprocess.run, ["bash", "-euo", "pipefail", "-c", _for(exchange, script)],
        cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=240)
    out = done.stdout
    assert done.returncode == 0, f"{done.stderr[-3000:]}\n---\n{out[-3000:]}"

    lines = out.splitlines()
    assert lines[0] == "published"
    assert lines[1:3] == ["held", "held"]
    assert '"reason":"own-high-bid"' in out                  # nobody outbids themselves
    assert "event: bid" in out and "event: state" in out     # the live view
    assert "completed" in lines and "True" in lines          # settled; the ledger balances
    assert re.search(r"^\d{16}$", out, re.M)                  # the registration number
    assert "traded" in lines
    # the record: the dossier, the certificate checked online, the report, the chain
    assert "concluded" in lines[lines.index("traded"):]
    assert '"status":"valid"' in out and '"signature_valid":true' in out
    assert lines[-3:-1] == ["True", "175000000"]
    assert lines[-1].startswith("The chain holds:")
    assert (tmp_path / "dossier.pdf").read_bytes().startswith(b"%PDF-")
    stats = json.loads(next(line for line in lines if line.startswith('{"region":"230000"')))
    assert (stats["contracts"], stats["tech_amount_fen"]) == (1, 175_000_000)
