"""The one segmenter: what search stores and what it looks for must be cut alike."""

from __future__ import annotations

import unicodedata

import pytest

from services.listing.domain import text

TERMS = [
    t.strip() for t in text.TERMS.read_text(encoding="utf-8").splitlines()
    if t.strip() and not t.startswith("#")
]


def _normal(term: str) -> str:
    return unicodedata.normalize("NFKC", term).lower()


@pytest.mark.parametrize("term", TERMS)
def test_every_domain_term_stays_whole_alone_and_in_a_sentence(term):
    assert _normal(term) in text.words(term)
    assert _normal(term) in text.words(f"一种基于{term}的新型装置及其制备方法")


@pytest.mark.parametrize(
    ("sentence", "terms"),
    [
        ("石墨烯改性防腐涂料制备技术", ["石墨烯", "防腐涂料"]),
        ("激光增材制造钛合金构件", ["激光增材制造", "钛合金"]),
        ("基于卫星遥感的寒地水稻长势监测", ["卫星遥感", "寒地水稻"]),
        ("人工智能机器视觉缺陷检测", ["人工智能", "机器视觉"]),
    ],
)
def test_domain_terms_in_running_text(sentence, terms):
    words = text.words(sentence)
    for term in terms:
        assert term in words


def test_search_mode_also_yields_the_parts_of_long_words():
    # So a query for 防腐 finds a listing about 防腐涂料.
    words = text.words("石墨烯防腐涂料")
    assert {"石墨烯", "防腐涂料", "防腐", "涂料"} <= set(words)


def test_stopwords_and_punctuation_are_dropped():
    words = text.words("一种基于深度学习的检测方法，及其应用！（系统、装置）")
    assert "深度学习" in words and "检测" in words
    for dropped in ["一种", "基于", "的", "方法", "及其", "系统", "装置", "，", "！", "（", "、"]:
        assert dropped not in words
    assert all(any(ch.isalnum() for ch in w) for w in words)
    assert text.words("，。！？、（）——") == []
    assert text.words("") == []


def test_full_width_and_case_are_normalised():
    assert text.words("ＡＩ芯片") == text.words("ai芯片") == text.words("AI芯片")
    assert "ai" in text.words("ＡＩ芯片")


@pytest.mark.parametrize(
    ("query", "document"),
    [
        ("石墨烯 防腐涂料", "本成果提供一种石墨烯改性防腐涂料的制备方法，适用于海洋工程。"),
        ("石墨烯防腐", "海洋平台用石墨烯防腐涂层"),
        ("增材制造钛合金", "钛合金构件的增材制造工艺"),
        ("增材制造", "钛合金构件的激光增材制造工艺"),
        ("污水处理", "农村污水处理一体化设备"),
        ("卫星遥感，农业", "卫星遥感在现代农业中的应用"),
    ],
)
def test_query_and_document_are_cut_alike(query, document):
    """Every word of a query occurs among the words of a document that contains it."""
    assert set(text.words(query)) <= set(text.words(document))


def test_joined_is_the_words_separated_by_spaces():
    sentence = "石墨烯改性防腐涂料制备技术"
    assert text.joined(sentence) == " ".join(text.words(sentence))
    assert text.joined(sentence).split() == text.words(sentence)


def test_duplicates_are_kept_in_order():
    words = text.words("石墨烯涂料与石墨烯薄膜")
    assert words.count("石墨烯") == 2
