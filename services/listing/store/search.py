"""SQL of the full-text search of published achievements and open demands, with filters and
keyset pages.

The text query is cut by :func:`services.listing.domain.text.words`, exactly as the stored
``*_words`` columns were, and becomes a ``tsquery`` over the generated ``search_vector``
(title A, keywords B, abstract/description C). Every word must match (``all_words``). When
that finds less than a page, the first page falls back (``any_word``) to listings holding
most of the words: at least k of them for falling k, so intersections fill the page before
the union of the words is ranked; the cursor keeps that choice for the following pages.
Hits are ordered by ``ts_rank_cd`` (normalised to [0, 1) by flag 32), in the fallback after
the number of words held, then newest first; without text (``no_text``), newest first, as
with ``sort=newest``, which keeps the listings holding every word, unranked.

Ranking weighs the newest ``CANDIDATES`` matching listings (those meeting the filters), so
its cost (about 3 µs a listing for ``ts_rank_cd``) is bounded however many match: a broad
word or the union of words no listing holds together ranks the best of the recent matches;
when fewer match, ranking is exact. The candidates are looked for in a window of recent
listings first (a block range index on ``published_at`` narrows the text index's matches to
it), widened until it holds enough, so only the matches in that window are read; filters
other than a county are tested on those rows rather than read from b-tree indexes.

Pages are keyset pages: the cursor carries the last hit's sort key and a hash of the query it
belongs to, so the next page starts strictly after it, never skips or repeats a row, and a
cursor cannot be replayed against another query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import combinations
from math import comb
from typing import Any, Literal

import asyncpg

from services.listing.domain.errors import BadCursor
from services.listing.domain.text import distinct_words, key_words, telling_words
from services.listing.schemas import (
    ABSTRACT_CHARS,
    AchievementHit,
    AchievementQuery,
    DemandHit,
    DemandQuery,
    Match,
    Origin,
    Page,
    Places,
    SearchQuery,
    Sort,
    TextQuery,
)
from shared.bounds import INT4_MAX
from shared.regions import Region, RegionLevel
from shared.settings import CommonSettings

__all__ = [
    "AchievementQuery",
    "DemandQuery",
    "Page",
    "SearchQuery",
    "at_least",
    "distinct_words",
    "key_words",
    "region_range",
    "search_achievements",
    "search_demands",
    "telling_words",
    "tiers",
    "tsquery",
    "word_frequencies",
]

Executor = asyncpg.Pool | asyncpg.Connection


# -- words and tsqueries --------------------------------------------------------------------

FALLBACK_WORDS = 10  # the fallback weighs at most this many key words of a long query
COMMON_WORD = 0.1    # the fallback leaves out words that more than this share of rows hold
MIN_ROWS_FOR_STATISTICS = 1000
_MAX_GROUPS = 100    # "k of n words" is only tried while it takes at most this many AND groups
CANDIDATES = 100     # a ranked search ranks at most this many matching listings, the newest
FIRST_WINDOW = timedelta(days=60)   # where the newest matches are looked for first
WIDEN = 1.25         # a window too narrow is widened to one expected to hold this many times more
LAST_WINDOW = timedelta(days=730)   # a wider window is no window: all listings are looked at


def _lexeme(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def tsquery(words: Sequence[str], operator: Literal["&", "|"]) -> str:
    """Query text for ``to_tsquery('simple', …)``: each word quoted, so the server's parser
    treats it exactly as ``to_tsvector('simple', …)`` treated it in the stored column."""
    return f" {operator} ".join(_lexeme(w) for w in words)


def at_least(words: Sequence[str], k: int) -> str:
    """Query text matching listings that hold at least ``k`` of ``words``."""
    if k <= 1:
        return tsquery(words, "|")
    return " | ".join(f"({tsquery(group, '&')})" for group in combinations(words, k))


def tiers(n: int, start: int) -> list[int]:
    """The "at least k of n words" steps to try, most words first, always ending with 1."""
    return [k for k in range(min(start, n), 0, -1) if k == 1 or comb(n, k) <= _MAX_GROUPS]


async def word_frequencies(db: Executor, table: str) -> dict[str, float]:
    """Share of the table's rows holding each of its most common words, from the planner's
    statistics (ANALYZE keeps them for tsvector columns); empty while the table is small."""
    row = await db.fetchrow(
        """SELECT c.reltuples, s.most_common_elems::text::text[] AS words,
                  s.most_common_elem_freqs AS freqs
           FROM pg_class c
           LEFT JOIN pg_stats s ON s.schemaname = c.relnamespace::regnamespace::text
                AND s.tablename = c.relname AND s.attname = 'search_vector'
           WHERE c.oid = $1::regclass""", table)
    if row is None or row["words"] is None or row["reltuples"] < MIN_ROWS_FOR_STATISTICS:
        return {}
    return dict(zip(row["words"], row["freqs"], strict=False))


def region_range(code: str) -> tuple[str, str]:
    """Lowest and highest code of the region's subtree: a plain range on the ``region``
    column, which its b-tree indexes serve (230000 → 230000…239999, 230100 → 230100…230199)."""
    region = Region.parse(code)
    digits = {RegionLevel.PROVINCE: 2, RegionLevel.CITY: 4, RegionLevel.COUNTY: 6}[region.level]
    prefix = region.code[:digits]
    return prefix + "0" * (6 - digits), prefix + "9" * (6 - digits)


def _title_highlight(words: Sequence[str], title_words: str) -> list[str]:
    in_title = set(title_words.split())
    return key_words([w for w in words if w in in_title])


# -- cursors --------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


@dataclass(frozen=True)
class _Key:
    """A hit's sort key, compared descending: (words matched, score, time, id), the first
    only in the fallback, the first two only with text."""

    matched: int | None
    score: float | None
    at: datetime
    id: uuid.UUID


def _fingerprint(kind: str, words: Sequence[str], query: TextQuery) -> str:
    """Identifies what was asked (kind, words, filters), not the page size or position."""
    filters = query.model_dump(mode="json", exclude={"q", "limit", "cursor"})
    canonical = {k: sorted(v) if isinstance(v, list) else v for k, v in filters.items()}
    blob = json.dumps([kind, sorted(words), canonical], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _Cursor:
    match: Match
    key: _Key
    words: tuple[str, ...] = ()  # ANY_WORD: the words the fallback chose on the first page


def _encode_cursor(fingerprint: str, cursor: _Cursor) -> str:
    key = cursor.key
    micros = (key.at - _EPOCH) // _MICRO
    # json writes a float as its shortest repr, which reads back as the very same float8.
    payload = {"h": fingerprint, "m": cursor.match.value,
               "k": [key.matched, key.score, micros, str(key.id)], "w": list(cursor.words)}
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_cursor(token: str, fingerprint: str, keys: Sequence[str]) -> _Cursor:
    foreign = BadCursor("The cursor is not one this search handed out.")
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        matched, score, micros, key_id = payload["k"]
        match = Match(payload["m"])
        key = _Key(matched if matched is None else int(matched),
                   score if score is None else float(score), _EPOCH + micros * _MICRO,
                   uuid.UUID(key_id))
        words = tuple(str(w) for w in payload["w"])
        fingerprint_then = payload["h"]
    except (binascii.Error, ValueError, KeyError, TypeError, OverflowError) as exc:
        raise foreign from exc
    if fingerprint_then != fingerprint:
        raise BadCursor("The cursor belongs to another query; start again without it.")
    expected = {Match.NO_TEXT: (False, False), Match.ALL_WORDS: (False, True),
                Match.ANY_WORD: (True, True)}[match]
    if (key.matched is not None, key.score is not None) != expected:
        raise foreign
    if ((key.matched is not None and not 0 <= key.matched <= INT4_MAX)
            or (key.score is not None and not math.isfinite(key.score))):
        raise foreign  # made by hand: no search hands out such a key
    if (match is Match.ANY_WORD) != bool(words) or not set(words) <= set(keys):
        raise foreign
    return _Cursor(match, key, words)


# -- SQL ------------------------------------------------------------------------------------


@dataclass
class _Sql:
    """Numbered parameters and WHERE clauses, built side by side."""

    args: list[Any] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    selective: set[int] = field(default_factory=set)
    """Clauses of ``where`` (by position) that few listings meet (a county): a ranked search
    reads them from their index beside the text index; it tests the others (a field, a
    province, a TRL …) on the rows found."""

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def copy(self) -> _Sql:
        return _Sql(list(self.args), list(self.where), set(self.selective))

    def split(self) -> tuple[list[str], list[str]]:
        """The clauses to read from indexes and those to test on the rows found."""
        return ([c for i, c in enumerate(self.where) if i in self.selective],
                [c for i, c in enumerate(self.where) if i not in self.selective])

    def any_of(self, column: str, values: Sequence[StrEnum]) -> None:
        if len(values) == 1:
            self.where.append(f"{column} = {self.arg(values[0].value)}")
        elif values:
            self.where.append(f"{column} = ANY({self.arg([v.value for v in values])}::text[])")

    def at_least(self, column: str, value: int | None) -> None:
        if value is not None:
            self.where.append(f"{column} >= {self.arg(value)}")

    def at_most(self, column: str, value: int | None) -> None:
        if value is not None:
            self.where.append(f"{column} <= {self.arg(value)}")

    def within(self, region: str | None) -> None:
        if region is None:
            return
        low, high = region_range(region)
        if low == high:
            self.selective.add(len(self.where))  # a county: few listings
            self.where.append(f"region = {self.arg(low)}")
        else:
            self.where.append(f"region BETWEEN {self.arg(low)} AND {self.arg(high)}")

    def ts(self, query_text: str) -> str:
        # Folded to a constant when planned, so the planner sees the words' frequencies.
        return f"to_tsquery('simple', {self.arg(query_text)})"


@dataclass(frozen=True)
class _Target:
    kind: str
    table: str
    time_column: str
    columns: str
    statistics: str = ""
    """The table whose word statistics the fallback weighs (``table`` if empty)."""
    origin: str = "NULL::text"
    """A row's origin (NULL: this deployment), which with its id tells it apart."""


