"""The content-addressed result cache with the real default model: incremental reruns compute only changed
items, a run killed with SIGKILL resumes without recomputing or duplicating, greedy reruns are bit-identical
and seeded sampling is reproducible."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from benchtrust.inference.models import build_engine, resolve_model
from benchtrust.inference.runner import PredictionCache, run_grid
from benchtrust.items import FieldMapping
from benchtrust.registry import Grid, Registry, Template
from benchtrust.sources import FileSource, HumanEvalSource, load_items

REPO = Path(__file__).resolve().parents[2]
MAPPING = FieldMapping(
    input="question", choices="choices", gold="answer", gold_format="index", id="id", subject="subject"
)


@pytest.fixture(scope="module")
def model():
    reg = Registry.load()
    return resolve_model("smollm2-135m-instruct", reg.models["smollm2-135m-instruct"])


@pytest.fixture(scope="module")
def engine(model):
    return build_engine(model)


def make_items(path: Path, n: int, edit: set[int] = frozenset()):
    rows = [
        {
            "id": f"q{i:03d}",
            "question": f"What is {i} + {i % 7}?" + (" (edited)" if i in edit else ""),
            "choices": [str(2 * i), str(i + i % 7), str(i * 3 + 1), "none"],
            "answer": 1,
            "subject": f"s{i % 3}",
        }
        for i in range(n)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return load_items(FileSource(str(path), MAPPING), "arith")


def grid(reg: Registry, templates=("mmlu_harness",), **kw) -> Grid:
    return Grid(templates=[reg.templates[t] for t in templates], **kw)


def test_changing_5_of_40_items_recomputes_5(tmp_path, model, engine):
    reg = Registry.load()
    g = grid(reg)
    calls = []

    def factory(numeric):
        calls.append(numeric)
        return engine

    a = make_items(tmp_path / "a.jsonl", 40)
    df1, s1 = run_grid(a.items, g, model, "arith", a.dataset_version, factory, tmp_path / "cache", progress=False)
    assert (s1.computed, s1.cached) == (40, 0) and len(df1) == 40
    df2, s2 = run_grid(a.items, g, model, "arith", a.dataset_version, factory, tmp_path / "cache", progress=False)
    assert (s2.computed, s2.cached) == (0, 40) and len(calls) == 1  # a full cache hit never builds the engine
    b = make_items(tmp_path / "b.jsonl", 40, edit={3, 7, 11, 19, 23})
    assert b.dataset_version != a.dataset_version
    df3, s3 = run_grid(b.items, g, model, "arith", b.dataset_version, factory, tmp_path / "cache", progress=False)
    assert (s3.computed, s3.cached) == (5, 35)
    changed = set(df3.loc[~df3["cell_key"].isin(df1["cell_key"]), "item_id"])
    assert changed == {"q003", "q007", "q011", "q019", "q023"}
    assert df3["cell_key"].is_unique and len(df3) == 40


def test_greedy_reruns_are_bit_identical(tmp_path, model, engine):
    reg = Registry.load()
    items = make_items(tmp_path / "a.jsonl", 12).items
    g = grid(reg, templates=("mmlu_harness", "mmlu_cloze"))
    runs = [
        run_grid(items, g, model, "arith", "v", lambda n: engine, tmp_path / f"c{i}", progress=False)[0]
        for i in range(2)
    ]
    cols = ["cell_key", "prediction", "option_logprobs", "token_logprobs", "p_correct", "logprob_gold"]
    a, b = (r[cols].reset_index(drop=True) for r in runs)
    assert a["cell_key"].tolist() == b["cell_key"].tolist()
    assert [list(x) for x in a["option_logprobs"]] == [list(x) for x in b["option_logprobs"]]  # exact, not approx
    assert [list(x) for x in a["token_logprobs"]] == [list(x) for x in b["token_logprobs"]]
    assert a["p_correct"].tolist() == b["p_correct"].tolist()


def test_seeded_sampling_is_reproducible(tmp_path, model, engine):
    he = load_items(HumanEvalSource(), "humaneval")
    items = he.items.head(2)
    # no stop sequences: with HumanEval's stops a 12-token sample often ends at once, hiding the sampler
    free = Template(id="free_completion", task_type="generation", prompt="{{ input }}")
    g = Grid(
        templates=[free],
        decoding={"mode": "sample", "samples": 3, "temperature": 0.8, "top_p": 0.95, "max_new_tokens": 12, "seed": 1},
    )
    r1 = run_grid(items, g, model, "humaneval", "v", lambda n: engine, tmp_path / "s1", progress=False)[0]
    r2 = run_grid(items, g, model, "humaneval", "v", lambda n: engine, tmp_path / "s2", progress=False)[0]
    assert len(r1) == 6 and sorted(r1["sample_idx"].unique().tolist()) == [0, 1, 2]
    assert r1["generation"].tolist() == r2["generation"].tolist()
    assert r1["generation"].nunique() > 2  # samples differ from each other
    g_other = Grid(templates=g.templates, decoding={**g.decoding, "seed": 2})
    r3 = run_grid(items, g_other, model, "humaneval", "v", lambda n: engine, tmp_path / "s3", progress=False)[0]
    assert r3["generation"].tolist() != r1["generation"].tolist()


def test_greedy_and_sampling_in_one_grid(tmp_path, model, engine):
    """decoding: [greedy, sample × K] (the decoding-gap audit's grid): the greedy cell is the primary one, the
    samples carry their own coordinates, and the greedy cells are the very cells (same keys, reused from the
    cache) of a greedy-only grid."""
    he = load_items(HumanEvalSource(), "humaneval")
    items = he.items.head(2)
    free = Template(id="free_completion", task_type="generation", prompt="{{ input }}")
    greedy = {"mode": "greedy", "max_new_tokens": 8}
    sample = {"mode": "sample", "samples": 2, "temperature": 0.8, "top_p": 0.95, "max_new_tokens": 8, "seed": 0}
    cache = tmp_path / "c"
    only_greedy, st0 = run_grid(
        items, Grid(templates=[free], decoding=greedy), model, "humaneval", "v", lambda n: engine, cache, progress=False
    )
    both, st = run_grid(
        items,
        Grid(templates=[free], decoding=[greedy, sample]),
        model,
        "humaneval",
        "v",
        lambda n: engine,
        cache,
        progress=False,
    )
    assert (st0.computed, st.cells, st.cached, st.computed) == (2, 6, 2, 4)
    assert sorted(zip(both["decoding"], both["sample_idx"])) == sorted(
        [("greedy", 0)] * 2 + [("sample", 0)] * 2 + [("sample", 1)] * 2
    )
    prim = both[both["is_primary"]]
    assert len(prim) == 2 and (prim["decoding"] == "greedy").all() and prim["is_headline"].all()
    assert set(prim["cell_key"]) == set(only_greedy["cell_key"])
    assert (both.loc[both["decoding"] == "sample", "temperature"] == 0.8).all()
    assert (both.loc[both["decoding"] == "greedy", "temperature"] == 0.0).all()


WORKER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from benchtrust.inference.models import build_engine, resolve_model
    from benchtrust.inference.runner import run_grid
    from benchtrust.items import FieldMapping
    from benchtrust.registry import Grid, Registry
    from benchtrust.sources import FileSource, load_items
    path, cache = sys.argv[1], Path(sys.argv[2])
    reg = Registry.load()
    m = resolve_model("smollm2-135m-instruct", reg.models["smollm2-135m-instruct"])
    mapping = FieldMapping(input="question", choices="choices", gold="answer", gold_format="index", id="id", subject="subject")
    n = load_items(FileSource(path, mapping), "arith")
    g = Grid(templates=[reg.templates["mmlu_harness"], reg.templates["mmlu_paren"]])
    print("READY", flush=True)
    run_grid(n.items, g, m, "arith", n.dataset_version, lambda x: build_engine(m), cache, chunk_size=6, progress=False)
    print("DONE", flush=True)
""")


