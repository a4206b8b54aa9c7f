-- Nearest other items of every benchmark item, within its own benchmark and across benchmarks.
{{ bt_lake_source('lake_corpus', 'item_neighbours', 'item_neighbours/*.parquet', [
    ['embedding_model', 'varchar'], ['benchmark', 'varchar'], ['dataset_version', 'varchar'], ['item_id', 'varchar'],
    ['item_text_hash', 'varchar'], ['other_benchmark', 'varchar'], ['other_dataset_version', 'varchar'],
    ['other_item_id', 'varchar'], ['other_text_hash', 'varchar'], ['rank', 'integer'], ['cosine', 'double']]) }}