_HIT_COLUMNS = (f"id, title, left(abstract, {ABSTRACT_CHARS}) AS abstract, field, region, trl, "
                "ip_type, pricing_route, reference_price_fen, status, published_at, title_words")
_ACHIEVEMENTS = _Target(
    kind="achievements", table="achievements", time_column="published_at",
    columns=f"{_HIT_COLUMNS}, NULL::text AS origin, NULL::text AS path",
)
# region stays char(6), as in both tables: a range on it is then an index condition of the
# b-tree indexes on region under the union too (as text, every row had to be read).
_ROW = ("id, title, abstract, field, region, trl, ip_type, pricing_route, "
        "reference_price_fen, status, published_at, title_words, search_vector")
_LOCAL_ROWS = f"SELECT {_ROW}, NULL::text AS origin, NULL::text AS path FROM achievements"
_PARTNER_ROWS = (f"SELECT {_ROW}, origin, path FROM partner_listings"
                 " WHERE status IN ('published', 'in_transaction') AND published_at IS NOT NULL")
"""Partners' listings the search shows: published or in a procedure at their origin (a
withdrawn or traded one is gone), and whose content was seen."""
_PARTNERS = _Target(
    kind="achievements", table=f"({_PARTNER_ROWS}) AS partner", time_column="published_at",
    columns=f"{_HIT_COLUMNS}, origin, path", statistics="partner_listings", origin="origin",
)
_CATALOG = _Target(
    kind="achievements", table=f"({_LOCAL_ROWS} UNION ALL {_PARTNER_ROWS}) AS catalog",
    time_column="published_at", columns=f"{_HIT_COLUMNS}, origin, path",
    statistics="achievements", origin="origin",
)
_BY_ORIGIN = {Origin.LOCAL: _ACHIEVEMENTS, Origin.PARTNERS: _PARTNERS, Origin.ALL: _CATALOG}
_DEMANDS = _Target(
    kind="demands", table="demands", time_column="created_at",
    columns=f"id, title, left(description, {ABSTRACT_CHARS}) AS description, field, region, "
            "mode, min_trl, budget_fen, deadline, status, created_at, title_words",
)


@dataclass(frozen=True)
class _Page:
    """What one statement asks for, on top of the filters."""

    match: Match
    keys: Sequence[str]       # key words of the query
    after: _Key | None
    limit: int
    tier: int = 1             # ANY_WORD: at least this many of the key words


def _statement(target: _Target, filters: _Sql, page: _Page, window: timedelta | None = None
               ) -> tuple[str, list[Any]]:
    """``window``: ranked pages look at the listings of that age at most (None: all)."""
    sql = filters.copy()
    at = target.time_column
    after = page.after
    if page.match is Match.NO_TEXT:
        # Plain, so the keyset is an index condition on (status, published_at, id).
        if page.keys:  # sorted by time: every word must occur, no rank
            sql.where.append(f"search_vector @@ {sql.ts(tsquery(page.keys, '&'))}")
        if after is not None:
            sql.where.append(f"({at}, id) < ({sql.arg(after.at)}, {sql.arg(after.id)})")
        statement = (f"SELECT {target.columns}, NULL::int AS matched, NULL::float8 AS score "
                     f"FROM {target.table} WHERE {' AND '.join(sql.where) or 'true'} "
                     f"ORDER BY {at} DESC, id DESC LIMIT {sql.arg(page.limit + 1)}")
        return statement, sql.args
    indexed, tested = sql.split()
    if window is not None:
        indexed.append(f"{at} >= now() - {sql.arg(window)}::interval")
    if page.match is Match.ALL_WORDS:
        query = sql.ts(tsquery(page.keys, "&"))
        matched = "NULL::int"
        indexed.append(f"search_vector @@ {query}")
        keyset = ["score", at, "id"]
        order = "score DESC"
    else:
        query = sql.ts(tsquery(page.keys, "|"))
        matched = "(" + " + ".join(
            f"(search_vector @@ {sql.ts(tsquery([w], '&'))})::int" for w in page.keys) + ")"
        enough = query if page.tier <= 1 else sql.ts(at_least(page.keys, page.tier))
        indexed.append(f"search_vector @@ {enough}")
        keyset = ["matched", "score", at, "id"]
        order = "matched DESC, score DESC"
    # Only the newest CANDIDATES listings that match are ranked (and counted, in the
    # fallback): the costly part, a rank over a tsvector, is then bounded, whatever the
    # number of matches. Matches are found through the text index (fenced by OFFSET 0: the
    # planner would otherwise walk the newest-first index and test every listing on the way,
    # several times slower for a word that one listing in twenty holds) and carry only what
    # choosing and ranking them needs; the page's rows are read afterwards, by id.
    # The other filters are tested on the rows found, outside the fence: read from b-tree
    # indexes (the planner takes every page read for a disk read, and would), a field's
    # 220,000 entries cost 50 ms at a million listings, testing the rows found a few.
    found = f"SELECT * FROM {target.table} WHERE {' AND '.join(indexed)} OFFSET 0"
    candidates = (f"SELECT id, {at}, {target.origin} AS origin, search_vector "
                  f"FROM ({found}) AS found WHERE {' AND '.join(tested) or 'true'} "
                  f"ORDER BY {at} DESC, id DESC LIMIT {CANDIDATES}")
    # The score is computed once, in the fenced (OFFSET 0) inner query, and compared there as
    # the same float8 the cursor carries back: a float4 widened exactly, written as its
    # shortest repr, so the row a cursor came from compares equal to it.
    inner = (f"SELECT id, {at}, origin, {matched} AS matched, "
             f"ts_rank_cd(search_vector, {query}, 32)::float8 AS score, "
             "count(*) OVER () AS candidates "
             f"FROM ({candidates}) AS candidate OFFSET 0")
    outer = "true"
    if after is not None:
        values = {"matched": (after.matched, "int"), "score": (after.score, "float8"),
                  at: (after.at, "timestamptz"), "id": (after.id, "uuid")}
        bound = [f"{sql.arg(values[k][0])}::{values[k][1]}" for k in keyset]
        outer = f"({', '.join(keyset)}) < ({', '.join(bound)})"
    limit = sql.arg(page.limit + 1)
    hits = (f"SELECT id AS hit_id, {at} AS hit_at, origin AS hit_origin, matched, score, "
            "candidates "
            f"FROM ({inner}) AS ranked WHERE {outer} "
            f"ORDER BY {order}, {at} DESC, id DESC LIMIT {limit}")
    same = "id = hit_id" + (" AND origin IS NOT DISTINCT FROM hit_origin"
                            if target.origin != "NULL::text" else "")
    statement = (f"SELECT {target.columns}, matched, score, candidates FROM ({hits}) AS hit "
                 f"JOIN {target.table} ON {same} "
                 f"ORDER BY {order}, hit_at DESC, hit_id DESC")
    return statement, sql.args


async def _rows(db: Executor, statement: str, args: Sequence[Any]) -> list[asyncpg.Record]:
    """The statement's rows, planned for its values every time. A prepared statement run
    often gets a generic plan, which knows neither the words' frequencies nor the filters'
    (at a million listings, a city and a field without text: 47 ms instead of 9 ms)."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            return await _rows(conn, statement, args)
    if not isinstance(db, asyncpg.Connection):  # a stand-in of the tests or the benchmark
        return await db.fetch(statement, *args)
    async with db.transaction(readonly=True):
        await db.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        return await db.fetch(statement, *args)


async def _fetch(db: Executor, target: _Target, filters: _Sql, page: _Page
                 ) -> list[asyncpg.Record]:
    """The page's rows; ranked, the newest CANDIDATES matches are looked for among recent
    listings first (a window back from now, widened from the matches it held, to one
    expected to hold WIDEN times as many as needed, or to all): a window holding that many
    holds the newest of all, and only its matches are read. Listings holding k ≥ 2 of the
    fallback's words are few: they are looked for among all at once."""
    if page.match is Match.NO_TEXT or (page.match is Match.ANY_WORD and page.tier > 1):
        statement, args = _statement(target, filters, page)
        return await _rows(db, statement, args)
    window: timedelta | None = FIRST_WINDOW
    while True:
        statement, args = _statement(target, filters, page, window)
        rows = await _rows(db, statement, args)
        found = rows[0]["candidates"] if rows else 0
        if window is None or found >= CANDIDATES:
            return rows
        # No row (after a cursor, none may be left in the window): look at all of them.
        window = window * (WIDEN * CANDIDATES / found) if found else None
        if window is not None and window > LAST_WINDOW:
            window = None


