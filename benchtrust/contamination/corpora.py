"""Reference corpora: the other side of the contamination audits, a source type of their own.

A corpus is any number of documents ``(doc_id, text)`` read from a local JSONL / Parquet / CSV file (or a
glob of them), a folder of text files, a Hugging Face dataset (hub name or local folder), or a benchmark
already in the lake (cross-benchmark leakage, train/test overlap). Like a benchmark, a corpus is versioned by
its content: ``corpus_version`` hashes every (doc_id, text) pair, independent of their order, so the same
documents from another file keep their version and one changed document makes a new one.

The registry is ``config/corpora.yaml`` (empty by default, so the default run is not slowed down), plus the data
folder's ``registry/corpora.yaml`` that ``benchtrust corpus add`` writes; both are typed (:class:`CorpusSettings`,
:data:`CorpusEntry`), and an error names the file, the key and the rule. The lake
keeps one immutable file per version: ``corpus_docs/corpus=<c>/<corpus_version>.parquet`` with the columns of
the ``corpus_docs`` contract (``corpus, corpus_version, doc_id, text``). Documents are streamed in batches,
so a corpus never has to fit in memory.
"""

from __future__ import annotations

import glob as _glob
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from benchtrust.contamination.corpus_registry import (
    CORPUS_ENTRY,
    DEFAULT_NGRAM_SIZES,
    BenchmarkCorpus,
    CorpusEntry,
    CorpusError,
    CorpusRegistryBase,
    CorpusSettings,
    FileCorpus,
    HFCorpus,
    TextFolderCorpus,
    add_user_corpus,
    corpus_spec_for,
    user_registry_path,
)
from benchtrust.lake import corpus_docs_path, corpus_latest_pointer, register, rejected_path
from benchtrust.readlimits import (
    CORPUS_LIMITS,
    LimitError,
    RecordError,
    check_file,
    iter_lines_bounded,
    loads_record,
)

# the registry half lives in corpus_registry; its names stay importable from here
__all__ = [
    "BATCH_BYTES",
    "BATCH_DOCS",
    "CORPUS_ENTRY",
    "DEFAULT_NGRAM_SIZES",
    "DOC_COLUMNS",
    "BatchValidator",
    "BenchmarkCorpus",
    "ContentHasher",
    "ContractOutcome",
    "CorpusEntry",
    "CorpusError",
    "CorpusRegistry",
    "CorpusSettings",
    "CorpusSource",
    "CorpusWrite",
    "FileCorpus",
    "HFCorpus",
    "TextFolderCorpus",
    "add_user_corpus",
    "corpus_docs_path",
    "corpus_spec_for",
    "item_text",
    "latest_corpus",
    "make_corpus_source",
    "user_registry_path",
    "write_corpus",
]

if TYPE_CHECKING:
    import pandas as pd

DOC_COLUMNS = ["corpus", "corpus_version", "doc_id", "text"]
BATCH_DOCS = 20_000
BATCH_BYTES = 32 << 20


