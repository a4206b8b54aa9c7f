-- Top-k nearest corpus documents (windows of long documents) of every benchmark item, from the embedding pass.
{{ bt_lake_source('lake_corpus', 'embedding_neighbours', 'embedding_neighbours/*/*.parquet', [
    ['embedding_model', 'varchar'], ['benchmark', 'varchar'], ['dataset_version', 'varchar'], ['item_id', 'varchar'],
    ['item_text_hash', 'varchar'], ['corpus', 'varchar'], ['corpus_version', 'varchar'], ['doc_id', 'varchar'],
    ['chunk_idx', 'integer'], ['doc_text_hash', 'varchar'], ['rank', 'integer'], ['cosine', 'double']]) }}
