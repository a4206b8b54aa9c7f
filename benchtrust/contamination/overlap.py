"""The corpus pass of the n-gram overlap audit: scan a corpus's documents once and keep only the n-grams that
also occur in benchmark items (a semi-join done before anything is written, so the output stays small).

Incremental by construction. A scan is keyed by (corpus_version, benchmark, dataset_version, n): adding a
corpus scans that corpus only; a new benchmark version rescans every corpus against that version's n-grams
only; nothing already scanned is scanned again. Lake layout (hive-style folders, read by dbt):

  corpus_ngram_matches/corpus=<c>/<corpus_version>__<scan_id>.parquet
      corpus, corpus_version, scan_id, n, doc_id, ngram_text, occurrences
  corpus_ngram_scans/corpus=<c>/<corpus_version>__<scan_id>.parquet
      one row per (benchmark, dataset_version, n) the scan covered, with its size and speed

``ngram_text`` is the normalised n-gram ('tok tok … tok'); dbt hashes it with DuckDB's ``hash()`` and joins it
with the item n-grams it builds itself (models/intermediate/contamination), so the SQL layer owns the
definition of a match and this pass is only a fast pre-filter.

Why a numpy pass and not SQL: the same semi-join written in DuckDB (regexp_extract_all → hashed token lists →
list_slice n-grams → semi join) runs at ~14 MB/s on 2 threads here, this pass at ~100 MB/s per core (~180 MB/s
with 2 worker processes on 1 GB) with the same matches (benchmarks/results/ngram_throughput.json). Memory is
bounded by one Parquet row group (~32 MB of text) and 1 MB slices per worker, whatever the corpus size.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from benchtrust.contamination.corpora import item_text
from benchtrust.contamination.ngrams import TOKENIZER_VERSION, NgramIndex, arrow_buffers, match_batch
from benchtrust.hashing import hash_obj
from benchtrust.lake import benchmarks_with_items, corpus_signal_dir, write_parquet

MATCH_COLUMNS = ["corpus", "corpus_version", "scan_id", "n", "doc_id", "ngram_text", "occurrences"]
SCAN_COLUMNS = [
    "corpus",
    "corpus_version",
    "scan_id",
    "benchmark",
    "dataset_version",
    "n",
    "n_docs",
    "n_tokens",
    "n_bytes",
    "n_matches",
    "seconds",
    "mb_per_s",
    "engine",
    "tokenizer_version",
    "scanned_at",
]


def matches_dir(lake: Path, corpus: str) -> Path:
    return corpus_signal_dir(lake, "corpus_ngram_matches", corpus)


def scans_dir(lake: Path, corpus: str) -> Path:
    return corpus_signal_dir(lake, "corpus_ngram_scans", corpus)


def latest_item_sets(lake: Path, benchmarks: Iterable[str] | None = None) -> pd.DataFrame:
    """benchmark, dataset_version, item_id, text of the latest version of every benchmark in the lake."""
    from benchtrust.lake import latest_items

    names = list(benchmarks) if benchmarks is not None else benchmarks_with_items(lake)
    frames = []
    for b in names:
        items, info = latest_items(lake, b)
        frames.append(
            pd.DataFrame(
                {
                    "benchmark": b,
                    "dataset_version": info["dataset_version"],
                    "item_id": items["item_id"],
                    "text": [item_text(i, c) for i, c in zip(items["input"], items["choices"])],
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["benchmark", "dataset_version", "item_id", "text"])
    return pd.concat(frames, ignore_index=True)


def scanned_pairs(lake: Path, corpus: str, corpus_version: str) -> set[tuple[str, str, int]]:
    files = sorted(scans_dir(lake, corpus).glob(f"{corpus_version}__*.parquet"))
    done: set[tuple[str, str, int]] = set()
    for f in files:
        df = pd.read_parquet(f, columns=["benchmark", "dataset_version", "n"])
        done |= {(b, v, int(n)) for b, v, n in df.itertuples(index=False)}
    return done


@dataclass
class ScanResult:
    matches: pd.DataFrame  # doc_id, n, ngram_text, occurrences
    n_docs: int = 0
    n_bytes: int = 0
    n_tokens: int = 0
    seconds: float = 0.0
    threads: int = 1
    peak_batch_bytes: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def mb_per_s(self) -> float:
        return self.n_bytes / 1e6 / self.seconds if self.seconds > 0 else float("nan")


def _ids_at(ids, rows: np.ndarray) -> np.ndarray:
    """doc ids of the given rows of a batch (only those become Python strings)."""
    if hasattr(ids, "take"):
        import pyarrow as pa

        uniq, inv = np.unique(rows, return_inverse=True)
        return np.asarray(ids.take(pa.array(uniq)).to_pylist(), dtype=object)[inv]
    return np.asarray(ids, dtype=object)[rows]


def iter_parquet_text(path: Path, batch_rows: int = 8192, text_column: str = "text", id_column: str = "doc_id"):
    """(doc_ids, text) pyarrow array batches of a corpus_docs file, one row group in memory at a time
    (corpus_docs files are written in row groups of at most ~32 MB of text). Row groups are read whole:
    ``ParquetFile.iter_batches`` keeps allocating from Arrow's pool as it goes (RSS grew ~0.7 GB per GB read
    here), which would make memory grow with the corpus."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    for g in range(pf.metadata.num_row_groups):
        t = pf.read_row_group(g, columns=[id_column, text_column])
        ids, text = t.column(id_column), t.column(text_column)
        for s in range(0, t.num_rows, batch_rows):
            yield ids.slice(s, batch_rows), text.slice(s, batch_rows)
        del t, ids, text


