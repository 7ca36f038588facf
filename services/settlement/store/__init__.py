"""All SQL of the settlement service, one module per aggregate or table group: ``deals``
(deals, schedules, receipts, subsidy assessments), ``deposits`` (registrations and deposits),
``ledger`` (entries and lines), ``sellers`` (income splits) and ``bank`` (callbacks applied);
the known listings are :mod:`shared.known_listings`'s.

Writes take the connection of the open transaction (``tx.conn``); reads take a pool or a
connection (:data:`Db`)."""

from __future__ import annotations

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection
