from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pythonjsonlogger.json import JsonFormatter

from shared.logs import configure_logging
from shared.tracing import use_traceparent

INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    for handler in root.handlers[:]:
        if isinstance(handler.formatter, JsonFormatter):
            root.removeHandler(handler)
    root.setLevel(level)


def _records(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_records_are_json_lines_with_the_standard_members(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("listing")
    logging.getLogger("techex.test").warning("挂牌 %s 已发布", 42, extra={"listing_id": 42})

    (record,) = _records(capsys)
    assert record["message"] == "挂牌 42 已发布"
    assert record["level"] == "WARNING"
    assert record["logger"] == "techex.test"
    assert record["service"] == "listing"
    assert record["listing_id"] == 42
    assert "trace_id" not in record
    timestamp = datetime.fromisoformat(str(record["timestamp"]))
    assert timestamp.utcoffset() == UTC.utcoffset(None)


def test_trace_id_comes_from_the_current_trace(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("auction")
    with use_traceparent(INCOMING):
        logging.getLogger("techex.test").info("bid accepted")

    (record,) = _records(capsys)
    assert record["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_level_filters_records(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("registry", level="warning")
    logging.getLogger("techex.test").info("hidden")
    logging.getLogger("techex.test").error("shown")

    assert [record["message"] for record in _records(capsys)] == ["shown"]


def test_configuring_twice_keeps_one_handler(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("settlement")
    configure_logging("settlement-2", level="DEBUG")
    logging.getLogger("techex.test").debug("once")

    records = _records(capsys)
    assert len(records) == 1
    assert records[0]["service"] == "settlement-2"


def test_unknown_level_is_rejected() -> None:
    with pytest.raises(ValueError, match="Unknown level"):
        configure_logging("listing", level="LOUD")