def test_sigkill_mid_run_resumes_without_duplicates_or_recompute(tmp_path, model, engine):
    items = make_items(tmp_path / "k.jsonl", 45)  # 90 cells in chunks of 6
    cache_root = tmp_path / "cache"
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(tmp_path / "k.jsonl"), str(cache_root)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    chunk_dir = cache_root / model.model_version
    deadline = time.time() + 300
    while time.time() < deadline and len(list(chunk_dir.glob("chunk-*.parquet"))) < 3:
        assert proc.poll() is None, "worker ended before it could be killed"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = PredictionCache(cache_root, model.model_version).load()
    assert 18 <= len(before) < 90 and before["cell_key"].is_unique

    # a chunk half-written at the moment of the kill keeps its temporary name and is never read
    (chunk_dir / "chunk-99999999999999999999-deadbeef.parquet.tmp").write_bytes(b"PAR1 half a file")
    reg = Registry.load()
    g = Grid(templates=[reg.templates["mmlu_harness"], reg.templates["mmlu_paren"]])
    df, stats = run_grid(
        items.items,
        g,
        model,
        "arith",
        items.dataset_version,
        lambda n: engine,
        cache_root,
        chunk_size=6,
        progress=False,
    )
    assert stats.cached == len(before) and stats.computed == 90 - len(before)
    assert len(df) == 90 and df["cell_key"].is_unique
    assert set(df["item_id"]) == {f"q{i:03d}" for i in range(45)}
    # what the killed run finished is reused as is
    merged = df.merge(before[["cell_key", "computed_at"]], on="cell_key", suffixes=("", "_before"))
    assert len(merged) == len(before) and (merged["computed_at"] == merged["computed_at_before"]).all()
