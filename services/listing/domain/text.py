"""Chinese word segmentation for search and matching (jieba-rs through rjieba).

Both the indexed text and the query are cut the same way, in jieba's search mode (long words
and their shorter parts), so PostgreSQL's 'simple' text search can match words as they are.
The exchange's technical vocabulary (``terms.txt``) is added to the dictionary so that terms
like 石墨烯 or 增材制造 stay whole.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import rjieba

TERMS = Path(__file__).with_name("terms.txt")

# Function words and particles that carry no meaning for matching.
STOPWORDS = frozenset(
    "的 了 和 与 及 或 在 是 为 对 等 中 以 于 由 将 把 被 其 之 并 而 也 又 一种 一个 可 能 "
    "用 及其 以及 通过 进行 基于 关于 技术 方法 系统 装置 研究 应用 制备 寻求 需求 征集".split()
)


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


@cache
def _dictionary() -> tuple[str, ...]:
    """Load the vocabulary into the segmenter (normalised as the text will be); the terms."""
    terms = []
    for line in TERMS.read_text(encoding="utf-8").splitlines():
        term = _normal(line.strip())
        if term and not term.startswith("#"):
            rjieba.add_word(term, None, None)
            terms.append(term)
    return tuple(terms)


def words(text: str) -> list[str]:
    """Meaningful words of ``text`` in order (duplicates kept), lower-cased, NFKC-normalised.

    Search mode adds the 2- and 3-character parts of a long word but not longer ones, so a
    vocabulary term inside a longer word (增材制造 in 激光增材制造) is added explicitly.
    """
    terms = _dictionary()
    out = []
    for token in rjieba.cut_for_search(_normal(text)):
        w = token.strip()
        if not w or w in STOPWORDS or not any(ch.isalnum() for ch in w):
            continue
        out.append(w)
        if len(w) > 4:
            out.extend(t for t in terms if len(t) >= 4 and t != w and t in w)
    return out


def joined(text: str) -> str:
    """``words`` as one space-separated string, the form the search columns store."""
    return " ".join(words(text))


def distinct_words(q: str | None) -> list[str]:
    """The query's words, each once, in order of appearance."""
    return list(dict.fromkeys(words(q))) if q else []


def key_words(found: Sequence[str]) -> list[str]:
    """``found`` without the words contained in another of them (石墨 beside 石墨烯).

    The search-mode segmenter emits a long word together with its parts, in the query and in
    the listings alike, so a listing holding 石墨烯 holds 石墨 too: dropping the parts changes
    no AND, keeps an OR from matching far more (制造, 智能 …) and makes ranking cheaper.
    """
    unique = list(dict.fromkeys(found))
    return [w for w in unique if not any(w != o and w in o for o in unique)]


def telling_words(found: Sequence[str], frequencies: Mapping[str, float], keep: int = 2,
                  common: float = 0.1) -> list[str]:
    """``found`` without those more than ``common`` of the rows hold, or the ``keep`` rarest
    if fewer are left."""
    rare = [w for w in found if frequencies.get(w, 0.0) <= common]
    if len(rare) >= keep:
        return rare
    return sorted(found, key=lambda w: frequencies.get(w, 0.0))[:keep]
