"""Normalised word n-grams, hashed in one vectorised numpy pass: the corpus side of the n-gram overlap audit.

The definition (GPT-3 / lm-evaluation-harness convention, made exact so that DuckDB and numpy agree):

1. lower-case every character (simple per-character Unicode mapping, what DuckDB's ``lower()`` does);
2. tokens are maximal runs of Unicode letters, numbers and ``_`` — everything else (punctuation included)
   separates tokens. In DuckDB: ``regexp_extract_all(lower(text), '[\\p{L}\\p{N}_]+')``, the same as
   ``regexp_split_to_array(lower(regexp_replace(text, '[^\\w\\s]', ' ', 'g')), '\\s+')`` on ASCII text;
3. an n-gram is n consecutive tokens of one document (never across two).

Difference from the harness's janitor: it *deletes* punctuation before splitting on whitespace ("don't" →
"dont", "U.S." → "us"), and its C++ helper cuts words after 11 bytes and splits multi-byte characters. Here
punctuation separates ("don t", "u s"), so "well-known" also matches "well known"; either convention is
fine as long as both sides use it, and here both sides do (the test suite checks numpy against DuckDB).

Hashing. A token hash is a polynomial over its (lower-cased) code points modulo 2**64; an n-gram hash is a
polynomial over its token hashes, finalised with a 64-bit mixer. Both are computed for a whole batch of
documents with prefix sums (``cumsum``) and modular inverses of the bases, so the cost is a handful of
vectorised passes over the bytes and over the tokens, independent of n. These hashes are only a *pre-filter*:
every n-gram found in a corpus is emitted as its normalised text, and the SQL layer hashes that text with
DuckDB's own ``hash()`` and joins it with the benchmark n-grams it built itself — a numpy collision can add a
row, never a match.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

U64 = np.uint64
MASK64 = (1 << 64) - 1
_R = 0x9E3779B97F4A7C15  # base of the token polynomial (odd: invertible modulo 2**64)
_Q = 0xC2B2AE3D27D4EB4F  # base of the n-gram polynomial
TOKENIZER_VERSION = "lower-simple+LN_-runs/v1"


def _inv64(a: int) -> int:
    """Inverse of an odd a modulo 2**64 (Newton iteration)."""
    x = a
    for _ in range(7):
        x = (x * (2 - a * x)) & MASK64
    return x


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray]:
    """WORD[cp]: is code point cp a token character (letter, number, '_')?  LOWER[cp]: its simple lower case."""
    n = 0x110000
    word = np.zeros(n, dtype=bool)
    lower = np.arange(n, dtype=np.uint32)
    for cp in range(n):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat[0] in "LN" or ch == "_":
            word[cp] = True
        lo = ch.lower()
        if len(lo) == 1 and lo != ch:
            lower[cp] = ord(lo)
    return word, lower


@lru_cache(maxsize=1)
def _byte_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per byte: is it (part of) a token character, and its value in the token hash. ASCII bytes are final;
    bytes >= 0x80 belong to multi-byte characters and are fixed up per character in :func:`hash_tokens`."""
    word, lower = _tables()
    w = word[:256].copy()
    w[128:] = True
    val = (lower[:256].astype(np.uint64) + 1) * w
    val[128:] = 0
    return w, val


@lru_cache(maxsize=1)
def _length_changing() -> np.ndarray:
    """The few code points whose lower case has another UTF-8 length (Kelvin sign K → k, Ω → ω, ẞ → ß, …):
    tokens holding one are re-hashed from their lower-cased text (:func:`token_hash_py`)."""
    _, lower = _tables()
    idx = np.flatnonzero(lower != np.arange(len(lower), dtype=np.uint32))
    return np.array(
        [i for i in idx if len(chr(i).encode("utf-8")) != len(chr(int(lower[i])).encode("utf-8"))], dtype=np.uint32
    )


