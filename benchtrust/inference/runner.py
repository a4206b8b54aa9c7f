"""Run an evaluation grid over items with a content-addressed, resumable result cache.

A *cell* is one (item, template, few-shot seed, permutation seed, decoding, sample index). Its key is the hash
of the model version, the item's content hash and those coordinates, so changing 5 items re-runs 5 cells,
and a run killed half-way resumes from the chunks it had already flushed (each chunk is written to a
temporary name and renamed, so a kill never leaves a half-written chunk behind).
"""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchtrust.hashing import hash_obj
from benchtrust.inference.types import PREDICTION_COLUMNS, ResolvedModel
from benchtrust.items import LETTERS
from benchtrust.registry import Grid, Template

# PREDICTION_COLUMNS lives with the engine types (benchtrust.inference.types), which the lake imports freely


def select_subset(items: pd.DataFrame, subset: dict[str, Any] | None) -> pd.DataFrame:
    """Deterministic subset. Order within a stratum is by hash(seed, item_id), so editing an item's text
    does not change which items are selected."""
    if not subset:
        return items
    seed = int(subset.get("seed", 0))
    keyed = items.assign(_k=[hash_obj([seed, i]) for i in items["item_id"]]).sort_values(["_k"])
    if "per_subject" in subset:
        keyed = keyed.groupby("subject", sort=True, group_keys=False).head(int(subset["per_subject"]))
    if "n" in subset:
        keyed = keyed.head(int(subset["n"]))
    if "max_items" in subset:
        keyed = keyed.head(int(subset["max_items"]))
    return keyed.drop(columns="_k").sort_values(["subject", "item_id"]).reset_index(drop=True)


def permute_choices(choices: list[str], gold_index: int, seed: int, item_id: str) -> tuple[list[str], list[int]]:
    """Answer-order permutation for position-bias audits. Returns permuted choices and `order`, where
    permuted[j] = choices[order[j]]. Seed 0 is the original order."""
    n = len(choices)
    if seed == 0 or n == 0:
        return list(choices), list(range(n))
    rng = np.random.default_rng(int(hash_obj([seed, item_id]), 16))
    order = [int(x) for x in rng.permutation(n)]
    return [choices[k] for k in order], order


@dataclass
class Cell:
    item: dict[str, Any]
    template: Template
    fewshot_seed: int
    permutation_seed: int
    sample_idx: int
    key: str
    examples: list[dict[str, Any]] = field(default_factory=list)
    numeric_idx: int = 0
    decoding: dict[str, Any] = field(default_factory=lambda: {"mode": "loglikelihood"})
    decoding_idx: int = 0  # position in the grid's decodings; 0 is the primary (headline) decoding


class FewshotSelector:
    """Few-shot examples per subject, chosen by seed from the benchmark's items that are *not* evaluated, so
    every question of a subject shares one fixed prefix (the standard MMLU setting). When the pool is too
    small (every item is evaluated), an item's examples exclude only the item itself."""

    def __init__(self, pool: pd.DataFrame | None, evaluated_ids: set[str], n: int):
        self.n = n
        self.pool = pool
        self.evaluated = evaluated_ids
        self._cache: dict[tuple[str, int, bool], list[dict[str, Any]]] = {}

    def _ordered(self, subject: str, seed: int, outside_only: bool) -> list[dict[str, Any]]:
        key = (subject, seed, outside_only)
        if key not in self._cache:
            if self.pool is None:  # select() returns before asking when there is no pool
                raise ValueError("no few-shot pool")
            p = self.pool[self.pool["subject"] == subject]
            if outside_only:
                p = p[~p["item_id"].isin(self.evaluated)]
            recs = p.to_dict("records")
            recs.sort(key=lambda r: hash_obj(["fewshot", seed, r["item_id"]]))
            self._cache[key] = recs
        return self._cache[key]

    def examples(self, item: dict[str, Any], seed: int) -> list[dict[str, Any]]:
        if self.n <= 0 or self.pool is None:
            return []
        outside = self._ordered(item.get("subject", ""), seed, True)
        if len(outside) >= self.n:
            return outside[: self.n]
        return [r for r in self._ordered(item.get("subject", ""), seed, False) if r["item_id"] != item["item_id"]][
            : self.n
        ]


