-- Corpus n-grams found in benchmark items by the corpus pass, re-hashed here with the SQL definition
-- (bt_ngram_text_hash) so that they join the item n-grams built in int_item_ngrams_hashed.
with src as (
    {{ bt_lake_source('lake_corpus', 'corpus_ngram_matches', 'corpus_ngram_matches/*/*.parquet', [
        ['corpus', 'varchar'], ['corpus_version', 'varchar'], ['scan_id', 'varchar'], ['n', 'integer'],
        ['doc_id', 'varchar'], ['ngram_text', 'varchar'], ['occurrences', 'integer']]) }}
)

select
    *,
    {{ bt_ngram_text_hash('ngram_text') }} as ngram_hash
from src
