"""JSON-lines logging on stderr, one object per record.

Every record carries ``timestamp`` (UTC, ISO-8601), ``level``, ``logger``, ``message`` and
``service``, plus ``trace_id`` while a trace is current (see :mod:`shared.tracing`). Values
passed with ``extra=`` become members too.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from shared.tracing import current_traceparent, trace_id_of

__all__ = ["configure_logging"]


class _TraceFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        traceparent = current_traceparent()
        if traceparent is not None and not hasattr(record, "trace_id"):
            record.trace_id = trace_id_of(traceparent)
        return True


class _JsonHandler(logging.StreamHandler[TextIO]):
    """Marks the handler this module installed, so a second call can replace it."""


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send all logging through one JSON handler on the root logger.

    Calling it again replaces the handler it installed earlier instead of adding another.
    """
    formatter = JsonFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger"},
        static_fields={"service": service},
        timestamp=True,
        json_ensure_ascii=False,
    )
    handler = _JsonHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(_TraceFilter())

    root = logging.getLogger()
    root.setLevel(level.upper())  # first: an unknown level must leave logging as it was
    for existing in [h for h in root.handlers if isinstance(h, _JsonHandler)]:
        root.removeHandler(existing)
        existing.close()
    root.addHandler(handler)