# --------------------------------------------------------------------------------------------------- sources
@dataclass
class CorpusSource:
    """Streams (doc_id, text) batches of one corpus. ``kind``: file | text_folder | hf | benchmark."""

    name: str
    kind: str
    spec: dict[str, Any]
    base_dir: Path | None = None
    lake: Path | None = None

    # ------------------------------------------------------------------ helpers
    def _resolve(self, p: str) -> Path:
        q = Path(os.path.expanduser(p))
        return q if q.is_absolute() or self.base_dir is None else Path(self.base_dir) / q

    def _files(self) -> list[Path]:
        pat = str(self._resolve(self.spec["path"]))
        if any(ch in pat for ch in "*?["):
            files = sorted(Path(f) for f in _glob.glob(pat, recursive=True) if Path(f).is_file())
        elif Path(pat).is_dir():
            files = sorted(f for f in Path(pat).rglob("*") if f.is_file() and not f.name.startswith("."))
        else:
            files = [Path(pat)]
        if not files:
            raise CorpusError(f"corpus {self.name!r}: no files match {pat}")
        for f in files:
            try:  # a regular file within the corpus size limit (benchtrust.readlimits): no FIFO, device, loop
                check_file(f, CORPUS_LIMITS)
            except LimitError as e:
                raise CorpusError(f"corpus {self.name!r}: {f}: {e.rule}: {e.detail}") from None
        return files

    # ------------------------------------------------------------------ reading
    def batches(self) -> Iterator[tuple[list[str], list[str]]]:
        """(doc_ids, texts) batches of at most BATCH_DOCS documents / ~BATCH_BYTES of text. Documents whose
        text is empty or whitespace only are skipped (counted by :func:`write_corpus`)."""
        reader = {"file": self._read_files, "text_folder": self._read_text_folder, "hf": self._read_hf,
                  "benchmark": self._read_benchmark}.get(self.kind)
        if reader is None:
            raise CorpusError(f"corpus {self.name!r}: unknown type {self.kind!r} (file, text_folder, hf or benchmark)")
        ids: list[str] = []
        texts: list[str] = []
        size = 0
        for doc_id, text in reader():
            ids.append(str(doc_id))
            texts.append(text if isinstance(text, str) else ("" if text is None else str(text)))
            size += len(texts[-1])
            if len(ids) >= BATCH_DOCS or size >= BATCH_BYTES:
                yield ids, texts
                ids, texts, size = [], [], 0
        if ids:
            yield ids, texts

    def _read_files(self) -> Iterator[tuple[str, Any]]:
        text_field = self.spec.get("text_field", "text")
        id_field = self.spec.get("id_field")
        files = self._files()
        multi = len(files) > 1
        for f in files:
            fmt = self.spec.get("format") or _format_of(f)
            prefix = f"{f.name}:" if multi else ""
            if fmt == "jsonl":
                for i, rec in _iter_jsonl(f, self.name):
                    if text_field not in rec:
                        raise CorpusError(f"corpus {self.name!r}: {f}: line {i}: no field {text_field!r} "
                                          f"(fields: {sorted(rec)[:20]}); set text_field:")
                    yield (rec.get(id_field) if id_field else None) or f"{prefix}{i}", rec[text_field]
            elif fmt == "parquet":
                import pyarrow.parquet as pq

                pf = pq.ParquetFile(f)
                names = pf.schema_arrow.names
                if text_field not in names:
                    raise CorpusError(f"corpus {self.name!r}: {f}: no column {text_field!r} (columns: {names})")
                cols = [text_field] + ([id_field] if id_field and id_field in names else [])
                row = 0
                for b in pf.iter_batches(batch_size=10_000, columns=cols):
                    texts = b.column(text_field).to_pylist()
                    ids = b.column(id_field).to_pylist() if len(cols) > 1 else [None] * len(texts)
                    for t, d in zip(texts, ids):
                        row += 1
                        yield d if d is not None else f"{prefix}{row}", t
            elif fmt in ("csv", "tsv"):
                import csv

                with open(f, newline="", encoding="utf-8") as fh:
                    rd = csv.DictReader(fh, delimiter="\t" if fmt == "tsv" else ",")
                    if text_field not in (rd.fieldnames or []):
                        raise CorpusError(f"corpus {self.name!r}: {f}: no column {text_field!r} (columns: {rd.fieldnames})")
                    for i, rec in enumerate(rd, start=1):
                        yield (rec.get(id_field) if id_field else None) or f"{prefix}{i}", rec[text_field]
            elif fmt == "text":
                yield f.name if not multi else str(f.relative_to(f.parent)), f.read_text(encoding="utf-8", errors="replace")
            else:
                raise CorpusError(f"corpus {self.name!r}: {f}: unknown format {fmt!r} (jsonl, parquet, csv, tsv, text)")

    def _read_text_folder(self) -> Iterator[tuple[str, Any]]:
        root = self._resolve(self.spec["path"])
        if not root.is_dir():
            raise CorpusError(f"corpus {self.name!r}: {root} is not a folder")
        pattern = self.spec.get("glob", "**/*.txt")
        files = sorted(p for p in root.glob(pattern) if p.is_file())
        if not files:
            raise CorpusError(f"corpus {self.name!r}: no files match {root / pattern}")
        for p in files:
            yield str(p.relative_to(root)), p.read_text(encoding="utf-8", errors="replace")

    def _read_hf(self) -> Iterator[tuple[str, Any]]:
        import datasets

        name = self.spec["name"]
        local = self._resolve(name)
        try:
            if local.exists() and ((local / "state.json").exists() or (local / "dataset_dict.json").exists()):
                ds = datasets.load_from_disk(str(local))
            else:
                ds = datasets.load_dataset(str(local) if local.exists() else name, self.spec.get("config"),
                                           revision=self.spec.get("revision"))
        except Exception as e:  # datasets raises many types
            raise CorpusError(f"corpus {self.name!r}: cannot load {name!r}: {type(e).__name__}: {e}") from None
        if isinstance(ds, datasets.DatasetDict):
            split = self.spec.get("split", "train")
            if split not in ds:
                raise CorpusError(f"corpus {self.name!r}: split {split!r} not in {list(ds)}")
            ds = ds[split]
        text_field, id_field = self.spec.get("text_field", "text"), self.spec.get("id_field")
        if text_field not in ds.column_names:
            raise CorpusError(f"corpus {self.name!r}: no column {text_field!r} (columns: {ds.column_names})")
        row = 0
        for b in ds.iter(batch_size=10_000):
            ids = b[id_field] if id_field else [None] * len(b[text_field])
            for t, d in zip(b[text_field], ids):
                row += 1
                yield d if d is not None else str(row), t

    def _read_benchmark(self) -> Iterator[tuple[str, Any]]:
        from benchtrust.lake import latest_items

        if self.lake is None:
            raise CorpusError(f"corpus {self.name!r}: a benchmark corpus needs the lake")
        items, _ = latest_items(self.lake, self.spec["benchmark"])
        for it in items.itertuples(index=False):
            yield it.item_id, item_text(it.input, it.choices)

    def fingerprint(self) -> str:
        """Cheap identity of the input (file sizes and mtimes, dataset revision, benchmark version)."""
        from benchtrust.hashing import hash_obj

        if self.kind in ("file", "text_folder"):
            root = self._resolve(self.spec["path"])
            files = self._files() if self.kind == "file" else sorted(p for p in root.glob(self.spec.get("glob", "**/*.txt")))
            return hash_obj([[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in files])
        if self.kind == "benchmark" and self.lake is not None:
            from benchtrust.lake import latest_pointer

            p = latest_pointer(self.lake, self.spec["benchmark"])
            return hash_obj(json.loads(p.read_text()).get("dataset_version")) if p.exists() else "missing"
        return hash_obj(self.spec)

    def describe(self) -> dict[str, Any]:
        return {"type": self.kind, **{k: v for k, v in self.spec.items() if k != "type"}}


class CorpusRegistry(CorpusRegistryBase):
    """The corpus registry (:class:`CorpusRegistryBase`: files, validation, merging) with its readers."""

    def source(self, name: str, base_dir: str | Path | None = None, lake: Path | None = None) -> CorpusSource:
        if name not in self.corpora:
            raise CorpusError(f"unknown corpus {name!r}; known: {sorted(self.corpora)} (see {self.path})")
        return make_corpus_source(name, self.corpora[name], base_dir or self.origins.get(name, self.path).parent, lake)


def make_corpus_source(name: str, spec: dict[str, Any], base_dir: str | Path | None = None,
                       lake: Path | None = None) -> CorpusSource:
    spec = dict(spec or {})
    kind = spec.get("type")
    src = spec.get("source")
    if isinstance(src, dict):  # `source: {type: ..., ...}` like benchmarks.yaml
        spec = {**spec, **src}
        kind = src.get("type")
    needed = {"file": "path", "text_folder": "path", "hf": "name", "benchmark": "benchmark"}
    if kind not in needed:
        raise CorpusError(f"corpus {name!r}: unknown type {kind!r} (file, text_folder, hf or benchmark)")
    if needed[kind] not in spec:
        raise CorpusError(f"corpus {name!r}: type {kind} needs {needed[kind]!r}")
    return CorpusSource(name, kind, spec, Path(base_dir) if base_dir else None, lake)


def _format_of(p: Path) -> str:
    name = p.name.lower().removesuffix(".gz")
    for ext, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl"), (".parquet", "parquet"),
                     (".csv", "csv"), (".tsv", "tsv"), (".txt", "text"), (".md", "text")):
        if name.endswith(ext):
            return fmt
    return "text"