def _n_samples(dec: dict[str, Any]) -> int:
    return int(dec.get("samples", 1)) if dec.get("mode") == "sample" else 1


def _configurations(grid: Grid) -> Iterator[tuple[int, dict[str, Any], Template, int, int, int, dict[str, Any], int]]:
    """Every grid coordinate but the item, in plan order: (numeric index, numeric, template, few-shot seed,
    permutation seed, decoding index, decoding, sample). A multiple-choice template scores its options by
    log-likelihood, so it is permuted but takes only the first decoding; a generation template is not permuted."""
    for (ni, numeric), t in itertools.product(enumerate(grid.numeric), grid.templates):
        mc = t.task_type == "multiple_choice"
        perms = grid.permutation_seeds if mc else [0]
        decodings = list(enumerate(grid.decodings))[: 1 if mc else None]
        for fs, ps, (di, dec) in itertools.product(grid.fewshot.get("seeds", [0]), perms, decodings):
            for s in range(_n_samples(dec)):
                yield ni, numeric, t, fs, ps, di, dec, s


def plan_cells(items: pd.DataFrame, grid: Grid, model_version: str, pool: pd.DataFrame | None = None) -> list[Cell]:
    """Every cell of the grid over ``items``: each configuration (:func:`_configurations`) × each item of the
    template's task type, keyed by everything that changes its prediction (the cache key)."""
    n_shot = int(grid.fewshot.get("n", 0))
    selector = FewshotSelector(pool if pool is not None else items, set(items["item_id"]), n_shot)
    records = items.to_dict("records")
    tspecs: dict[int, str] = {}
    cells = []
    for ni, numeric, t, fs, ps, di, dec, s in _configurations(grid):
        tspec = tspecs.setdefault(id(t), hash_obj(t.spec()))
        for it in records:
            if it["task_type"] != t.task_type:
                continue
            ex = selector.examples(it, int(fs))
            key = hash_obj(
                [model_version, it["item_hash"], tspec, n_shot, fs, [e["item_hash"] for e in ex], ps, dec, s, numeric],
                24,
            )
            cells.append(Cell(it, t, int(fs), int(ps), s, key, ex, ni, dec, di))
    return cells


class PredictionCache:
    """Append-only chunks of finished cells under ``<root>/<model_version>/``; read back as one table."""

    def __init__(self, root: Path, model_version: str):
        self.dir = Path(root) / model_version
        self.dir.mkdir(parents=True, exist_ok=True)

    def load(self, keys: set[str] | None = None) -> pd.DataFrame:
        files = sorted(self.dir.glob("chunk-*.parquet"))
        if not files:
            return pd.DataFrame(columns=PREDICTION_COLUMNS)
        import duckdb

        con = duckdb.connect()
        df = con.execute(
            "select * from read_parquet(?, union_by_name=true, hive_partitioning=false)", [[str(f) for f in files]]
        ).df()
        df = df.drop_duplicates("cell_key", keep="first")
        if keys is not None:
            df = df[df["cell_key"].isin(keys)]
        return df

    def append(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        name = f"chunk-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = self.dir / (name + ".tmp")
        rows_to_frame(rows).to_parquet(tmp, index=False)
        os.replace(tmp, self.dir / name)


def rows_to_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=PREDICTION_COLUMNS)
    for c in ("n_fewshot", "fewshot_seed", "permutation_seed", "sample_idx", "predicted_index", "batch_tokens"):
        df[c] = df[c].astype("Int64")
    df["is_correct"] = df["is_correct"].astype("boolean")
    for c in ("temperature", "top_p", "score", "p_correct", "logprob_gold"):
        df[c] = df[c].astype("float64")
    return df


@dataclass
class RunStats:
    cells: int
    cached: int
    computed: int
    seconds: float


