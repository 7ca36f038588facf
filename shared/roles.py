"""The role aliases every service's routes use: ``async def f(operator: Operator)``.

Each is the authenticated principal, checked to hold the role (an admin holds every role);
region checks stay with the route (:func:`shared.auth.authorize_region` or
:func:`shared.auth.require_region`), since only the route knows which region it touches.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from shared.auth import Principal, Role, require

__all__ = ["Anyone", "Buyer", "Operator", "Overseer", "Registrar", "Regulator", "Seller"]

Seller = Annotated[Principal, Depends(require(Role.SELLER))]
Buyer = Annotated[Principal, Depends(require(Role.BUYER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Registrar = Annotated[Principal, Depends(require(Role.REGISTRAR))]
Regulator = Annotated[Principal, Depends(require(Role.REGULATOR))]
Overseer = Annotated[Principal, Depends(require(Role.OPERATOR, Role.REGULATOR))]
"""The region's operator or the regulator: who reads what a region's procedures hold."""
Anyone = Annotated[Principal, Depends(require(*Role))]
"""Any signed-in principal."""