def _iter_jsonl(p: Path, corpus: str) -> Iterator[tuple[int, dict[str, Any]]]:
    import gzip

    opener = gzip.open if p.name.endswith(".gz") else open
    with opener(p, "rb") as fh:
        for i, raw in iter_lines_bounded(fh, CORPUS_LIMITS):  # a line is at most 8 MiB, read in bounded memory
            if raw is None:
                raise CorpusError(f"corpus {corpus!r}: {p}: line {i}: record_too_large: longer than "
                                  f"{CORPUS_LIMITS.max_record_bytes:,} bytes")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise CorpusError(f"corpus {corpus!r}: {p}: line {i}: encoding: not UTF-8 ({e.reason})") from None
            if not line.strip():
                continue
            try:
                rec = loads_record(line, CORPUS_LIMITS)
            except RecordError as e:
                raise CorpusError(f"corpus {corpus!r}: {p}: line {i}: {e.rule}: {e.detail}") from None
            except json.JSONDecodeError as e:
                raise CorpusError(f"corpus {corpus!r}: {p}: line {i}: invalid JSON ({e.msg})") from None
            if not isinstance(rec, dict):
                raise CorpusError(f"corpus {corpus!r}: {p}: line {i}: not a JSON object")
            yield i, rec


def item_text(input_: str, choices: Any) -> str:
    """The text of a benchmark item as the contamination audits see it: the input, then each choice on its
    own line (the SQL macro ``bt_item_text`` builds the same string)."""
    if choices is None:
        return input_
    ch = list(choices)
    return input_ if not ch else input_ + "\n" + "\n".join(str(c) for c in ch)


