"""Aligned-window contamination evidence (issue 12, item 3): finds benchmark items that a corpus holds reworded
(word order and word choice changed) and buried in unrelated text, where exact n-grams and whole-document
embeddings fail.

Three stages, all per (corpus version × benchmark version):

1. **Order-insensitive candidates.** Items and documents become sets of content-word stems (the n-gram
   tokeniser's tokens, minus scikit-learn's English stop words, Porter-stemmed by NLTK). Each stem is weighted
   by how rare it is in *both* the benchmark and the corpus, ``w = −log max(df_items/N_items, df_docs/N_docs)``
   (N at least 100),
   so words common in exam questions or in the corpus's own genre count little. One sparse product
   (scipy) gives, for every item × document, the share of the item's stem weight present anywhere in the
   document — an upper bound of the aligned containment below; the best ``k`` documents per item above
   ``min_bound`` are the candidates. Exact weighted set containment, not a MinHash sketch: at this scale the
   sparse product is cheap, and it has no sketch error to calibrate.
2. **Windows aligned to the item.** For a candidate pair, a window as long as the item (``window_factor`` ×
   its token count, so rewording that adds words still fits) slides over the document and keeps the position
   where the most item weight falls inside (two pointers over the matched positions). ``containment`` = that
   share: filler around a plant does not dilute it, and a long document on the same topic cannot collect the
   item's words from far-apart places.
3. **Embeddings on the aligned window.** The best windows (``containment >= embed_min``) are embedded with
   all-MiniLM-L6-v2 (the cached :class:`Embedder`) and compared with the item's own embedding: ``cosine``.

Shared passages. Several MMLU items share a reading passage; the passage in a corpus says nothing about which
of them leaked. An item's *own* stems are those not covered by an 8-gram it shares with another item text;
containment is measured on them when they weigh at least ``own_min_weight`` (else on all
its stems: exact or near-exact duplicates cannot be told apart, and both are reported).

The flag is decided in dbt (``int_item_aligned_evidence_scored``) from ``containment`` and ``cosine`` with
thresholds calibrated on clean items of the dev corpus (benchmarks/contamination_validation.py records them).
Lake layout: ``aligned_matches/corpus=<c>/<corpus_version>__<fingerprint>.parquet``, columns ALIGNED_COLUMNS.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from benchtrust.contamination.ngrams import _TOKEN_RE, _lower_translation
from benchtrust.lake import corpus_signal_dir, write_parquet

ALIGNED_VERSION = "stems-porter+idf2/window-1.5L/v1"
MIN_POPULATION = 100
ALIGNED_COLUMNS = ["corpus", "corpus_version", "benchmark", "dataset_version", "item_id", "rank", "doc_id",
                   "doc_containment", "containment", "matched_weight", "item_weight", "own_share", "item_tokens", "window_start", "window_tokens",
                   "cosine", "embedding_model", "item_text_hash", "window_text_hash", "method_version"]


@dataclass(frozen=True)
class AlignedParams:
    k: int = 5  # candidate documents per item (by the set-containment bound)
    min_bound: float = 0.3  # candidates need at least this share of the item's weight somewhere in the document
    window_factor: float = 1.5  # window = factor × item tokens (+ window_extra)
    window_extra: int = 5
    own_min_weight: float = 15.0  # measure on the item's own stems when they weigh at least this (nats)
    embed_min: float = 0.5  # embed the aligned window when its containment reaches this
    embed_top: int = 1  # … for at most this many candidates per item
    shared_n: int = 8  # n of the n-grams that mark a passage shared between items


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


@lru_cache(maxsize=1)
def _stemmer():
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer()


@lru_cache(maxsize=500_000)
def stem(token: str) -> str | None:
    """The content stem of a lower-cased token, or None for a stop word / one-letter token."""
    if token in _stop_words() or (len(token) < 2 and not token.isdigit()):
        return None
    return _stemmer().stem(token)


def tokens_with_spans(text: str) -> tuple[list[str], np.ndarray]:
    """The n-gram tokeniser's tokens (lower-cased letter/number/_ runs) and their character spans in ``text``
    (lower-casing keeps the length in code points, so spans index the original text)."""
    low = text.translate(_lower_translation())
    toks, spans = [], []
    for m in _TOKEN_RE.finditer(low):
        toks.append(m.group())
        spans.append(m.span())
    return toks, np.asarray(spans, dtype=np.int64).reshape(-1, 2)


class Vocab:
    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def id(self, s: str) -> int:
        i = self.ids.get(s)
        if i is None:
            i = self.ids[s] = len(self.ids)
        return i


@dataclass
class _Items:
    stems: list[np.ndarray]  # distinct vocab ids of each item's measured (own or all) stems
    all_stems: list[np.ndarray]
    n_tokens: np.ndarray
    own_used: np.ndarray  # bool: some positions are shared with another item text (its own stems differ)


def _shared_positions(token_lists: list[list[str]], n: int) -> list[np.ndarray]:
    """Per item, a boolean mask of token positions covered by an n-gram that another item text also holds."""
    owners: dict[tuple[str, ...], set[int]] = {}
    keys = [hash(tuple(t)) for t in token_lists]
    for i, toks in enumerate(token_lists):
        for p in range(len(toks) - n + 1):
            owners.setdefault(tuple(toks[p: p + n]), set()).add(keys[i])
    out = []
    for toks in token_lists:
        m = np.zeros(len(toks), dtype=bool)
        for p in range(len(toks) - n + 1):
            if len(owners[tuple(toks[p: p + n])]) > 1:
                m[p: p + n] = True
        out.append(m)
    return out


def _prepare_items(texts: Sequence[str], vocab: Vocab, n: int) -> tuple[_Items, list[list[str]]]:
    token_lists = [tokens_with_spans(t)[0] for t in texts]
    shared = _shared_positions(token_lists, n)
    stems, all_stems, own_flags = [], [], []
    for toks, sh in zip(token_lists, shared):
        ids = np.array([vocab.id(s) if (s := stem(t)) is not None else -1 for t in toks], dtype=np.int64)
        all_ids = np.unique(ids[ids >= 0])
        own_ids = np.unique(ids[(ids >= 0) & ~sh])
        all_stems.append(all_ids)
        stems.append(own_ids)
        own_flags.append(bool(sh.any()))
    return _Items(stems, all_stems, np.array([len(t) for t in token_lists]), np.array(own_flags)), token_lists


@dataclass
class _Docs:
    vids: list[np.ndarray]  # per document: vocab id of each token (−1 for stop words)
    spans: list[np.ndarray]


def _prepare_docs(texts: Sequence[str], vocab: Vocab) -> _Docs:
    vids, spans = [], []
    for t in texts:
        toks, sp = tokens_with_spans(t)
        vids.append(np.array([vocab.id(s) if (s := stem(x)) is not None else -1 for x in toks], dtype=np.int64))
        spans.append(sp)
    return _Docs(vids, spans)


def _csr(rows: list[np.ndarray], n_cols: int, values: list[np.ndarray] | None = None):
    from scipy import sparse

    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(r) for r in rows])
    idx = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    val = np.concatenate(values) if values is not None and rows else np.ones(len(idx), dtype=np.float32)
    return sparse.csr_matrix((val.astype(np.float32), idx, indptr), shape=(len(rows), n_cols))


def _best_window(pos: np.ndarray, wts: np.ndarray, sid: np.ndarray, width: int) -> tuple[float, int, int]:
    """Max total weight of *distinct* stems inside a window of ``width`` tokens; (weight, first, last position)."""
    best, bi, bj = 0.0, 0, 0
    counts: dict[int, int] = {}
    cur = 0.0
    j = 0
    m = len(pos)
    for i in range(m):
        while j < m and pos[j] < pos[i] + width:
            s = int(sid[j])
            c = counts.get(s, 0)
            if c == 0:
                cur += float(wts[j])
            counts[s] = c + 1
            j += 1
        if cur > best:
            best, bi, bj = cur, int(pos[i]), int(pos[j - 1])
        s = int(sid[i])
        counts[s] -= 1
        if counts[s] == 0:
            cur -= float(wts[i])
    return best, bi, bj


@dataclass
class AlignedResult:
    frame: pd.DataFrame
    n_items: int
    n_docs: int
    n_candidates: int
    n_embedded: int
    seconds: dict


def _weights(it: _Items, docs: _Docs, n_vocab: int, n_items: int, n_docs: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Stem weights −log(document frequency) over items and documents (floored at MIN_POPULATION texts), and
    each document's set of stems."""
    # document frequencies on both sides → weights
    df_items = np.bincount(np.concatenate(it.all_stems) if n_items else np.zeros(0, np.int64), minlength=n_vocab)
    doc_sets = [np.unique(v[v >= 0]) for v in docs.vids]
    df_docs = np.bincount(np.concatenate(doc_sets) if n_docs else np.zeros(0, np.int64), minlength=n_vocab)
    # frequencies over at least MIN_POPULATION texts: in a corpus of 3 documents, "in every document" says
    # nothing about a word being common
    p = np.maximum(df_items / max(n_items, MIN_POPULATION), df_docs / max(n_docs, MIN_POPULATION))
    weight = np.maximum(-np.log(np.maximum(p, 1.0 / max(n_items, n_docs, MIN_POPULATION))), 0.0)
    return weight, doc_sets


