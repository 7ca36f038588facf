"""Chinese word segmentation for search and matching (jieba-rs through rjieba).

Both the indexed text and the query are cut the same way, in jieba's search mode (long words
and their shorter parts), so PostgreSQL's 'simple' text search can match words as they are.
The exchange's technical vocabulary (``terms.txt``) is added to the dictionary so that terms
like 石墨烯 or 增材制造 stay whole.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

import rjieba

TERMS = Path(__file__).with_name("terms.txt")

# Function words and particles that carry no meaning for matching.
STOPWORDS = frozenset(
    "的 了 和 与 及 或 在 是 为 对 等 中 以 于 由 将 把 被 其 之 并 而 也 又 一种 一个 可 能 "
    "用 及其 以及 通过 进行 基于 关于 技术 方法 系统 装置 研究 应用 制备".split()
)


@cache
def _dictionary() -> None:
    for line in TERMS.read_text(encoding="utf-8").splitlines():
        term = line.strip()
        if term and not term.startswith("#"):
            rjieba.add_word(term, None, None)


def words(text: str) -> list[str]:
    """Meaningful words of ``text`` in order (duplicates kept), lower-cased, NFKC-normalised."""
    _dictionary()
    normal = unicodedata.normalize("NFKC", text).lower()
    return [
        w for w in (t.strip() for t in rjieba.cut_for_search(normal))
        if w and w not in STOPWORDS and any(ch.isalnum() for ch in w)
    ]


def joined(text: str) -> str:
    """``words`` as one space-separated string, the form the search columns store."""
    return " ".join(words(text))
