"""Scoring a demand and an achievement for matching (精准对接). Pure: no I/O.

Each candidate is scored in [0, 1] as a weighted sum (``WEIGHTS``) of

- text: the share of the source's words the candidate holds, each weighted by its rarity
  (inverse document frequency from the planner's statistics; equal weights on small tables),
  title or keywords counting fully, abstract or description half;
- field: the same technology field;
- region: same county > same city > same province;
- maturity: the achievement's TRL against the demand's minimum, a third less per level short;
- budget: the demand's budget against the achievement's reference price (neutral if unknown);

with the reasons, in Chinese, for each part that has one. Field, region, maturity and budget
count the same whichever side asks; the text part is how much of the asking side's words the
other holds. The look-up of candidates is in :mod:`services.listing.store.matching`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.listing.domain import text
from services.listing.domain.fields import TechField
from services.listing.domain.text import key_words, telling_words
from shared.regions import InvalidRegion, Region, RegionLevel

__all__ = [
    "WEIGHTS",
    "Pair",
    "candidate_words",
    "region_proximity",
    "score_pair",
    "source_words",
    "split",
    "weights",
]

WEIGHTS = {"text": 0.45, "field": 0.2, "region": 0.1, "maturity": 0.15, "budget": 0.1}
MAX_SHARED_SHOWN = 6
COMMON_WORD = 0.05  # words more than this share of the listings hold do not pick candidates
_MATURITY_STEP = 1 / 3  # each TRL level short of the demand's minimum costs a third


@dataclass(frozen=True)
class Pair:
    """What scoring needs of a demand and an achievement, and the source's key words with
    their weights (rarer words weigh more)."""

    source_words: Mapping[str, float]  # the words of the source's title and keywords
    strong_words: frozenset[str]       # the candidate's title and keyword words
    weak_words: frozenset[str]         # the candidate's abstract or description words
    demand_field: str
    achievement_field: str
    demand_region: str
    achievement_region: str
    trl: int
    min_trl: int
    budget_fen: int | None
    price_fen: int | None


def _place(code: str) -> str:
    """The region's name where the directory gives one, else its code."""
    try:
        name = getattr(Region.parse(code), "name", None)
    except InvalidRegion:
        return code
    return name if isinstance(name, str) and name else code


def region_proximity(a: str, b: str) -> tuple[float, str | None]:
    """1 for the same county, 0.7 the same city, 0.4 the same province, else 0; with reason."""
    try:
        ra, rb = Region.parse(a), Region.parse(b)
    except InvalidRegion:
        return 0.0, None
    if ra == rb:
        level = ra.level
        if level is RegionLevel.COUNTY:
            return 1.0, f"同一区县: {_place(a)}"
        if level is RegionLevel.CITY:
            return 0.7, f"同一城市: {_place(a)}"
        return 0.4, f"同一省份: {_place(a)}"
    below_province = RegionLevel.PROVINCE not in (ra.level, rb.level)
    if below_province and a[:4] == b[:4]:
        return 0.7, f"同一城市: {_place(a[:4] + '00')}"
    if ra.province == rb.province:
        return 0.4, f"同一省份: {_place(ra.province.code)}"
    return 0.0, None


def _yuan(fen: int) -> str:
    return f"¥{Decimal(fen) / 100:,.2f}"


def score_pair(pair: Pair) -> tuple[float, list[str]]:
    """The weighted score in [0, 1] and the reasons for it."""
    reasons: list[str] = []
    parts: dict[str, float] = {}

    weights = pair.source_words
    shared = [w for w in weights if w in pair.strong_words or w in pair.weak_words]
    total = sum(weights.values())
    credit = sum(weights[w] * (1.0 if w in pair.strong_words else 0.5) for w in shared)
    parts["text"] = credit / total if total else 0.0
    if shared:
        named = sorted(key_words(shared), key=lambda w: -weights[w])  # most telling first
        shown = ", ".join(named[:MAX_SHARED_SHOWN])
        reasons.append(f"共同词语: {shown}{' …' if len(named) > MAX_SHARED_SHOWN else ''}")

    parts["field"] = 1.0 if pair.demand_field == pair.achievement_field else 0.0
    if parts["field"]:
        try:
            label = TechField(pair.demand_field).label
        except ValueError:
            label = pair.demand_field
        reasons.append(f"技术领域相同: {label}")

    parts["region"], where = region_proximity(pair.demand_region, pair.achievement_region)
    if where:
        reasons.append(where)

    short = pair.min_trl - pair.trl
    parts["maturity"] = 1.0 if short <= 0 else max(0.0, 1 - short * _MATURITY_STEP)
    if short <= 0:
        reasons.append(f"成熟度满足: TRL {pair.trl} ≥ {pair.min_trl}")
    else:
        reasons.append(f"成熟度不足: TRL {pair.trl} < {pair.min_trl}")

    if pair.budget_fen is None or pair.price_fen is None:
        parts["budget"] = 0.5  # unknown: neither for nor against
    elif pair.price_fen <= pair.budget_fen:
        parts["budget"] = 1.0
        reasons.append(f"预算覆盖参考价: {_yuan(pair.budget_fen)} ≥ {_yuan(pair.price_fen)}")
    else:
        parts["budget"] = pair.budget_fen / pair.price_fen
        reasons.append(f"参考价超出预算: {_yuan(pair.price_fen)} > {_yuan(pair.budget_fen)}")

    score = sum(WEIGHTS[k] * v for k, v in parts.items())
    return round(min(1.0, max(0.0, score)), 4), reasons


# -- words ---------------------------------------------------------------------------------


def split(*columns: str) -> frozenset[str]:
    return frozenset(w for c in columns for w in c.split())


def source_words(row: Mapping[str, Any]) -> list[str]:
    """Words of the title and keywords, each once, as stored (cut afresh if the columns are
    empty). All of them, parts of long words included: a demand for 石墨烯 should credit a
    listing of 石墨烯改性 materials, and the parts make "k of n words" a measure of overlap."""
    stored = f"{row['title_words']} {row['keyword_words']}".split()
    return list(dict.fromkeys(stored or text.words(" ".join([row["title"], *row["keywords"]]))))


def weights(words: Sequence[str], frequencies: Mapping[str, float]) -> dict[str, float]:
    """An inverse document frequency per word: a word every listing holds tells nothing.
    Words too rare to be in the statistics count as rarer than the rarest there."""
    if not frequencies:
        return dict.fromkeys(words, 1.0)
    floor = min(frequencies.values()) / 2
    return {w: max(0.0, -math.log(min(1.0, frequencies.get(w, floor)))) for w in words}


def candidate_words(weighted: Mapping[str, float], frequencies: Mapping[str, float]
                    ) -> list[str]:
    """The words to look candidates up by: not the two-character parts of longer words
    (石墨 of 石墨烯, 黑土 of 黑土地), which add nothing to an OR and make "k of n words" count
    one concept several times; nor the common words, which would bring in a good part of the
    table, unless nothing else is left."""
    words = list(weighted)
    whole = [w for w in words if not (len(w) == 2 and any(w != o and w in o for o in words))]
    return telling_words(whole, frequencies, keep=3, common=COMMON_WORD)