def scan_batches(
    index: NgramIndex, batches, threads: int = 2, max_inflight: int | None = None, keep_text: bool = True
) -> ScanResult:
    """Run :func:`match_batch` over (doc_ids, text array) batches on ``threads`` threads (numpy releases the GIL
    in its heavy loops). At most ``max_inflight`` batches are held at once, so memory stays bounded."""
    t0 = time.perf_counter()
    threads = max(1, int(threads))
    max_inflight = max_inflight or 2 * threads
    inq: queue.Queue = queue.Queue(maxsize=max_inflight)
    results: list[pd.DataFrame] = []
    stats = {"docs": 0, "bytes": 0, "tokens": 0, "peak": 0}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            job = inq.get()
            if job is None:
                return
            try:
                ids, arr = job
                data, off = arrow_buffers(arr)
                m, nt = match_batch(index, data, off)
                frame = None
                if len(m.doc):
                    frame = pd.DataFrame(
                        {"doc_id": _ids_at(ids, m.doc), "n": m.n, "ngram_hash": m.ngram_hash, "occurrences": m.count}
                    )
                with lock:
                    stats["docs"] += len(off) - 1
                    stats["bytes"] += int(len(data))
                    stats["tokens"] += nt
                    stats["peak"] = max(stats["peak"], int(len(data)))
                    if frame is not None:
                        results.append(frame)
            except BaseException as e:  # surface worker errors in the caller
                errors.append(e)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    try:
        for job in batches:
            if errors:
                break
            inq.put(job)
    finally:
        for _ in pool:
            inq.put(None)
        for t in pool:
            t.join()
    if errors:
        raise errors[0]
    if results:
        df = pd.concat(results, ignore_index=True)
    else:
        df = pd.DataFrame(
            {
                "doc_id": pd.Series(dtype=object),
                "n": pd.Series(dtype="int32"),
                "ngram_hash": pd.Series(dtype="uint64"),
                "occurrences": pd.Series(dtype="int32"),
            }
        )
    if keep_text:
        df = _with_text(index, df)
    seconds = time.perf_counter() - t0
    return ScanResult(df, stats["docs"], stats["bytes"], stats["tokens"], seconds, threads, stats["peak"])


# --------------------------------------------------------------------------------------------------- processes
_WORKER_INDEX: NgramIndex | None = None


def _save_index(index: NgramIndex, path: Path) -> None:
    arrays = {"ns": np.array(index.ns), "bits": np.array([index.bits])}
    for n in index.ns:
        arrays[f"members_{n}"] = index.members[n]
        arrays[f"bitmap_{n}"] = index.bitmap[n]
    np.savez(path, **arrays)  # type: ignore[arg-type]  # numpy's stub lets **kwds bind allow_pickle: bool


