"""Events of the records service: the archive's daily digest and the certificates it issues.

The digest is the hash chain's head at the end of a day (Asia/Shanghai): whoever keeps the
events of the ``records`` topic — the records service itself, which archives them too, an
auditor, a partner — holds a value a later rewrite of the archive cannot match.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field

from shared.events.base import Event, register

__all__ = ["CertificateCancelled", "CertificateIssued", "ChainDigested"]

_REGION = Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 administrative code")
_AT = "2026-04-10T16:00:00Z"
_NUMBER = Field(pattern=r"^[A-Z]{2,5}-[0-9]{6}-[0-9]{4}-[0-9]{6}$", max_length=40,
                description="the certificate's number")


def _examples(**fields: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [fields]})


@register
class ChainDigested(Event):
    """The archive's hash chain at the end of ``day``: its last row and that row's hash."""

    aggregate: ClassVar[str] = "records"
    name: ClassVar[str] = "chain_digested"
    time_field: ClassVar[str] = "digested_at"
    subject_field: ClassVar[str] = "day"
    model_config = _examples(day="2026-04-10", seq=18234, head="9f" * 32, events=812,
                             region="120000", digested_at=_AT)

    day: dt.date = Field(description="the Asia/Shanghai calendar day the digest closes")
    seq: int = Field(ge=0, description="the chain's last row archived before the day ended")
    head: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of that row, hex")
    events: int = Field(ge=0, description="rows archived during the day")
    region: str = _REGION
    digested_at: AwareDatetime


@register
class CertificateIssued(Event):
    """A transaction certificate (交易鉴证书) or a registration certificate was issued."""

    aggregate: ClassVar[str] = "certificate"
    name: ClassVar[str] = "issued"
    time_field: ClassVar[str] = "issued_at"
    subject_field: ClassVar[str] = "number"
    model_config = _examples(number="JYJZ-120000-2026-000001", kind="transaction",
                             procedure_id="6a1f3c9e-1b7d-4d2e-8f00-2c3b4d5e6f70",
                             region="120101", pdf_sha256="ab" * 32, issued_at=_AT)

    number: str = _NUMBER
    kind: Literal["transaction", "registration"]
    procedure_id: UUID | None = None
    region: str = _REGION
    pdf_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    issued_at: AwareDatetime


@register
class CertificateCancelled(Event):
    """A certificate no longer stands: its contract was cancelled or its deal defaulted."""

    aggregate: ClassVar[str] = "certificate"
    name: ClassVar[str] = "cancelled"
    time_field: ClassVar[str] = "cancelled_at"
    subject_field: ClassVar[str] = "number"
    model_config = _examples(number="JYJZ-120000-2026-000001", reason="合同已撤销",
                             region="120101", cancelled_at=_AT)

    number: str = _NUMBER
    reason: str = Field(min_length=1, max_length=500)
    region: str = _REGION
    cancelled_at: AwareDatetime
