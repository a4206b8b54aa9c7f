-- Reference-corpus documents, every corpus version in the lake (empty until a corpus is registered).
{{ bt_lake_source('lake_corpus', 'corpus_docs', 'corpus_docs/*/*.parquet', [
    ['corpus', 'varchar'], ['corpus_version', 'varchar'], ['doc_id', 'varchar'], ['text', 'varchar']]) }}
