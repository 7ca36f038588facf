"""The `techex` command: tokens, schemas, stack status (run as a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from shared.auth import Role, TokenVerifier
from shared.settings import CommonSettings


def techex(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "techex", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_token_mints_a_verifiable_token_for_the_role_and_region():
    out = techex("token", "--role", "operator", "--region", "230100")
    assert out.returncode == 0, out.stderr
    principal = TokenVerifier.from_settings(CommonSettings()).verify(out.stdout.strip())
    assert principal.role is Role.OPERATOR
    assert principal.region.code == "230100"


def test_token_refuses_a_bad_region():
    out = techex("token", "--role", "seller", "--region", "99")
    assert out.returncode != 0


def test_events_schema_writes_a_schema_per_type_and_asyncapi(tmp_path):
    out = techex("events", "schema", str(tmp_path))
    assert out.returncode == 0, out.stderr
    written = {p.name for p in tmp_path.iterdir()}
    assert "cn.techex.listing.created.v1.schema.json" in written
    asyncapi = json.loads((tmp_path / "asyncapi.json").read_text())
    assert asyncapi["asyncapi"].startswith("3.")


def test_stack_status_names_each_part(stack):
    out = techex("stack", "status", "--profile", "test")
    assert out.returncode == 0, out.stderr
    assert "kafka" in out.stdout and "db.registry" in out.stdout


def test_clock_advance_moves_the_profiles_shift_file(tmp_path, monkeypatch, capsys):
    from shared.clock import read_shift
    from techex import cli

    monkeypatch.setattr(cli, "clock_file", lambda stack: tmp_path / "clock-shift")
    for by in ("7d", "90m"):
        with pytest.raises(SystemExit) as exited:
            cli.main(["clock", "advance", by])
        assert exited.value.code == 0
    assert read_shift(tmp_path / "clock-shift") == timedelta(days=7, minutes=90)
    assert "shifted by 7 days, 1:30:00" in capsys.readouterr().out


def test_clock_refuses_what_is_not_a_duration(capsys):
    from techex import cli

    with pytest.raises(SystemExit):
        cli.main(["clock", "advance", "soon"])
    assert "not a duration" in capsys.readouterr().err


def test_test_passes_pytest_options_given_before_the_paths(monkeypatch):
    from techex import cli

    seen = []
    monkeypatch.setattr(cli, "cmd_test", lambda args: seen.append(args.pytest_args) or 0)
    with pytest.raises(SystemExit) as exited:
        cli.main(["test", "-q", "-x", "tests/e2e", "-k", "auction"])
    assert exited.value.code == 0
    assert seen == [["-q", "-x", "tests/e2e", "-k", "auction"]]


def test_other_commands_still_refuse_unknown_options(capsys):
    from techex import cli

    with pytest.raises(SystemExit):
        cli.main(["clock", "show", "--bogus"])
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_clock_advance_to_an_instant_stops_the_given_time_before_it(tmp_path, monkeypatch,
                                                                    capsys):
    from datetime import UTC, datetime

    from shared.clock import read_shift
    from techex import cli

    monkeypatch.setenv("TECHEX_CLOCK_SHIFT_FILE", str(tmp_path / "shift"))
    target = datetime.now(UTC) + timedelta(days=8)
    with pytest.raises(SystemExit) as exited:
        cli.main(["clock", "advance", "--to", target.isoformat(), "--before", "2m"])
    assert exited.value.code == 0
    landed = datetime.now(UTC) + read_shift(tmp_path / "shift")
    assert abs(landed - (target - timedelta(minutes=2))) < timedelta(seconds=5)

    with pytest.raises(SystemExit) as exited:
        cli.main(["clock", "advance", "--to", "2020-01-01T00:00:00Z"])
    assert exited.value.code == 2  # the clock never goes back
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli.main(["clock", "now", "--plus", "1d2h"])
    printed = datetime.fromisoformat(capsys.readouterr().out.strip().replace("Z", "+00:00"))
    assert abs(printed - landed - timedelta(days=1, hours=2)) < timedelta(seconds=5)


def test_serve_refuses_the_development_secrets_outside_the_embedded_default():
    import os

    env = {k: v for k, v in os.environ.items()
           if k not in ("TECHEX_DEVELOPMENT", "TECHEX_CLOCK_SHIFT_FILE", "TECHEX_JWT_SECRET",
                        "SETTLEMENT_BANK_CALLBACK_SECRET")}
    out = techex("serve", "settlement", env=env)
    assert out.returncode == 2
    assert "refusing to start" in out.stderr
    assert "TECHEX_JWT_SECRET, SETTLEMENT_BANK_CALLBACK_SECRET are the development default" \
        in out.stderr
    out = techex("serve", "registry", env={**env, "TECHEX_JWT_SECRET": "x" * 31})
    assert out.returncode == 2
    assert "TECHEX_JWT_SECRET is the development default, empty or shorter" in out.stderr