@lru_cache(maxsize=1)
def _lower_translation() -> dict[int, int]:
    _, lower = _tables()
    idx = np.flatnonzero(lower != np.arange(len(lower), dtype=np.uint32))
    return {int(i): int(lower[i]) for i in idx}


_TOKEN_RE = re.compile(r"[^\W]+")  # Python's \w = letters, numbers, '_' (str.isalnum() or '_')


def tokenize(text: str) -> list[str]:
    """The reference tokeniser (pure Python): what DuckDB's ``regexp_extract_all(lower(text),
    '[\\p{L}\\p{N}_]+')`` returns. Slow; used for item text and for the few matched n-grams."""
    return _TOKEN_RE.findall(text.translate(_lower_translation()))


class _Powers:
    """Powers of the bases and of their inverses, grown on demand (shared by every scan of a process)."""

    def __init__(self) -> None:
        self.size = 0
        self.r = self.ri = self.q = self.qi = np.empty(0, dtype=U64)

    def ensure(self, n: int) -> None:
        if n <= self.size:
            return
        size = max(n, 2 * self.size, 1 << 16)

        def pw(base: int) -> np.ndarray:
            p = np.full(size, U64(base), dtype=U64)
            p[0] = 1
            return np.cumprod(p, dtype=U64)

        with np.errstate(over="ignore"):
            self.r, self.ri = pw(_R), pw(_inv64(_R))
            self.q, self.qi = pw(_Q), pw(_inv64(_Q))
        self.size = size


_POW = _Powers()


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place: spreads the polynomial's bits so that the high bits index a filter."""
    h ^= h >> U64(30)
    h *= U64(0xBF58476D1CE4E5B9)
    h ^= h >> U64(27)
    h *= U64(0x94D049BB133111EB)
    h ^= h >> U64(31)
    return h


