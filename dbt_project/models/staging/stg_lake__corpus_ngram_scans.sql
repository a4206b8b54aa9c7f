-- One row per (corpus version, benchmark version, n) the corpus pass has scanned: the pairs the n-gram
-- overlap audit has evidence for (a scanned pair with no match is evidence of no overlap).
{{ bt_lake_source('lake_corpus', 'corpus_ngram_scans', 'corpus_ngram_scans/*/*.parquet', [
    ['corpus', 'varchar'], ['corpus_version', 'varchar'], ['scan_id', 'varchar'], ['benchmark', 'varchar'],
    ['dataset_version', 'varchar'], ['n', 'integer'], ['n_docs', 'bigint'], ['n_tokens', 'bigint'],
    ['n_bytes', 'bigint'], ['n_matches', 'bigint'], ['seconds', 'double'], ['mb_per_s', 'double'],
    ['engine', 'varchar'], ['tokenizer_version', 'varchar'], ['scanned_at', 'timestamptz']]) }}
