"""Contamination and similarity audits (AUDITS.md audits 8 and 9). No Dagster import here.

- :mod:`.corpora`     reference corpora as a source type: registry (config/corpora.yaml), readers, content
                      versions, the lake file per version (``corpus_docs/corpus=<c>/<corpus_version>.parquet``)
- :mod:`.ngrams`      the normalised word n-gram definition and its vectorised numpy hashing / lookup
- :mod:`.overlap`     the corpus pass: scan a corpus once, keep the n-grams found in benchmark items (incremental
                      per corpus version × benchmark version × n); dbt measures the overlap per item
- :mod:`.embeddings`  all-MiniLM-L6-v2 embeddings cached by text hash, brute-force top-k neighbours
- :mod:`.aligned`     reworded copies inside unrelated text: order-insensitive stem containment in item-length
                      windows (sparse candidate stage) and the window's embedding cosine
- :mod:`.membership`  perplexity, zlib ratio, Min-K% Prob, Min-K%++, the prefix-completion probe, AUROC
- :mod:`.rewrites`    meaning-preserving rewrites of items for the control gap

The SQL side lives in dbt_project/models/{staging,intermediate/contamination,marts/contamination} and
dbt_project/macros/contamination; the Dagster assets in assets/contamination.py.
"""

from benchtrust.contamination.corpora import CorpusRegistry, item_text, make_corpus_source, write_corpus
from benchtrust.contamination.ngrams import NgramIndex, tokenize
from benchtrust.contamination.overlap import latest_item_sets, scan_corpus

__all__ = [
    "CorpusRegistry",
    "NgramIndex",
    "item_text",
    "latest_item_sets",
    "make_corpus_source",
    "scan_corpus",
    "tokenize",
    "write_corpus",
]