def _decode_at(data: np.ndarray, leads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Code points and byte lengths of the UTF-8 sequences starting at ``leads`` (lead bytes >= 0xC0).
    Documents reach here as valid UTF-8 strings (Arrow / Python), so sequences are well formed."""
    L = len(data)
    b0 = data[leads].astype(np.uint32)

    def cont(k: int) -> np.ndarray:
        return (data[np.minimum(leads + k, L - 1)] & 0x3F).astype(np.uint32)

    c1, c2, c3 = cont(1), cont(2), cont(3)
    two = b0 < 0xE0
    three = (b0 >= 0xE0) & (b0 < 0xF0)
    cp = np.where(
        two,
        ((b0 & 0x1F) << 6) | c1,
        np.where(three, ((b0 & 0x0F) << 12) | (c1 << 6) | c2, ((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3),
    )
    nbytes = np.where(two, 2, np.where(three, 3, 4))
    return np.minimum(cp, 0x10FFFF).astype(np.uint32), nbytes


def token_hash_py(token: str) -> int:
    """The token hash of one (lower-cased) token, in Python: Σ (code point + 1)·R^(byte offset) mod 2**64 over
    its characters, each at the offset of its first UTF-8 byte — what :func:`hash_tokens` computes in bulk."""
    h, pos = 0, 0
    for ch in token:
        n = len(ch.encode("utf-8"))
        h = (h + (ord(ch) + 1) * pow(_R, pos, 1 << 64)) & MASK64
        pos += n
    return h


@dataclass
class TokenBatch:
    """Tokens of a batch of documents: one hash per token, and where each document's tokens start."""

    token_hash: np.ndarray  # uint64 per token
    doc_first_token: np.ndarray  # int64 per document (+1 at the end): first token index

    @property
    def n_tokens(self) -> int:
        return len(self.token_hash)

    def doc_of(self, token_index: np.ndarray) -> np.ndarray:
        """The document (index in the batch) of each given token."""
        return np.searchsorted(self.doc_first_token, token_index, side="right") - 1


def _empty_batch(n_docs: int) -> TokenBatch:
    return TokenBatch(np.zeros(0, dtype=U64), np.zeros(n_docs + 1, dtype=np.int64))


def hash_tokens(data: np.ndarray, offsets: np.ndarray) -> TokenBatch:
    """Tokenise and hash a batch of UTF-8 documents given as one byte buffer and document offsets
    (``len(offsets) == n_docs + 1``, ``offsets[0] == 0``) — the layout of an Arrow string array.

    Works on bytes: ASCII bytes through 256-entry tables; each multi-byte character (decoded only where one
    occurs) gets its class on all its bytes and its lower-case code point as the value of its first byte."""
    offsets = np.asarray(offsets, dtype=np.int64)
    n_docs = len(offsets) - 1
    L = len(data)
    if L == 0 or n_docs == 0:
        return _empty_batch(n_docs)
    w_tab, v_tab = _byte_tables()
    word = w_tab[data]
    v = v_tab[data]
    exotic_at = None
    high = np.flatnonzero(data >= 0xC0)  # lead bytes of multi-byte characters
    if len(high):
        word_t, lower_t = _tables()
        cp, nb = _decode_at(data, high)
        is_word = word_t[cp]
        word[high] = is_word
        for k in (1, 2, 3):
            m = nb > k
            word[high[m] + k] = is_word[m]
        v[high] = (lower_t[cp].astype(U64) + U64(1)) * is_word
        ex = np.isin(cp, _length_changing())
        if ex.any():
            exotic_at = high[ex]
    # token starts / ends from the edges of the word mask; documents are glued together in the buffer, so a
    # token that runs over a document boundary is split there afterwards
    x = word.view(np.int8)
    d = np.empty(L + 1, dtype=np.int8)
    d[0] = x[0]
    np.subtract(x[1:], x[:-1], out=d[1:L])
    d[L] = -x[-1]
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1  # inclusive
    inner = offsets[1:-1]
    inner = inner[(inner > 0) & (inner < L)]
    if len(inner):
        cross = inner[word[inner] & word[inner - 1]]
        if len(cross):
            starts = np.insert(starts, np.searchsorted(starts, cross), cross)
            ends = np.insert(ends, np.searchsorted(ends, cross - 1), cross - 1)
    if len(starts) == 0:
        return _empty_batch(n_docs)
    _POW.ensure(L + 1)
    with np.errstate(over="ignore"):
        v *= _POW.r[:L]
        np.cumsum(v, out=v)
        th = v[ends]
        if starts[0] == 0:
            th[1:] -= v[starts[1:] - 1]
        else:
            th -= v[starts - 1]
        th *= _POW.ri[starts]
    if exotic_at is not None:  # rare: re-hash the tokens holding a length-changing character exactly
        for t in np.unique(np.searchsorted(starts, exotic_at, side="right") - 1):
            raw = bytes(data[starts[t] : ends[t] + 1]).decode("utf-8")
            th[t] = U64(token_hash_py(raw.translate(_lower_translation())))
    doc_first = np.searchsorted(starts, offsets, side="left")  # first token at or after each document start
    return TokenBatch(th, doc_first)


def ngram_hashes(tb: TokenBatch, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every n-gram inside one document, and the index of each n-gram's first token."""
    T = tb.n_tokens
    if n > T:
        return np.zeros(0, dtype=U64), np.zeros(0, dtype=np.int64)
    _POW.ensure(T + 1)
    with np.errstate(over="ignore"):
        c = tb.token_hash * _POW.q[:T]
        np.cumsum(c, out=c)
        g = c[n - 1 :].copy()
        g[1:] -= c[: T - n]
        g *= _POW.qi[: T - n + 1]
        g += U64(n)  # n-grams of different n never share a hash by construction
        _mix(g)
    # an n-gram starting at p is inside one document unless a document starts at p+1 … p+n-1
    ok = np.ones(T - n + 1, dtype=bool)
    inner = tb.doc_first_token[1:-1]
    bad = (inner[:, None] - np.arange(1, n)[None, :]).ravel()
    ok[bad[(bad >= 0) & (bad < T - n + 1)]] = False
    first = np.flatnonzero(ok)
    return g[first], first


def arrow_buffers(arr) -> tuple[np.ndarray, np.ndarray]:
    """(bytes, offsets) of a pyarrow string / large_string array without copying the text; nulls are empty."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = (
            arr.chunk(0)
            if arr.num_chunks == 1
            else (pa.concat_arrays(arr.chunks) if arr.num_chunks else pa.array([], type=arr.type))
        )
    if arr.null_count:
        arr = arr.fill_null("")
    off_type: type[np.signedinteger[Any]]
    if pa.types.is_large_string(arr.type):
        off_type = np.int64
    elif pa.types.is_string(arr.type):
        off_type = np.int32
    else:
        raise TypeError(f"expected a string array, got {arr.type}")
    bufs = arr.buffers()
    off = np.frombuffer(bufs[1], dtype=off_type)[arr.offset : arr.offset + len(arr) + 1].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, dtype=np.uint8)
    data = data[off[0] : off[-1]]
    return data, off - off[0]


def texts_to_buffers(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow as pa

    return arrow_buffers(pa.array(list(texts), type=pa.large_string()))


# --------------------------------------------------------------------------------------------------- the index
@dataclass
class NgramIndex:
    """The benchmark side: every n-gram hash of a set of item texts, with a bitmap pre-filter.

    ``members[n]`` is the sorted array of distinct n-gram hashes; ``where[n][k]`` = (item row, token position)
    of one occurrence of ``members[n][k]``, from which the n-gram's text is rebuilt for the SQL layer.
    """

    ns: tuple[int, ...]
    texts: list[str]
    members: dict[int, np.ndarray] = field(default_factory=dict)
    where: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    bits: int = 26
    bitmap: dict[int, np.ndarray] = field(default_factory=dict)
    _tokens: dict[int, list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, texts: Sequence[str], ns: Iterable[int] = (13,), bits: int | None = None) -> NgramIndex:
        ns = tuple(sorted({int(n) for n in ns}))
        if not ns or min(ns) < 1:
            raise ValueError(f"n-gram sizes must be positive integers, got {ns}")
        idx = cls(ns=ns, texts=list(texts))
        data, off = texts_to_buffers(idx.texts)
        tb = hash_tokens(data, off)
        total = 0
        for n in ns:
            h, first = ngram_hashes(tb, n)
            order = np.argsort(h, kind="stable")
            h, first = h[order], first[order]
            keep = np.ones(len(h), dtype=bool)
            keep[1:] = h[1:] != h[:-1]
            h, first = h[keep], first[keep]
            row = tb.doc_of(first)
            pos = first - tb.doc_first_token[row]
            idx.members[n] = h
            idx.where[n] = (row, pos)
            total += len(h)
        # a bitmap ~32 bits per member keeps the false-pass rate of the pre-filter near 3 %
        idx.bits = bits or int(min(30, max(16, np.ceil(np.log2(max(total, 1) * 32)))))
        for n in ns:
            bm = np.zeros(1 << (idx.bits - 3), dtype=np.uint8)
            slot = (idx.members[n] >> U64(64 - idx.bits)).astype(np.int64)
            np.bitwise_or.at(bm, slot >> 3, (1 << (slot & 7)).astype(np.uint8))
            idx.bitmap[n] = bm
        return idx

    def n_ngrams(self, n: int) -> int:
        return len(self.members[n])

    def contains(self, n: int, h: np.ndarray) -> np.ndarray:
        """Boolean mask: which of the hashes h are n-grams of the indexed texts."""
        if len(h) == 0 or len(self.members[n]) == 0:
            return np.zeros(len(h), dtype=bool)
        slot = (h >> U64(64 - self.bits)).astype(np.int64)
        cand = (self.bitmap[n][slot >> 3] >> (slot & 7).astype(np.uint8)) & 1
        cand = cand.astype(bool)
        ci = np.flatnonzero(cand)
        if len(ci):
            m = self.members[n]
            k = np.searchsorted(m, h[ci])
            k[k == len(m)] = 0
            cand[ci] = m[k] == h[ci]
        return cand

    def text_of(self, n: int, h: np.ndarray) -> list[str]:
        """The normalised text ('tok tok … tok') of member hashes (rebuilt from the item they came from)."""
        m = self.members[n]
        k = np.searchsorted(m, h)
        rows, poss = self.where[n]
        out = []
        for kk in k:
            r, p = int(rows[kk]), int(poss[kk])
            toks = self._tokens.get(r)
            if toks is None:
                toks = self._tokens[r] = tokenize(self.texts[r])
            out.append(" ".join(toks[p : p + n]))
        return out


@dataclass
class BatchMatches:
    """n-grams of a document batch found in the index: one row per (document, n, distinct n-gram)."""

    doc: np.ndarray  # int64: document index within the batch
    n: np.ndarray  # int32
    ngram_hash: np.ndarray  # uint64 (numpy hash)
    count: np.ndarray  # int32: occurrences of that n-gram in that document


def match_batch(
    index: NgramIndex, data: np.ndarray, offsets: np.ndarray, slice_bytes: int = 1 << 20
) -> tuple[BatchMatches, int]:
    """The hot loop: tokenise, hash and look up every n-gram of a batch of documents. The batch is cut into
    slices of about ``slice_bytes`` (whole documents), so the 8-byte-per-character temporaries stay in cache.
    Returns the matches (document indices relative to the batch) and the number of tokens seen."""
    offsets = np.asarray(offsets, dtype=np.int64)
    n_docs = len(offsets) - 1
    cuts = np.unique(np.searchsorted(offsets, np.arange(0, int(offsets[-1]), slice_bytes), side="right") - 1)
    cuts = np.unique(np.concatenate([cuts[(cuts > 0) & (cuts < n_docs)], [0, n_docs]]))
    parts: list[BatchMatches] = []
    n_tokens = 0
    for a, b in itertools.pairwise(cuts):
        lo, hi = int(offsets[a]), int(offsets[b])
        m, nt = _match_slice(index, data[lo:hi], offsets[a : b + 1] - lo)
        n_tokens += nt
        if len(m.doc):
            m.doc += a
            parts.append(m)
    if not parts:
        e = np.zeros(0, dtype=np.int64)
        return BatchMatches(e, e.astype(np.int32), e.astype(U64), e.astype(np.int32)), n_tokens
    return BatchMatches(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in ("doc", "n", "ngram_hash", "count"))
    ), n_tokens


def _match_slice(index: NgramIndex, data: np.ndarray, offsets: np.ndarray) -> tuple[BatchMatches, int]:
    tb = hash_tokens(data, offsets)
    docs, ns, hs, cnts = [], [], [], []
    for n in index.ns:
        h, first = ngram_hashes(tb, n)
        hit = index.contains(n, h)
        if not hit.any():
            continue
        hh = h[hit]
        dd = tb.doc_of(first[hit])
        # distinct (doc, hash) with occurrence counts
        order = np.lexsort((hh, dd))
        hh, dd = hh[order], dd[order]
        new = np.ones(len(hh), dtype=bool)
        new[1:] = (hh[1:] != hh[:-1]) | (dd[1:] != dd[:-1])
        starts = np.flatnonzero(new)
        counts = np.diff(np.append(starts, len(hh)))
        docs.append(dd[starts])
        hs.append(hh[starts])
        cnts.append(counts.astype(np.int32))
        ns.append(np.full(len(starts), n, dtype=np.int32))
    if not docs:
        e = np.zeros(0, dtype=np.int64)
        return BatchMatches(e, e.astype(np.int32), e.astype(U64), e.astype(np.int32)), tb.n_tokens
    return BatchMatches(np.concatenate(docs), np.concatenate(ns), np.concatenate(hs), np.concatenate(cnts)), tb.n_tokens
