-- Sentence embeddings cached by text hash, one folder per embedding model (all-MiniLM-L6-v2 by default).
{{ bt_lake_source('lake_corpus', 'text_embeddings', 'embeddings/*/*.parquet', [
    ['embedding_model', 'varchar'], ['text_hash', 'varchar'],
    ['embedding', 'float[' ~ bt_setting_var('embedding_dim') ~ ']']]) }}