async def _fallback_words(db: Executor, target: _Target, keys: Sequence[str]) -> list[str]:
    """The words the fallback weighs: not the common ones (检测, 用于 …), which add little,
    while the cost of "k of n" grows with the number of listings holding any of the words."""
    frequencies = await word_frequencies(db, target.statistics or target.table)
    return telling_words(keys, frequencies, common=COMMON_WORD)[:FALLBACK_WORDS]


async def _fallback(db: Executor, target: _Target, filters: _Sql, words: Sequence[str],
                    after: _Key | None, limit: int) -> list[asyncpg.Record]:
    """Listings holding most of the words first: try "at least k of them" for falling k, so
    a page is usually filled from a few intersections before the (broad) union is ranked."""
    start = after.matched if after is not None and after.matched else len(words) - 1
    rows: list[asyncpg.Record] = []
    for tier in tiers(len(words), start):
        rows = await _fetch(db, target, filters,
                            _Page(Match.ANY_WORD, words, after, limit, tier))
        if len(rows) > limit:
            break
    return rows


async def _search(db: Executor, target: _Target, query: TextQuery, filters: _Sql,
                  newest: bool = False
                  ) -> tuple[list[asyncpg.Record], str | None, Match, list[str]]:
    """One page; ``newest``: every word must occur and the newest come first, unranked."""
    words = distinct_words(query.q)
    keys = key_words(words)
    fingerprint = _fingerprint(target.kind, words, query)
    unranked = not keys or newest
    if query.cursor:
        cursor = _decode_cursor(query.cursor, fingerprint, keys)
        if (cursor.match is Match.NO_TEXT) != unranked:
            raise BadCursor("The cursor is not one this search handed out.")
        match, after, chosen = cursor.match, cursor.key, list(cursor.words)
    else:
        match, after, chosen = (Match.NO_TEXT if unranked else Match.ALL_WORDS), None, []
    if match is Match.ANY_WORD:
        rows = await _fallback(db, target, filters, chosen, after, query.limit)
    else:
        rows = await _fetch(db, target, filters, _Page(match, keys, after, query.limit))
        if after is None and match is Match.ALL_WORDS and len(rows) < query.limit \
                and len(keys) > 1:
            match = Match.ANY_WORD
            chosen = await _fallback_words(db, target, keys)
            rows = await _fallback(db, target, filters, chosen, None, query.limit)
    next_cursor = None
    if len(rows) > query.limit:
        rows = rows[: query.limit]
        last = rows[-1]
        key = _Key(last["matched"], last["score"], last[target.time_column], last["id"])
        next_cursor = _encode_cursor(fingerprint, _Cursor(match, key, tuple(chosen)))
    return rows, next_cursor, match, words