def _init_worker(path: str) -> None:
    global _WORKER_INDEX
    z = np.load(path)
    ns = tuple(int(n) for n in z["ns"])
    _WORKER_INDEX = NgramIndex(
        ns=ns,
        texts=[],
        members={n: z[f"members_{n}"] for n in ns},
        bits=int(z["bits"][0]),
        bitmap={n: z[f"bitmap_{n}"] for n in ns},
    )


def _scan_row_group(job: tuple[str, int, int]) -> tuple[pd.DataFrame | None, int, int, int, int]:
    """Worker: the matches of one row group of a corpus_docs file (and the worker's resident memory in KiB
    while it still holds the row group; ru_maxrss is useless here, Linux carries it over from the parent)."""
    import pyarrow.parquet as pq

    path, group, batch_rows = job
    t = pq.ParquetFile(path).read_row_group(group, columns=["doc_id", "text"], use_threads=False)
    frames, n_docs, n_bytes, n_tokens = [], 0, 0, 0
    for s in range(0, t.num_rows, batch_rows):
        ids, arr = t.column("doc_id").slice(s, batch_rows), t.column("text").slice(s, batch_rows)
        data, off = arrow_buffers(arr)
        if _WORKER_INDEX is None:
            raise RuntimeError("scan worker started without its n-gram index (_init_worker did not run)")
        m, nt = match_batch(_WORKER_INDEX, data, off)
        n_docs += len(off) - 1
        n_bytes += int(len(data))
        n_tokens += nt
        if len(m.doc):
            frames.append(
                pd.DataFrame(
                    {"doc_id": _ids_at(ids, m.doc), "n": m.n, "ngram_hash": m.ngram_hash, "occurrences": m.count}
                )
            )
    rss = _rss_kib()
    del t
    return (pd.concat(frames, ignore_index=True) if frames else None), n_docs, n_bytes, n_tokens, rss


def _rss_kib() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError):
        return 0


def scan_parquet_processes(
    index: NgramIndex, path: Path, processes: int = 2, batch_rows: int = 8192, max_row_groups: int | None = None
) -> ScanResult:
    """:func:`scan_batches` over a corpus_docs file with worker *processes* (one row group per task): no GIL, so
    it scales with cores. The benchmark index is shipped to the workers as a .npz file (spawned, not forked:
    forking a process whose Arrow and Dagster threads are running is not safe)."""
    import multiprocessing as mp
    import tempfile

    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    n_groups = pq.ParquetFile(path).metadata.num_row_groups
    if max_row_groups is not None:
        n_groups = min(n_groups, max_row_groups)
    with tempfile.TemporaryDirectory(prefix="ngram_index_") as tmp:
        ipath = Path(tmp) / "index.npz"
        _save_index(index, ipath)
        ctx = mp.get_context("spawn")
        with ctx.Pool(processes, initializer=_init_worker, initargs=(str(ipath),)) as pool:
            results = pool.map(_scan_row_group, [(str(path), g, batch_rows) for g in range(n_groups)], chunksize=1)
    frames = [r[0] for r in results if r[0] is not None]
    df = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(
            {
                "doc_id": pd.Series(dtype=object),
                "n": pd.Series(dtype="int32"),
                "ngram_hash": pd.Series(dtype="uint64"),
                "occurrences": pd.Series(dtype="int32"),
            }
        )
    )
    df = _with_text(index, df)
    return ScanResult(
        df,
        sum(r[1] for r in results),
        sum(r[2] for r in results),
        sum(r[3] for r in results),
        time.perf_counter() - t0,
        processes,
        extra={
            "processes": processes,
            "row_groups": n_groups,
            "worker_peak_rss_mb": round(max((r[4] for r in results), default=0) / 1024, 1),
        },
    )