# --------------------------------------------------------------------------------------------------- versions
class ContentHasher:
    """Order-independent content hash of a set of (doc_id, text): the sum of per-document SHA-256 digests
    modulo 2**128 (a multiset hash), plus the count."""

    def __init__(self) -> None:
        self.acc = 0
        self.n = 0
        self.bytes = 0

    def update(self, doc_id: str, text: str) -> None:
        h = hashlib.sha256()
        b = doc_id.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
        h.update(text.encode("utf-8", "surrogatepass"))
        self.acc = (self.acc + int.from_bytes(h.digest()[:16], "little")) & ((1 << 128) - 1)
        self.n += 1
        self.bytes += len(text)

    def version(self) -> str:
        return hashlib.sha256(f"{self.acc:032x}:{self.n}".encode()).hexdigest()[:16]


# corpus_docs_path and corpus_latest_pointer: imported from benchtrust.lake (the lake layout lives there)


def latest_corpus(lake: Path, corpus: str) -> dict[str, Any]:
    p = corpus_latest_pointer(lake, corpus)
    if not p.exists():
        raise FileNotFoundError(f"no documents for corpus {corpus!r} in {lake} (materialize corpus_docs first)")
    return json.loads(p.read_text())


@dataclass
class CorpusWrite:
    corpus: str
    corpus_version: str
    path: Path
    n_docs: int
    n_chars: int
    skipped_empty: int
    written: bool  # False when this version was already in the lake
    contract: Any = None  # the validator's result (a ContractResult) for the first failing batch, else the last batch
    batches_checked: int = 0
    duplicate_doc_ids: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.contract is None or self.contract.success) and not self.duplicate_doc_ids


