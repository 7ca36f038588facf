"""The settlement service's HTTP routes, one module per resource: ``deposits``, ``deals``,
``sellers`` (income splits), ``bank`` (callbacks) and ``ledger`` (ledger and subsidy reports).

Each is thin: parse, authorise, open ``runtime.transaction(once)``, call a handler, answer.
Operators act in their region subtree (checked by the handler against what it loads); buyers
and sellers see their own deposits, deals and accounts. The aliases below are the ones
``shared.roles`` does not declare.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.settlement.domain.books import Books
from shared.auth import Principal, Role, require
from shared.service import part

Viewer = Annotated[Principal, Depends(require(Role.OPERATOR, Role.REGULATOR, Role.BUYER,
                                              Role.SELLER))]
"""Who may look at deposits, deals and splits (operators and regulators, or the parties)."""
TheBooks = Annotated[Books, Depends(part(Books))]
"""The service's fee schedule, subsidy policies and rules."""


def oversees(p: Principal) -> bool:
    """An operator, regulator or admin: sees a region's records, not only its own."""
    return p.role in (Role.OPERATOR, Role.REGULATOR, Role.ADMIN)
