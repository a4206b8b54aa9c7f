-- Aligned-window evidence of every benchmark item in every corpus (benchtrust.contamination.aligned): the best
-- candidate documents by order-insensitive stem containment inside a window as long as the item, with the
-- embedding cosine of that window where it was embedded.
{{ bt_lake_source('lake_corpus', 'aligned_matches', 'aligned_matches/*/*.parquet', [
    ['corpus', 'varchar'], ['corpus_version', 'varchar'], ['benchmark', 'varchar'], ['dataset_version', 'varchar'],
    ['item_id', 'varchar'], ['rank', 'integer'], ['doc_id', 'varchar'], ['doc_containment', 'double'],
    ['containment', 'double'], ['matched_weight', 'double'], ['item_weight', 'double'], ['own_share', 'double'],
    ['item_tokens', 'integer'], ['window_start', 'integer'], ['window_tokens', 'integer'], ['cosine', 'double'],
    ['embedding_model', 'varchar'], ['item_text_hash', 'varchar'], ['window_text_hash', 'varchar'],
    ['method_version', 'varchar']]) }}
