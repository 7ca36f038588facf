"""SQL of matching (精准对接): achievements for a demand, demands for an achievement.

Candidates come from the full-text index: listings holding the words of the source's title
and keywords, those holding most of them first ("at least k of them" for falling k, until
enough are found), the best ``CANDIDATES`` by ``ts_rank_cd``; words that a large share of the
listings hold are left out of the look-up. Each candidate is then scored by
:func:`services.listing.domain.matching.score_pair`. Only published achievements and open
demands before their deadline are candidates.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TypeVar

import asyncpg

from services.listing.domain.matching import (
    Pair,
    candidate_words,
    score_pair,
    source_words,
    split,
    weights,
)
from services.listing.schemas import AchievementMatch, DemandMatch
from services.listing.store.search import at_least, tiers, tsquery, word_frequencies

__all__ = ["achievements_for_demand", "demands_for_achievement"]

Executor = asyncpg.Pool | asyncpg.Connection

CANDIDATES = 100  # ranked by text first; the weighted score reorders these
MOST_WORDS = 4  # candidates are first looked for among listings holding this many words

M = TypeVar("M", AchievementMatch, DemandMatch)


async def _candidates(db: Executor, sql: str, words: Sequence[str], limit: int
                      ) -> list[asyncpg.Record]:
    """Candidates holding most of ``words``: at least k of them for falling k, until enough.

    Words of one concept often come together (海水 and 淡化), so a few shared words are not
    yet a good match; and the fewer listings hold k words, the less there is to rank."""
    rows: list[asyncpg.Record] = []
    for k in tiers(len(words), start=MOST_WORDS):
        # Ranked by the plain OR: ts_rank_cd's cost grows with the size of the query.
        rows = await db.fetch(sql, at_least(words, k), tsquery(words, "|"), CANDIDATES)
        if len(rows) >= limit * 3:
            break
    return rows


_ACHIEVEMENT_CANDIDATES = """
SELECT id, title, field, region, trl, pricing_route, reference_price_fen,
       title_words, keyword_words, abstract_words,
       ts_rank_cd(search_vector, to_tsquery('simple', $2), 32) AS rank
FROM achievements
WHERE status = 'published' AND search_vector @@ to_tsquery('simple', $1)
ORDER BY rank DESC, published_at DESC, id
LIMIT $3"""

_DEMAND_CANDIDATES = """
SELECT id, title, field, region, min_trl, budget_fen, deadline,
       title_words, keyword_words, description_words,
       ts_rank_cd(search_vector, to_tsquery('simple', $2), 32) AS rank
FROM demands
WHERE status = 'open' AND deadline > now() AND search_vector @@ to_tsquery('simple', $1)
ORDER BY rank DESC, created_at DESC, id
LIMIT $3"""


async def _prepare(db: Executor, source: asyncpg.Record, table: str
                   ) -> tuple[dict[str, float], list[str]]:
    frequencies = await word_frequencies(db, table)
    weighted = weights(source_words(source), frequencies)
    return weighted, candidate_words(weighted, frequencies)


async def achievements_for_demand(db: Executor, demand_id: uuid.UUID, limit: int = 10
                                  ) -> list[AchievementMatch] | None:
    """The best published achievements for the demand; None if there is no such demand."""
    demand = await db.fetchrow(
        "SELECT title, keywords, field, region, min_trl, budget_fen, title_words, keyword_words"
        " FROM demands WHERE id = $1", demand_id)
    if demand is None:
        return None
    weighted, lookup = await _prepare(db, demand, "achievements")
    scored = []
    for c in await _candidates(db, _ACHIEVEMENT_CANDIDATES, lookup, limit):
        score, reasons = score_pair(Pair(
            source_words=weighted, strong_words=split(c["title_words"], c["keyword_words"]),
            weak_words=split(c["abstract_words"]), demand_field=demand["field"],
            achievement_field=c["field"], demand_region=demand["region"],
            achievement_region=c["region"], trl=c["trl"], min_trl=demand["min_trl"],
            budget_fen=demand["budget_fen"], price_fen=c["reference_price_fen"]))
        scored.append((score, c["rank"], AchievementMatch(
            id=c["id"], title=c["title"], field=c["field"], region=c["region"], score=score,
            reasons=reasons, trl=c["trl"], pricing_route=c["pricing_route"],
            reference_price_fen=c["reference_price_fen"])))
    return _best(scored, limit)


async def demands_for_achievement(db: Executor, achievement_id: uuid.UUID, limit: int = 10
                                  ) -> list[DemandMatch] | None:
    """The best open demands for the achievement; None if there is no such achievement."""
    achievement = await db.fetchrow(
        "SELECT title, keywords, field, region, trl, reference_price_fen, title_words,"
        " keyword_words FROM achievements WHERE id = $1", achievement_id)
    if achievement is None:
        return None
    weighted, lookup = await _prepare(db, achievement, "demands")
    scored = []
    for c in await _candidates(db, _DEMAND_CANDIDATES, lookup, limit):
        score, reasons = score_pair(Pair(
            source_words=weighted, strong_words=split(c["title_words"], c["keyword_words"]),
            weak_words=split(c["description_words"]), demand_field=c["field"],
            achievement_field=achievement["field"], demand_region=c["region"],
            achievement_region=achievement["region"], trl=achievement["trl"],
            min_trl=c["min_trl"], budget_fen=c["budget_fen"],
            price_fen=achievement["reference_price_fen"]))
        scored.append((score, c["rank"], DemandMatch(
            id=c["id"], title=c["title"], field=c["field"], region=c["region"], score=score,
            reasons=reasons, min_trl=c["min_trl"], budget_fen=c["budget_fen"],
            deadline=c["deadline"])))
    return _best(scored, limit)


def _best(scored: list[tuple[float, float, M]], limit: int) -> list[M]:
    scored.sort(key=lambda s: (-s[0], -s[1], str(s[2].id)))
    return [m for _, _, m in scored[:limit]]
