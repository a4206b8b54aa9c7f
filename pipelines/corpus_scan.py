"""``benchtrust corpus scan``: the contamination assets of registered corpora as Dagster backfills on the
instance, then the contamination marts, and an evidence summary read back from ``marts.contamination_evidence``.

Like ``run`` and ``import`` (:mod:`pipelines.run`), nothing here executes an asset: it submits backfills and
follows them, holding the data folder's command lock and hosting the daemons when none runs.

1. (with ``--benchmark B`` and no items of B in the lake yet) ``benchmark_items[B]``;
2. per corpus: ``corpus_docs`` → ``corpus_ngram_matches`` (+ ``corpus_ngram_scans``) → ``corpus_aligned_matches``,
   and for corpora with ``embed`` on also ``text_embeddings`` and ``corpus_neighbours``. The corpus passes
   compare each corpus with the latest items of every benchmark in the lake;
3. the dbt models of the contamination marts and their parents (one run in the ``warehouse`` pool).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.events import AssetKeyPartitionKey

from pipelines.subsets import WAREHOUSE_GROUPS

CORPUS_ASSETS = ("corpus_docs", "corpus_ngram_matches", "corpus_ngram_scans", "corpus_aligned_matches")
EMBEDDED_CORPUS_ASSETS = ("corpus_neighbours",)
CONTAMINATION_MARTS = ("contamination_evidence", "contamination_summary", "near_duplicates", "control_gap")
Log = Callable[[str], None]


class ScanError(ValueError):
    """A usage error of ``corpus scan`` (unknown corpus or benchmark, nothing to compare): one line, exit 2."""


@dataclass
class ScanResult:
    corpora: list[str]
    runs: list[dict[str, Any]] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r["success"] for r in self.runs)


def corpus_subset(corpora: Iterable[str], embedded: Iterable[str], graph: Any) -> AssetGraphSubset:
    """The corpus assets of ``corpora`` (partitions of ``corpora``), plus the embedding cache and the nearest
    documents for the ``embedded`` ones."""
    corpora, embedded = list(corpora), list(embedded)
    keys = {AssetKeyPartitionKey(dg.AssetKey(a), c) for c in corpora for a in CORPUS_ASSETS}
    keys |= {AssetKeyPartitionKey(dg.AssetKey(a), c) for c in embedded for a in EMBEDDED_CORPUS_ASSETS}
    if embedded:
        keys.add(AssetKeyPartitionKey(dg.AssetKey("text_embeddings"), None))
    return AssetGraphSubset.from_asset_partition_set(keys, graph)


def contamination_warehouse_subset(graph: Any) -> AssetGraphSubset:
    """The contamination marts and every dbt model upstream of them."""
    marts = [dg.AssetKey(["marts", m]) for m in CONTAMINATION_MARTS]
    keys = dg.AssetSelection.assets(*marts).upstream().resolve(graph)
    keep = {k for k in keys if graph.get(k).group_name in WAREHOUSE_GROUPS and graph.get(k).partitions_def is None}
    return AssetGraphSubset.from_asset_keys(keep, graph)


def evidence_summary(warehouse: Path, corpora: list[str], benchmark: str | None = None) -> list[dict[str, Any]]:
    """Per corpus × benchmark × signal × method: items with evidence, items flagged, the largest value."""
    from benchtrust.query import connect_readonly

    if not corpora:
        return []
    con = connect_readonly(warehouse, 10.0)
    try:
        marks = ", ".join("?" for _ in corpora)
        sql = (
            "select corpus, benchmark, signal, method, count(distinct item_id) as items, "
            "count(distinct item_id) filter (where is_flagged) as flagged, max(value) as max_value "
            "from marts.contamination_evidence "
            f"where evidence_source = 'corpus' and corpus in ({marks})"
            + (" and benchmark = ?" if benchmark else "")
            + " group by all order by corpus, benchmark, signal, method"
        )
        params: list[Any] = [*corpora, *([benchmark] if benchmark else [])]
        cur = con.execute(sql, params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()


def _checked_request(
    reg: Any, lake: Path, names: list[str] | None, benchmark: str | None
) -> tuple[list[str], set[str]]:
    """The corpora to scan (every registered one when ``names`` is empty) and the benchmarks in the lake; a clear
    ScanError when nothing is registered, a name is unknown, or there is no benchmark to compare them with."""
    from benchtrust.contamination.overlap import benchmarks_with_items
    from benchtrust.registry import Registry

    if not reg.corpora:
        raise ScanError("no corpus is registered; add one with `benchtrust corpus add NAME PATH`")
    unknown = [n for n in names or [] if n not in reg.corpora]
    if unknown:
        raise ScanError(f"unknown corpus {unknown[0]!r}; known: {sorted(reg.corpora)}")
    corpora = list(names or reg.corpora)
    in_lake = set(benchmarks_with_items(lake))
    if benchmark is not None and benchmark not in in_lake and benchmark not in Registry.load().benchmarks:
        raise ScanError(
            f"unknown benchmark {benchmark!r}; in the lake: {sorted(in_lake)}, registered: "
            f"{sorted(Registry.load().benchmarks)}"
        )
    if benchmark is None and not in_lake:
        raise ScanError(
            "no benchmark items in the lake to compare the corpus with; run `benchtrust run` first "
            "or pass --benchmark B"
        )
    return corpora, in_lake


def scan_corpora(
    names: list[str] | None = None,
    benchmark: str | None = None,
    log: Log = print,
    *,
    live: bool = False,
    wait: bool = True,
) -> ScanResult:
    """``benchtrust corpus scan [NAME] [--benchmark B]``: every registered corpus when ``names`` is empty."""
    from assets.contamination import sync_corpus_partitions
    from benchtrust.contamination.corpora import CorpusRegistry
    from benchtrust.settings import get_settings
    from pipelines.daemon import command_lock, hosted_daemons
    from pipelines.definitions import defs
    from pipelines.run import (
        follow,
        profile_subset,
        quiet_loggers,
        recover_interrupted,
        register_partitions,
        run_log_path,
        submit_backfill,
    )
    from sensors.automation import RUN_PROFILE_TAG, TRIGGER_TAG

    settings = get_settings().ensure()
    reg = CorpusRegistry.for_settings(settings)
    corpora, in_lake = _checked_request(reg, settings.lake, names, benchmark)
    from pipelines.instance import get_instance

    instance = get_instance()
    result = ScanResult(corpora)
    graph = defs.resolve_asset_graph()
    tags = {TRIGGER_TAG: "cli", RUN_PROFILE_TAG: "corpus"}  # automation leaves a command's own chain alone
    with command_lock(
        settings.home,
        f"corpus scan {' '.join(corpora)}",
        wait=wait,
        on_wait=lambda who: log(f"waiting for {who} to finish"),
    ):
        sync_corpus_partitions(instance)
        with hosted_daemons(instance, run_log_path(settings.home)) as hosting:
            if hosting:
                recover_interrupted(instance, log)
            if benchmark is not None and benchmark not in in_lake:
                register_partitions(instance, [benchmark], [])
                bf = submit_backfill(
                    instance,
                    profile_subset([benchmark], [], graph),
                    tags=tags,
                    title=f"items {benchmark} (corpus scan)",
                    run_config=quiet_loggers(),
                )
                result.runs += follow(instance, bf, log, live=live)
            if all(r["success"] for r in result.runs):
                embedded = [c for c in corpora if reg.embed(c)]
                bf = submit_backfill(
                    instance,
                    corpus_subset(corpora, embedded, graph),
                    tags=tags,
                    title=f"corpus scan {', '.join(corpora)}",
                    run_config=quiet_loggers(),
                )
                result.runs += follow(instance, bf, log, live=live)
            if all(r["success"] for r in result.runs):
                bf = submit_backfill(
                    instance,
                    contamination_warehouse_subset(graph),
                    tags=tags,
                    title="warehouse (contamination marts)",
                    run_config=quiet_loggers(),
                )
                result.runs += follow(instance, bf, log, live=live)
    if result.ok:
        result.summary = evidence_summary(settings.warehouse, corpora, benchmark)
    return result


def format_summary(rows: list[dict[str, Any]]) -> list[str]:
    """One line per corpus × benchmark × signal × method: flagged of tested items, largest value."""
    out = []
    for r in rows:
        top = "" if r["max_value"] is None else f", max {r['max_value']:.3f}"
        out.append(
            f"{r['corpus']} × {r['benchmark']}: {r['signal']} {r['method']}: {r['flagged']} of {r['items']} "
            f"items flagged{top}"
        )
    return out
