"""Buyers' saved interests (精准推送) matched against a newly published listing. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from services.listing.domain.achievement import Details


@dataclass(frozen=True)
class Interest:
    id: object
    buyer_id: str
    query_words: frozenset[str]
    field: str | None = None
    min_trl: int | None = None
    max_price_fen: int | None = None


@dataclass(frozen=True)
class InterestMatch:
    interest: Interest
    score: float
    reasons: list[str]


def match(interest: Interest, details: Details, listing_words: set[str]) -> InterestMatch | None:
    """The match of ``interest`` with a listing, or None.

    Every criterion the buyer set must hold; of the query's words at least half (all of them
    for a one- or two-word query) must occur in the listing. The score is the share of query
    words found, so a buyer's notifications can be ranked.
    """
    reasons: list[str] = []
    if interest.field and interest.field != details.field.value:
        return None
    if interest.field:
        reasons.append(f"技术领域: {details.field.label}")
    if interest.min_trl is not None and details.trl < interest.min_trl:
        return None
    if interest.min_trl is not None:
        reasons.append(f"成熟度: TRL {details.trl} ≥ {interest.min_trl}")
    if interest.max_price_fen is not None:
        price = details.reference_price_fen
        if price is None or price > interest.max_price_fen:
            return None
        reasons.append(f"参考价格不超过 {interest.max_price_fen / 100:,.0f} 元")
    score = 1.0
    if interest.query_words:
        shared = interest.query_words & listing_words
        needed = len(interest.query_words) if len(interest.query_words) <= 2 else (
            (len(interest.query_words) + 1) // 2)
        if len(shared) < needed:
            return None
        score = len(shared) / len(interest.query_words)
        reasons.insert(0, "共同词语: " + ", ".join(sorted(shared)))
    return InterestMatch(interest, round(score, 4), reasons)