def run_grid(
    items: pd.DataFrame,
    grid: Grid,
    model: ResolvedModel,
    benchmark: str,
    dataset_version: str,
    engine_factory: Callable[[dict[str, Any]], Any],
    cache_root: Path,
    chunk_size: int = 64,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    pool: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, RunStats]:
    """Predictions for every cell of the grid over ``items`` (already subset; ``pool`` = all items, the
    source of few-shot examples). An engine is built per numeric configuration, and only when some of its
    cells are missing from the cache. Finished cells are flushed every ``chunk_size`` cells."""
    t0 = time.time()
    cells = plan_cells(items, grid, model.model_version, pool)
    cache = PredictionCache(cache_root, model.model_version)
    keys = {c.key for c in cells}
    cached = cache.load(keys)
    have = set(cached["cell_key"])
    todo = [c for c in cells if c.key not in have]
    if todo:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=len(todo), desc=f"{model.name} × {benchmark}", unit="cell", disable=not progress, mininterval=1.0
        )
        done = 0
        for ni, numeric in enumerate(grid.numeric):
            mine = [c for c in todo if c.numeric_idx == ni]
            if not mine:
                continue
            engine = engine_factory(numeric)
            prov = engine.provenance()
            # chunks in prefix order, so a chunk's questions share few-shot prefixes and batch well
            mine.sort(
                key=lambda c: (
                    c.template.id,
                    c.fewshot_seed,
                    c.permutation_seed,
                    c.decoding_idx,
                    c.sample_idx,
                    c.item.get("subject", ""),
                    c.item["item_id"],
                )
            )
            for start in range(0, len(mine), chunk_size):
                chunk = mine[start : start + chunk_size]
                cache.append(_compute(engine, chunk, grid, model, benchmark, prov))
                bar.update(len(chunk))
                done += len(chunk)
                if on_progress:
                    on_progress(done, len(todo))
            del engine
        bar.close()
        cached = cache.load(keys)
    df = cached.copy()
    # coordinates that are not part of the cell key are stamped for this run (two registered names with the
    # same weights share cells, but each partition's rows carry its own model name)
    df["model"] = model.name
    df["benchmark"] = benchmark
    df["dataset_version"] = dataset_version
    df["grid_version"] = grid.version
    # primary coordinates: original answer order, first few-shot seed, first sample, first numeric config —
    # every template at these coordinates is comparable; the headline is the first template among them
    primary_keys = {c.key for c in cells if c.numeric_idx == 0 and c.decoding_idx == 0}
    df["is_primary"] = (
        (df["permutation_seed"] == 0)
        & (df["fewshot_seed"] == grid.fewshot.get("seeds", [0])[0])
        & (df["sample_idx"] == 0)
        & df["cell_key"].isin(primary_keys)
    )
    df["is_headline"] = df["is_primary"] & (df["template_id"] == grid.headline_template)
    order = {c.key: i for i, c in enumerate(cells)}
    df = df.assign(_o=df["cell_key"].map(order)).sort_values("_o").drop(columns="_o").reset_index(drop=True)
    stats = RunStats(cells=len(cells), cached=len(cells) - len(todo), computed=len(todo), seconds=time.time() - t0)
    return df[PREDICTION_COLUMNS], stats


def _base_row(cell: Cell, grid: Grid, model: ResolvedModel, benchmark: str, prov: dict[str, Any]) -> dict[str, Any]:
    dec = cell.decoding
    return {
        "cell_key": cell.key,
        "model": model.name,
        "model_version": model.model_version,
        "benchmark": benchmark,
        "item_id": cell.item["item_id"],
        "item_hash": cell.item["item_hash"],
        "task_type": cell.item["task_type"],
        "template_id": cell.template.id,
        "n_fewshot": len(cell.examples),
        "fewshot_seed": cell.fewshot_seed,
        "permutation_seed": cell.permutation_seed,
        "decoding": dec.get("mode", "loglikelihood"),
        "temperature": float(dec.get("temperature", 0.0)) if dec.get("mode") == "sample" else 0.0,
        "top_p": float(dec.get("top_p", 1.0)),
        "sample_idx": cell.sample_idx,
        "gold": cell.item["gold"],
        "device": prov["device"],
        "dtype": prov["dtype"],
        "attn_implementation": prov["attn_implementation"],
        "batch_tokens": prov["token_budget"],
        "library_versions": json.dumps(prov["library_versions"], sort_keys=True),
        "computed_at": pd.Timestamp.now(tz="UTC"),
    }


