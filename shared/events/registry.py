"""Events of the registry service's own aggregates.

The contracts other services read are in :mod:`shared.events.procedures`.
"""

from __future__ import annotations
