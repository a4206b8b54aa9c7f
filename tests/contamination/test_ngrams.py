"""The numpy n-gram pass against its two references: the pure-Python tokeniser and DuckDB's SQL definition
(macros/contamination: regexp_extract_all(lower(text), '[\\p{L}\\p{N}_]+')), on every MMLU item and on
hostile Unicode; and the index / lookup on planted matches."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from benchtrust.contamination.corpora import item_text
from benchtrust.contamination.ngrams import (
    NgramIndex,
    hash_tokens,
    match_batch,
    ngram_hashes,
    texts_to_buffers,
    tokenize,
)

TRICKY = [
    "Don't stop—the U.S. economy's “growth” (3.5%) isn’t well-known…",
    "ÉCOLE École école — Straße STRASSE ΣΟΦΙΑ σοφία ΟΔΟΣ",
    "tabs\tand\nnew\r\nlines\x0bvertical\x0cfeed\u00a0nbsp\u2009thin",
    "日本語のテキスト、中文文本。한국어 텍스트",
    "emoji 🙂 in 🚀 text, combining é (e\u0301), ligature ﬁ, superscript x² ½ ⅔",
    "snake_case __dunder__ x_1 ___",
    "",
    "!!! ... ???",
    "a",
]


def _duckdb_tokens(texts):
    con = duckdb.connect()
    con.execute("create table t as select * from unnest(?) with ordinality as u(text, k)", [texts])
    rows = con.execute(r"select k, regexp_extract_all(lower(text), '[\p{L}\p{N}_]+') from t order by k").fetchall()
    return [r[1] for r in rows]


def test_reference_tokeniser_matches_duckdb_on_mmlu_and_unicode(mmlu):
    texts = [item_text(i, c) for i, c in zip(mmlu.items["input"], mmlu.items["choices"])] + TRICKY
    py = [tokenize(t) for t in texts]
    sql = _duckdb_tokens(texts)
    diff = [(t, a, b) for t, a, b in zip(texts, py, sql) if a != b]
    assert not diff, diff[:3]


def test_numpy_token_count_and_ngram_hashes_match_the_reference(mmlu):
    texts = [item_text(i, c) for i, c in zip(mmlu.items["input"][:3000], mmlu.items["choices"][:3000])] + TRICKY
    data, off = texts_to_buffers(texts)
    tb = hash_tokens(data, off)
    counts = np.diff(tb.doc_first_token)
    assert counts.tolist() == [len(tokenize(t)) for t in texts]
    # a token's hash depends on its normalised text only: equal tokens hash equal, across documents
    flat = [tok for t in texts for tok in tokenize(t)]
    by_tok: dict[str, set[int]] = {}
    for tok, h in zip(flat, tb.token_hash.tolist()):
        by_tok.setdefault(tok, set()).add(h)
    assert all(len(v) == 1 for v in by_tok.values())
    assert len({next(iter(v)) for v in by_tok.values()}) == len(by_tok)  # and distinct tokens differ
    h, first = ngram_hashes(tb, 13)
    expected = sum(max(0, c - 12) for c in counts)
    assert len(h) == expected  # no n-gram crosses a document boundary


def test_ascii_fast_path_and_utf8_path_agree():
    ascii_docs = ["The quick brown fox jumps over the lazy dog again and again today."]
    a = hash_tokens(*texts_to_buffers(ascii_docs)).token_hash
    b = hash_tokens(*texts_to_buffers(ascii_docs + ["é"])).token_hash[: len(a)]
    assert np.array_equal(a, b)


def test_index_finds_planted_ngrams_with_counts_and_text():
    items = [
        "Which of the following best describes the role of the mitochondria in a eukaryotic cell?\nEnergy",
        "Short item.",
    ]
    idx = NgramIndex.build(items, ns=(8, 13))
    docs = [
        "Unrelated words first. WHICH of the following — best describes the role of the mitochondria in a "
        "eukaryotic cell? energy! and again: which of the following best describes the role of",
        "nothing relevant here at all, not even close to the item",
        "which of the following best describes the role",
    ]  # 8 tokens, but < 13
    m, n_tok = match_batch(idx, *texts_to_buffers(docs))
    got = {(int(d), int(n)): [] for d, n in zip(m.doc, m.n)}
    for d, n, h, c in zip(m.doc, m.n, m.ngram_hash, m.count):
        got[(int(d), int(n))].append((idx.text_of(int(n), np.array([h]))[0], int(c)))
    assert set(got) == {(0, 8), (0, 13), (2, 8)}
    # doc 0 holds the whole item (16 tokens → 4 13-grams), and its first 8-gram twice
    assert len(got[(0, 13)]) == 4
    assert ("which of the following best describes the role", 2) in got[(0, 8)]
    assert got[(2, 8)] == [("which of the following best describes the role", 1)]
    assert n_tok == sum(len(tokenize(d)) for d in docs)


def test_index_rejects_what_is_not_there():
    rng = np.random.default_rng(0)
    idx = NgramIndex.build([" ".join(f"w{rng.integers(1000)}" for _ in range(60)) for _ in range(200)], ns=(13,))
    h = rng.integers(0, 2**63, size=200_000, dtype=np.uint64)
    assert not idx.contains(13, h).any()
    assert idx.contains(13, idx.members[13]).all()


@pytest.mark.parametrize(
    "text, harness, ours",
    [
        ("Don't", ["dont"], ["don", "t"]),
        ("U.S.A.", ["usa"], ["u", "s", "a"]),
        ("well-known", ["wellknown"], ["well", "known"]),
    ],
)
def test_documented_difference_from_the_harness_janitor(text, harness, ours):
    import string

    table = str.maketrans(string.ascii_uppercase, string.ascii_lowercase, string.punctuation)
    assert text.translate(table).split() == harness  # lm_eval.decontamination.janitor.Janitor.normalize_string
    assert tokenize(text) == ours


def test_token_hash_is_case_insensitive_for_every_unicode_case_pair():
    from benchtrust.contamination.ngrams import _length_changing, token_hash_py

    # tokens whose upper case has another UTF-8 length (Kelvin sign, Ohm sign, capital sharp s) included
    pairs = [
        ("ÉCOLE", "école"),
        ("\u212aELVIN", "kelvin"),
        ("\u2126MEGA", "ωmega"),
        ("STRA\u1e9eE", "straße"),
        ("ΣΟΦΙΑ", "σοφια"),
        ("Ǆ", "ǆ"),
    ]
    assert len(_length_changing()) > 0
    for upper, lower in pairs:
        a = hash_tokens(*texts_to_buffers([f"x {upper} y"])).token_hash[1]
        b = hash_tokens(*texts_to_buffers([f"{lower}"])).token_hash[0]
        assert a == b, (upper, lower)
        assert int(b) == token_hash_py(tokenize(lower)[0])