class ContractOutcome(Protocol):
    """What a batch validator returns (``data_contracts.ContractResult`` has it)."""

    @property
    def success(self) -> bool: ...


class BatchValidator(Protocol):
    """Checks one batch of ``DOC_COLUMNS`` rows against the ``corpus_docs`` contract. The core library does not
    import the contract layer (DESIGN.md, Layout): the asset passes ``data_contracts.validate_corpus_docs`` in."""

    def __call__(self, df: pd.DataFrame, /) -> ContractOutcome: ...


def write_corpus(source: CorpusSource, lake: Path, *, validator: BatchValidator | None) -> CorpusWrite:
    """Stream a corpus into the lake: pass 1 hashes the documents (the version), pass 2 writes the Parquet
    file — skipped when the version is already there — giving every batch to ``validator`` (the ``corpus_docs``
    contract: ``data_contracts.validate_corpus_docs``; ``None`` writes without one). A failed batch sends the file
    to ``rejected/`` instead of the lake. Empty documents are skipped and counted; duplicate doc ids fail."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    hasher = ContentHasher()
    seen: set[bytes] = set()
    dups: list[str] = []
    skipped = 0
    for ids, texts in source.batches():
        for d, t in zip(ids, texts):
            if not t.strip():
                skipped += 1
                continue
            key = hashlib.blake2b(d.encode("utf-8"), digest_size=12).digest()
            if key in seen and len(dups) < 20:
                dups.append(d)
            seen.add(key)
            hasher.update(d, t)
    if hasher.n == 0:
        raise CorpusError(f"corpus {source.name!r}: no non-empty documents")
    version = hasher.version()
    path = corpus_docs_path(lake, source.name, version)
    res = CorpusWrite(source.name, version, path, hasher.n, hasher.bytes, skipped, written=False,
                      duplicate_doc_ids=dups)
    if dups:
        return res
    if path.exists():
        _set_latest(lake, source, res)
        return res
    schema = pa.schema([(c, pa.string()) for c in DOC_COLUMNS])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    failed = None
    last = None
    # LZ4: decompresses ~3x faster than zstd here (1.4 vs 0.46 GB/s), which the corpus pass notices
    with pq.ParquetWriter(tmp, schema, compression="lz4") as w:
        for ids, texts in source.batches():
            keep = [(d, t) for d, t in zip(ids, texts) if t.strip()]
            if not keep:
                continue
            ids_k, texts_k = [k[0] for k in keep], [k[1] for k in keep]
            if validator is not None and failed is None:
                import pandas as pd

                df = pd.DataFrame({"corpus": source.name, "corpus_version": version, "doc_id": ids_k, "text": texts_k})
                last = validator(df)
                res.batches_checked += 1
                if not last.success:
                    failed = last
            w.write_table(pa.table({"corpus": [source.name] * len(ids_k), "corpus_version": [version] * len(ids_k),
                                    "doc_id": ids_k, "text": texts_k}, schema=schema))
    res.contract = failed or last
    if failed is not None:
        rejected = rejected_path(lake, path)
        rejected.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, rejected)
        res.path = rejected
        return res
    register(path, tmp)  # listed in the lake manifest before it appears (issue 15, item 6)
    os.replace(tmp, path)
    res.written = True
    _set_latest(lake, source, res)
    return res


def _set_latest(lake: Path, source: CorpusSource, res: CorpusWrite) -> None:
    p = corpus_latest_pointer(lake, source.name)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps({"corpus_version": res.corpus_version, "n_docs": res.n_docs, "n_chars": res.n_chars,
                               "fingerprint": source.fingerprint(), "source": source.describe()},
                              indent=2, sort_keys=True, default=str))
    os.replace(tmp, p)