def _measured_stems(it: _Items, weight: np.ndarray, n_items: int,
                    params: AlignedParams) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Per item the stems it is measured on (its own when they carry enough of its weight, else all), the own
    stems' share of its weight, and the total weight measured."""
    # the stems each item is measured on: its own ones when they carry enough of its weight
    measured, own_share = [], np.ones(n_items)
    for i in range(n_items):
        tot = weight[it.all_stems[i]].sum()
        own = weight[it.stems[i]].sum()
        share = own / tot if tot > 0 else 1.0
        own_share[i] = share
        if it.own_used[i] and own >= params.own_min_weight:
            measured.append(it.stems[i])
        else:
            measured.append(it.all_stems[i])
    totals = np.array([weight[m].sum() for m in measured])
    totals = np.array([weight[m].sum() for m in measured])
    return measured, own_share, totals


def _candidates(measured: list[np.ndarray], weight: np.ndarray, totals: np.ndarray, doc_sets: list[np.ndarray],
                n_vocab: int, n_items: int, n_docs: int, params: AlignedParams) -> list[tuple[int, int, float]]:
    """(item, document, bound) for the ``k`` documents of each item with the most of its weight anywhere in them
    (an upper bound of the aligned containment), at least ``min_bound``."""
    A = _csr(measured, n_vocab, [weight[m] / tot if tot > 0 else weight[m] for m, tot in zip(measured, totals)])
    B = _csr(doc_sets, n_vocab).T.tocsc()
    cands: list[tuple[int, int, float]] = []
    block = 1024
    for s in range(0, n_items, block):
        bound = (A[s: s + block] @ B).toarray()
        kk = min(params.k, n_docs)
        if kk == 0:
            break
        top = np.argpartition(-bound, kk - 1, axis=1)[:, :kk]
        for r in range(bound.shape[0]):
            for d in top[r]:
                if bound[r, d] >= params.min_bound:
                    cands.append((s + r, int(d), float(bound[r, d])))
    return cands