def _hit_fields(row: asyncpg.Record) -> dict[str, Any]:
    return {k: v for k, v in row.items()
            if k not in ("title_words", "matched", "origin", "path", "candidates")}


async def search_achievements(db: Executor, query: AchievementQuery,
                              places: Places | None = None) -> Page[AchievementHit]:
    """One page of achievements matching ``query``: this deployment's, its partners' or both
    (``query.origin``), each hit with its origin (``places``: the settings' by default)."""
    places = places or Places.of(CommonSettings())
    sql = _Sql()
    sql.any_of("status", query.status)
    sql.where.append("published_at IS NOT NULL")
    sql.any_of("field", query.field)
    sql.within(query.region)
    if query.province:
        sql.where.append(f"left(region, 2) = ANY({sql.arg([p[:2] for p in query.province])}"
                         "::text[])")
    sql.at_least("trl", query.trl_min)
    sql.at_most("trl", query.trl_max)
    sql.any_of("ip_type", query.ip_type)
    sql.any_of("pricing_route", query.pricing_route)
    sql.at_least("reference_price_fen", query.price_min_fen)
    sql.at_most("reference_price_fen", query.price_max_fen)
    rows, next_cursor, match, words = await _search(db, _BY_ORIGIN[query.origin], query, sql,
                                                    newest=query.sort is Sort.NEWEST)
    items = []
    for r in rows:
        origin, url = places.place(r["origin"], r["path"] or f"/achievements/{r['id']}")
        items.append(AchievementHit(**_hit_fields(r), origin=origin, origin_url=url,
                                    highlight=_title_highlight(words, r["title_words"])))
    return Page[AchievementHit](items=items, next_cursor=next_cursor, match=match, words=words)


async def search_demands(db: Executor, query: DemandQuery) -> Page[DemandHit]:
    """One page of demands matching ``query``."""
    sql = _Sql()
    sql.any_of("status", query.status)
    sql.any_of("field", query.field)
    sql.within(query.region)
    rows, next_cursor, match, words = await _search(db, _DEMANDS, query, sql)
    items = [DemandHit(**_hit_fields(r), highlight=_title_highlight(words, r["title_words"]))
             for r in rows]
    return Page[DemandHit](items=items, next_cursor=next_cursor, match=match, words=words)