def _compute(
    engine: Any, cells: list[Cell], grid: Grid, model: ResolvedModel, benchmark: str, prov: dict[str, Any]
) -> list[dict[str, Any]]:
    from benchtrust.inference.prompts import build_context, render_continuations

    rows: list[dict[str, Any]] = []
    mc = [c for c in cells if c.template.task_type == "multiple_choice"]
    gen = [c for c in cells if c.template.task_type != "multiple_choice"]
    if mc:
        requests, orders = [], []
        for c in mc:
            choices, order = permute_choices(
                list(c.item["choices"]), int(c.item["gold_index"]), c.permutation_seed, c.item["item_id"]
            )
            prefix, context = build_context(c.template, c.item, c.examples, choices)
            requests.append((context, render_continuations(c.template, choices), prefix))
            orders.append(order)
        scores = engine.score(requests)
        for c, order, opts in zip(mc, orders, scores):
            # back to the original option order
            lp = np.empty(len(opts))
            toks: list[list[float]] = [[] for _ in opts]
            for j, o in enumerate(opts):
                lp[order[j]] = o.logprob
                toks[order[j]] = o.token_logprobs
            gi = int(c.item["gold_index"])
            pred = int(np.argmax(lp))
            probs = np.exp(lp - lp.max())
            probs /= probs.sum()
            row = _base_row(c, grid, model, benchmark, prov)
            row.update(
                prediction=LETTERS[pred],
                predicted_index=pred,
                is_correct=bool(pred == gi),
                score=float(lp[pred]),
                p_correct=float(probs[gi]),
                logprob_gold=float(lp[gi]),
                option_logprobs=[float(x) for x in lp],
                token_logprobs=toks[gi],
                generation=None,
            )
            rows.append(row)
    calls = [
        dict(
            prompt=build_context(c.template, c.item, c.examples)[1],
            max_new_tokens=int(c.decoding.get("max_new_tokens", 128)),
            stop=c.template.stop,
            do_sample=c.decoding.get("mode") == "sample",
            temperature=float(c.decoding.get("temperature", 1.0)),
            top_p=float(c.decoding.get("top_p", 1.0)),
            seed=int(hash_obj([c.decoding.get("seed", 0), c.key]), 16) % (2**31),
        )
        for c in gen
    ]
    # an engine that fans out over server replicas takes the chunk at once (texts come back in input order)
    texts = engine.generate_many(calls) if hasattr(engine, "generate_many") else [engine.generate(**kw) for kw in calls]
    for c, text in zip(gen, texts):
        row = _base_row(c, grid, model, benchmark, prov)
        row.update(
            prediction=text,
            predicted_index=None,
            score=None,
            p_correct=None,
            logprob_gold=None,
            option_logprobs=None,
            token_logprobs=None,
            generation=text,
            **execute_generation(c.item, text),
        )
        rows.append(row)
    return rows


def execute_generation(item: dict[str, Any], completion: str) -> dict[str, Any]:
    """Score a generation by running it against the item's tests in the sandbox (HumanEval-style items carry
    ``test`` and ``entry_point`` in their metadata). Items without tests stay unscored. The result is part of
    the cached cell, so a rerun never executes the same completion twice."""
    meta = item.get("metadata") or "{}"
    meta = json.loads(meta) if isinstance(meta, str) else dict(meta)
    if not (meta.get("test") and meta.get("entry_point")):
        return {"is_correct": None, "exec_status": None, "exec_reason": None}
    from benchtrust.sandbox import SandboxUnavailable, check_humaneval

    try:
        res = check_humaneval(item, completion, timeout_s=float(meta.get("timeout_s", 5.0)))
    except SandboxUnavailable as e:  # never run untrusted code outside the sandbox: leave it unscored
        return {"is_correct": None, "exec_status": "not_run", "exec_reason": f"sandbox unavailable: {e}"[:500]}
    return {"is_correct": bool(res.passed), "exec_status": res.status, "exec_reason": (res.reason or "")[:500]}