def _aligned_windows(cands: list[tuple[int, int, float]], totals: np.ndarray, measured: list[np.ndarray],
                     it: _Items, docs: _Docs, weight: np.ndarray, params: AlignedParams) -> pd.DataFrame:
    """The best window of each candidate document (item weight matched within a window of the item's length),
    ranked per item by containment, with the window padded to the item's length for embedding."""
    rows = []
    for i, d, b in cands:
        if totals[i] <= 0:
            continue
        v = docs.vids[d]
        item_set = measured[i]
        mask = np.isin(v, item_set)
        pos = np.flatnonzero(mask)
        if len(pos) == 0:
            continue
        sid = v[pos]
        width = int(np.ceil(params.window_factor * it.n_tokens[i])) + params.window_extra
        best, first, last = _best_window(pos, weight[sid], sid, width)
        rows.append((i, d, b, best / totals[i], best, first, last))
    cols = ["i", "d", "doc_containment", "containment", "matched_weight", "first", "last"]
    cf = pd.DataFrame(rows, columns=cols)
    cf = cf.sort_values(["i", "containment", "doc_containment"], ascending=[True, False, False], kind="stable")
    cf["rank"] = cf.groupby("i").cumcount() + 1
    cf["cosine"] = np.nan
    cf["window_text_hash"] = None
    cf["window_start"] = -1
    cf["window_tokens"] = 0
    if len(cf):
        L = it.n_tokens[cf["i"].to_numpy()]
        first, last = cf["first"].to_numpy(), cf["last"].to_numpy()
        pad = np.maximum(0, (L - (last - first + 1)) // 2)
        cf["window_start"] = np.maximum(0, first - pad)
        cf["window_tokens"] = last + pad + 1 - cf["window_start"].to_numpy()
    return cf


def _embed_windows(cf: pd.DataFrame, embed: Callable[[list[str]], tuple[np.ndarray, list[str]]] | None, params: AlignedParams, docs: _Docs, doc_texts: Sequence[str],
                   texts: list[str], item_hashes: list[str | None]) -> int:
    """Cosine between each item and its best windows (rank ≤ embed_top, containment ≥ embed_min), into ``cf``;
    the items' text hashes into ``item_hashes``. Returns how many windows were embedded."""
    from benchtrust.contamination.embeddings import item_embedding_text

    n_embedded = 0
    if embed is not None and len(cf):
        sel = cf[(cf["rank"] <= params.embed_top) & (cf["containment"] >= params.embed_min)]
        if len(sel):
            win_texts = []
            for r in sel.itertuples(index=False):
                sp = docs.spans[r.d]
                a = int(r.window_start)
                b = min(len(sp) - 1, a + int(r.window_tokens) - 1)
                win_texts.append(doc_texts[r.d][sp[a, 0]: sp[b, 1]])
            qi = np.unique(sel["i"].to_numpy())
            qv, qh = embed([item_embedding_text(texts[i]) for i in qi])
            wv, wh = embed(win_texts)
            row_of = {int(i): k for k, i in enumerate(qi)}
            q = qv[[row_of[int(i)] for i in sel["i"]]]
            cf.loc[sel.index, "cosine"] = np.einsum("ij,ij->i", q, wv).astype(float)
            cf.loc[sel.index, "window_text_hash"] = wh
            for i, h in zip(qi, qh):
                item_hashes[int(i)] = h
            n_embedded = len(win_texts)
    return n_embedded


def _result_frame(cf: pd.DataFrame, items: pd.DataFrame, doc_ids: Sequence[str], totals: np.ndarray,
                  own_share: np.ndarray, it: _Items, item_hashes: list[str | None], n_items: int, corpus: str,
                  corpus_version: str) -> pd.DataFrame:
    """One row per item × candidate in ALIGNED_COLUMNS, best first; an item without a candidate gets rank 1 with
    no document."""
    # every item gets a row: the ones without a candidate, rank 1 with no document
    missing = sorted(set(range(n_items)) - set(cf["i"].tolist()))
    empty = pd.DataFrame({"i": missing, "d": -1, "doc_containment": 0.0, "containment": 0.0, "matched_weight": 0.0,
                          "rank": 1,
                          "cosine": np.nan, "window_text_hash": None, "window_start": -1, "window_tokens": 0})
    cf = pd.concat([cf.drop(columns=["first", "last"]), empty], ignore_index=True) if len(missing) else cf.drop(
        columns=["first", "last"])
    ii = cf["i"].to_numpy()
    ids = np.asarray(doc_ids, dtype=object)
    out = pd.DataFrame({
        "corpus": corpus, "corpus_version": corpus_version,
        "benchmark": items["benchmark"].to_numpy()[ii], "dataset_version": items["dataset_version"].to_numpy()[ii],
        "item_id": items["item_id"].to_numpy()[ii], "rank": cf["rank"].astype("int32").to_numpy(),
        "doc_id": np.where(cf["d"].to_numpy() >= 0, ids[np.maximum(cf["d"].to_numpy(), 0)], None),
        "doc_containment": cf["doc_containment"].astype(float).to_numpy(),
        "containment": cf["containment"].astype(float).to_numpy(),
        "matched_weight": cf["matched_weight"].astype(float).to_numpy(), "item_weight": totals[ii],
        "own_share": own_share[ii],
        "item_tokens": it.n_tokens[ii].astype("int32"), "window_start": cf["window_start"].astype("int32").to_numpy(),
        "window_tokens": cf["window_tokens"].astype("int32").to_numpy(), "cosine": cf["cosine"].astype(float).to_numpy(),
        "embedding_model": "", "item_text_hash": [item_hashes[i] for i in ii],
        "window_text_hash": cf["window_text_hash"].to_numpy(), "method_version": ALIGNED_VERSION,
    }, columns=ALIGNED_COLUMNS)
    return out.sort_values(["benchmark", "dataset_version", "item_id", "rank"], kind="stable").reset_index(drop=True)


def aligned_evidence(items: pd.DataFrame, doc_ids: Sequence[str], doc_texts: Sequence[str],
                     params: AlignedParams = AlignedParams(), embed=None, corpus: str = "",
                     corpus_version: str = "") -> AlignedResult:
    """The aligned evidence of every item of ``items`` (benchmark, dataset_version, item_id, text) in one corpus.

    ``embed``: a callable texts → (L2-normalised float32 array, text hashes) — ``EmbeddingCache.embed``'s first
    two results — or None to skip the embedding stage (cosine stays NULL). Returns one row per item × candidate
    (best first; an item without any candidate gets one row with doc_id NULL and containment 0)."""
    t = {"start": time.perf_counter()}
    vocab = Vocab()
    texts = items["text"].tolist()
    it, _ = _prepare_items(texts, vocab, params.shared_n)
    docs = _prepare_docs(doc_texts, vocab)
    t["tokenise"] = time.perf_counter()
    V = len(vocab.ids)
    n_items, n_docs = len(texts), len(doc_texts)
    weight, doc_sets = _weights(it, docs, V, n_items, n_docs)
    measured, own_share, totals = _measured_stems(it, weight, n_items, params)
    cands = _candidates(measured, weight, totals, doc_sets, V, n_items, n_docs, params)
    t["candidates"] = time.perf_counter()
    cf = _aligned_windows(cands, totals, measured, it, docs, weight, params)
    t["windows"] = time.perf_counter()
    item_hashes: list[str | None] = [None] * n_items
    n_embedded = _embed_windows(cf, embed, params, docs, doc_texts, texts, item_hashes)
    t["embed"] = time.perf_counter()
    out = _result_frame(cf, items, doc_ids, totals, own_share, it, item_hashes, n_items, corpus, corpus_version)
    secs = {k: round(v - t["start"], 2) for k, v in t.items() if k != "start"}
    return AlignedResult(out, n_items, n_docs, len(cands), n_embedded, secs)


def aligned_dir(lake: Path, corpus: str) -> Path:
    return corpus_signal_dir(lake, "aligned_matches", corpus)


def corpus_aligned(lake: Path, corpus: str, corpus_version: str, items: pd.DataFrame, embedder=None,
                   params: AlignedParams = AlignedParams(), max_docs: int = 200_000) -> tuple[pd.DataFrame, Path, dict]:
    """:func:`aligned_evidence` of one corpus version against ``items`` (every benchmark version in it), with
    embeddings through the lake's embedding cache; written once per (corpus version, item sets, params)."""
    from benchtrust.contamination.corpora import corpus_docs_path
    from benchtrust.contamination.embeddings import Embedder, EmbeddingCache
    from benchtrust.hashing import hash_obj

    embedder = embedder or Embedder()
    fp = hash_obj([ALIGNED_VERSION, embedder.name, params.__dict__,
                   sorted(set(zip(items["benchmark"], items["dataset_version"])))], 12)
    out = aligned_dir(lake, corpus) / f"{corpus_version}__{fp}.parquet"
    if out.exists():
        return pd.read_parquet(out), out, {"skipped": True}
    docs = pd.read_parquet(corpus_docs_path(lake, corpus, corpus_version), columns=["doc_id", "text"])
    if len(docs) > max_docs:
        raise ValueError(f"corpus {corpus!r} has {len(docs)} documents > max_aligned_docs={max_docs}: the aligned "
                         "pass holds every document's tokens in memory; set `aligned: false` for it or raise the limit")
    cache = EmbeddingCache(lake, embedder)

    def embed(texts: list[str]):
        v, h, _ = cache.embed(texts)
        return v, h

    res = aligned_evidence(items, docs["doc_id"].tolist(), docs["text"].tolist(), params, embed, corpus, corpus_version)
    frame = res.frame.assign(embedding_model=embedder.name)
    write_parquet(frame, out)
    return frame, out, {"candidates": res.n_candidates, "embedded": res.n_embedded, "seconds": res.seconds}