def _with_text(index: NgramIndex, df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["ngram_text"] = pd.Series(dtype=object)
    for n, grp in df.groupby("n", sort=False):
        uniq = np.unique(grp["ngram_hash"].to_numpy())
        lookup = dict(zip(uniq.tolist(), index.text_of(int(n), uniq)))
        df.loc[grp.index, "ngram_text"] = grp["ngram_hash"].map(lookup)
    return df


@dataclass
class CorpusScan:
    corpus: str
    corpus_version: str
    scan_id: str | None
    pairs: list[tuple[str, str, int]]
    result: ScanResult | None
    matches_path: Path | None = None
    scans_path: Path | None = None

    @property
    def skipped(self) -> bool:
        return self.result is None


def scan_corpus(
    lake: Path,
    corpus: str,
    corpus_version: str,
    items: pd.DataFrame,
    ns: Iterable[int],
    threads: int = 2,
    exclude_benchmarks: Iterable[str] = (),
    processes: int | None = None,
) -> CorpusScan:
    """Scan one corpus version against every (benchmark, dataset_version, n) of ``items`` not scanned yet.
    Files over 64 MB are scanned by ``processes`` worker processes (default: one per core, at most 8), smaller
    ones by ``threads`` threads in this process (starting processes costs about a second)."""
    from benchtrust.contamination.corpora import corpus_docs_path

    ns = tuple(sorted({int(n) for n in ns}))
    excluded = set(exclude_benchmarks)
    done = scanned_pairs(lake, corpus, corpus_version)
    versions = sorted({(b, v) for b, v in zip(items["benchmark"], items["dataset_version"]) if b not in excluded})
    todo = [(b, v, n) for b, v in versions for n in ns if (b, v, n) not in done]
    if not todo:
        return CorpusScan(corpus, corpus_version, None, [], None)
    todo_versions = sorted({(b, v) for b, v, _ in todo})
    todo_ns = sorted({n for _, _, n in todo})
    mask = pd.Series(list(zip(items["benchmark"], items["dataset_version"]))).isin(todo_versions).to_numpy()
    texts = items.loc[mask, "text"].tolist()
    index = NgramIndex.build(texts, todo_ns)
    path = corpus_docs_path(lake, corpus, corpus_version)
    procs = processes if processes is not None else min(8, os.cpu_count() or 1)
    if procs > 1 and path.stat().st_size > (64 << 20):
        res = scan_parquet_processes(index, path, processes=procs)
    else:
        res = scan_batches(index, iter_parquet_text(path), threads=threads)
    scan_id = hash_obj([todo, TOKENIZER_VERSION], 12)
    m = res.matches
    out = pd.DataFrame(
        {
            "corpus": corpus,
            "corpus_version": corpus_version,
            "scan_id": scan_id,
            "n": m["n"].astype("int32"),
            "doc_id": m["doc_id"].astype(str),
            "ngram_text": m["ngram_text"].astype(str),
            "occurrences": m["occurrences"].astype("int32"),
        },
        columns=MATCH_COLUMNS,
    )
    now = pd.Timestamp.now(tz="UTC")
    scans = pd.DataFrame(
        [
            {
                "corpus": corpus,
                "corpus_version": corpus_version,
                "scan_id": scan_id,
                "benchmark": b,
                "dataset_version": v,
                "n": int(n),
                "n_docs": res.n_docs,
                "n_tokens": res.n_tokens,
                "n_bytes": res.n_bytes,
                "n_matches": int((m["n"] == n).sum()),
                "seconds": res.seconds,
                "mb_per_s": res.mb_per_s,
                "engine": (
                    f"numpy-prefilter/{res.extra['processes']}processes"
                    if "processes" in res.extra
                    else f"numpy-prefilter/{res.threads}threads"
                ),
                "tokenizer_version": TOKENIZER_VERSION,
                "scanned_at": now,
            }
            for b, v, n in todo
        ],
        columns=SCAN_COLUMNS,
    )
    scans["n"] = scans["n"].astype("int32")
    # matches first, the scan record last: a scan without its record is simply redone
    mp = write_parquet(out, matches_dir(lake, corpus) / f"{corpus_version}__{scan_id}.parquet")
    sp = write_parquet(scans, scans_dir(lake, corpus) / f"{corpus_version}__{scan_id}.parquet")
    return CorpusScan(corpus, corpus_version, scan_id, todo, res, mp, sp)
