"""The contamination audits on real data, end to end through dbt, with what each finds recorded:

1. near duplicates in MMLU: all 14,042 items embedded (all-MiniLM-L6-v2), top-5 neighbours, SQL cosine, compared
   with items.py's 105 exact duplicates (same case/whitespace-normalised question and choices);
2. planted ground truth at full scale: verbatim / lightly edited / paraphrased copies of MMLU items in a corpus;
   n-gram recall and false-positive rate over every other item, embedding recall and precision over all items;
3. membership signals on a labelled proxy (SmolLM2-135M-Instruct): probable members = docstrings of the Python
   standard library (CPython is on GitHub, in The Stack that SmolLM2 was trained on) vs non-members = docstrings
   of this repository's own modules (written in 2026, after the model); AUROC of each signal;
4. control gap for SmolLM2 on a stratified MMLU subset: originals vs renamed entities / numbers as words /
   paraphrased stems (marts.control_gap).

    python benchmarks/contamination_audits.py               # ~15-25 min on 2 CPU cores
    python benchmarks/contamination_audits.py --skip control_gap,membership
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _home(workdir: Path | None) -> Path:
    home = (workdir or Path(tempfile.mkdtemp(prefix="contamination_audits_"))) / "bt_home"
    os.environ["BENCHTRUST_HOME"] = str(home)
    return home


def _put_items(lake, benchmark, items):
    import pandas as pd

    from benchtrust import lake as lk

    dv = str(items["dataset_version"].iloc[0])
    lk.write_parquet(items.assign(benchmark=benchmark, ingested_at=pd.Timestamp.now(tz="UTC")),
                     lk.items_path(lake, benchmark, dv))
    lk.set_latest(lake, benchmark, {"dataset_version": dv})
    return dv


def _dbt_build(select: str) -> None:
    from benchtrust.dbt_vars import dbt_vars_args
    from benchtrust.lake import ensure_layout
    from benchtrust.settings import DBT_PROJECT_DIR, get_settings

    ensure_layout(get_settings().ensure().lake)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["dbt", "build", "--profiles-dir", ".", *dbt_vars_args(), "--select", *select.split()],
                          cwd=DBT_PROJECT_DIR, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout[-4000:])


def near_duplicates(settings, mmlu) -> dict:
    import duckdb

    from benchtrust.contamination.embeddings import item_neighbours
    from benchtrust.contamination.overlap import latest_item_sets

    t0 = time.perf_counter()
    items = latest_item_sets(settings.lake)
    item_neighbours(settings.lake, items, k=5, min_cosine=0.8)
    t_emb = time.perf_counter() - t0
    _dbt_build("+near_duplicates")
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    nd = con.execute("select * from marts.near_duplicates").df()
    top1 = con.execute("select max(cosine) as c from staging.stg_lake__item_neighbours group by item_id").df()["c"]
    con.close()
    exact = nd[nd["is_exact_duplicate"]]
    near = nd[nd["is_near_duplicate"]]
    both = nd[nd["is_exact_duplicate"] & nd["is_near_duplicate"]]
    only_near = nd[nd["is_near_duplicate"] & ~nd["is_exact_duplicate"]]
    by_id = mmlu.set_index("item_id")
    examples = []
    for r in only_near.sort_values("cosine").head(6).itertuples():
        examples.append({"a": r.item_id_a, "b": r.item_id_b, "cosine": round(r.cosine, 4),
                         "text_a": by_id.loc[r.item_id_a, "input"][:160], "text_b": by_id.loc[r.item_id_b, "input"][:160]})
    # near-duplicate groups: connected components of the near pairs
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b in zip(near["item_id_a"], near["item_id_b"]):
        parent[find(a)] = find(b)
    members = set(parent)
    groups = {find(x) for x in members}
    return {
        "items": len(items), "embedding_seconds": round(t_emb, 1), "items_per_second": round(len(items) / t_emb, 1),
        "threshold": float(nd["cosine_threshold"].dropna().iloc[0]) if len(nd) else None,
        "items_py_exact_duplicate_items": int(mmlu["is_duplicate"].sum()),
        "items_py_exact_duplicate_pairs": len(exact),
        "exact_pairs_found_by_embeddings": len(both),
        "exact_pairs_missed_by_embeddings": len(exact) - len(both),
        "near_duplicate_pairs": len(near), "near_pairs_not_exact": len(only_near),
        "items_in_near_duplicate_groups": len(members),
        "near_duplicate_items_beyond_one_per_group": len(members) - len(groups),
        "top1_neighbour_cosine_quantiles": {str(q): round(float(top1.quantile(q)), 4) for q in (0.5, 0.9, 0.95, 0.99)},
        "examples_near_not_exact_lowest_cosine": examples,
    }


def planted(settings, mmlu_norm, scale: int) -> dict:
    import duckdb

    from benchmarks.synthetic_corpora import planted_corpus, stdlib_prose
    from benchtrust.contamination.corpora import make_corpus_source, write_corpus
    from benchtrust.contamination.embeddings import corpus_neighbours
    from benchtrust.contamination.overlap import latest_item_sets, scan_corpus
    from data_contracts import validate_corpus_docs

    items = mmlu_norm.items
    pc = planted_corpus(items, n_verbatim=scale, n_edited=scale, n_paraphrase=scale, n_unrelated=2 * scale,
                        extra_unrelated=stdlib_prose(scale), seed=1, unrelated_words=(40, 200))
    path = settings.home / "planted.jsonl"
    path.write_text("\n".join(json.dumps({"id": d["id"], "text": d["text"]}) for d in pc.docs))
    w = write_corpus(make_corpus_source("planted", {"type": "file", "path": str(path), "id_field": "id"}), settings.lake, validator=validate_corpus_docs)
    all_items = latest_item_sets(settings.lake)
    t0 = time.perf_counter()
    scan_corpus(settings.lake, "planted", w.corpus_version, all_items, (13, 8))
    t_scan = time.perf_counter() - t0
    t0 = time.perf_counter()
    corpus_neighbours(settings.lake, "planted", w.corpus_version, all_items, k=5)  # item embeddings are cached
    t_emb = time.perf_counter() - t0
    _dbt_build("+contamination_evidence")
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    ev = con.execute("select item_id, signal, method, value, is_flagged, threshold from marts.contamination_evidence").df()
    con.close()
    ev["kind"] = ev["item_id"].map(pc.plants).fillna("clean")
    out: dict = {"plants_per_kind": scale, "corpus_docs": len(pc.docs), "scan_seconds": round(t_scan, 2),
                 "embedding_neighbour_seconds": round(t_emb, 1)}
    ng13 = ev[(ev["signal"] == "ngram_overlap") & (ev["method"] == "n=13")].set_index("item_id")["is_flagged"]
    for (signal, method), d in ev.groupby(["signal", "method"]):
        t = d[d["value"].notna()]
        res = {"threshold": float(d["threshold"].iloc[0]), "tested": len(t), "untestable": int(d["value"].isna().sum())}
        for k in ("verbatim", "edited", "paraphrase"):
            res[f"recall_{k}"] = round(float(t.loc[t["kind"] == k, "is_flagged"].mean()), 4)
        clean = t[t["kind"] == "clean"]
        res["false_positive_rate_clean"] = round(float(clean["is_flagged"].mean()), 5)
        res["false_positives"] = int(clean["is_flagged"].sum())
        flagged = t[t["is_flagged"]]
        res["precision"] = round(float((flagged["kind"] != "clean").mean()), 4) if len(flagged) else None
        if signal == "embedding_nn":
            para = t[t["kind"] == "paraphrase"]
            missed = para[~para["item_id"].map(ng13).fillna(False).astype(bool)]
            res["paraphrases_missed_by_13grams"] = len(missed)
            res["recall_on_those"] = round(float(missed["is_flagged"].mean()), 4)
            res["clean_cosine_quantiles"] = {str(q): round(float(clean["value"].quantile(q)), 4)
                                             for q in (0.5, 0.99, 0.999, 1.0)}
            res["paraphrase_cosine_quantiles"] = {str(q): round(float(para["value"].quantile(q)), 4)
                                                  for q in (0.0, 0.05, 0.5)}
        out[f"{signal}:{method}"] = res
    return out


def _docstrings(modules: list[str], min_words: int = 40) -> list[str]:
    import importlib
    import inspect

    out = []
    for name in modules:
        try:
            mod = importlib.import_module(name)
        except Exception:
            continue
        cands = [mod] + [obj for _, obj in inspect.getmembers(mod)
                         if (inspect.isclass(obj) or inspect.isfunction(obj)) and getattr(obj, "__module__", "") == name]
        for obj in cands:
            doc = inspect.getdoc(obj)
            if doc and len(doc.split()) >= min_words and doc not in out:
                out.append(doc)
    return out


def membership(limit: int) -> dict:
    import numpy as np

    from benchtrust.contamination.membership import MembershipScorer, auroc, membership_frame
    from benchtrust.inference.models import build_engine, resolve_model
    from benchtrust.registry import Registry

    std = _docstrings(["json", "argparse", "collections", "logging", "pathlib", "subprocess", "threading",
                       "datetime", "decimal", "fractions", "statistics", "random", "textwrap", "difflib", "csv",
                       "sqlite3", "zipfile", "tarfile", "unittest", "functools", "itertools", "heapq", "bisect",
                       "shutil", "tempfile", "socket", "pickle", "string", "re", "os", "inspect", "dataclasses",
                       "enum", "abc", "contextlib", "copy", "pprint", "calendar", "email.message", "http.client",
                       "urllib.parse", "glob", "fnmatch", "gzip", "hashlib", "hmac", "secrets", "uuid", "weakref"])
    mine = _docstrings(["benchtrust.items", "benchtrust.sources.files", "benchtrust.inference.runner",
                        "benchtrust.inference.transformers_engine", "benchtrust.lake", "benchtrust.hashing",
                        "benchtrust.registry", "benchtrust.settings", "benchtrust.stats.intervals",
                        "benchtrust.stats.paired", "benchtrust.stats.bootstrap", "benchtrust.stats.variance",
                        "benchtrust.stats.calibration", "benchtrust.stats.prompts", "benchtrust.stats.aggregate",
                        "benchtrust.stats.regression", "benchtrust.sandbox.runner", "benchtrust.importers.lm_eval",
                        "benchtrust.importers.helm", "benchtrust.contamination.ngrams",
                        "benchtrust.contamination.overlap", "benchtrust.contamination.corpora",
                        "benchtrust.contamination.embeddings", "benchtrust.contamination.membership",
                        "benchtrust.contamination.rewrites",
                        "data_contracts.runner", "data_contracts.suites", "benchtrust.audits.label_errors",
                        "benchtrust.report.render", "benchtrust.wheels", "benchtrust.inference.models"], min_words=40)
    n = min(limit, len(std), len(mine))
    rng = np.random.default_rng(0)
    std = [std[i] for i in rng.permutation(len(std))[:n]]
    mine = [mine[i] for i in rng.permutation(len(mine))[:n]]
    reg = Registry.load()
    name = "smollm2-135m-instruct"
    engine = build_engine(resolve_model(name, reg.models[name]))
    scorer = MembershipScorer.from_engine(engine, max_tokens=128)  # length-matched: the first 128 tokens of each
    t0 = time.perf_counter()
    df = membership_frame(scorer, std + mine)
    dt = time.perf_counter() - t0
    y = np.array([True] * n + [False] * n)
    # higher = more member-like for Min-K%, Min-K%++ and the probe; lower for perplexity and the zlib ratio
    signs = {"min_k_prob": 1, "min_k_plus_plus": 1, "perplexity": -1, "zlib_ratio": -1, "prefix_match_share": 1}
    au = {k: round(auroc(s * df[k].to_numpy(dtype=float), y), 4) for k, s in signs.items()}
    return {"model": name, "members": f"{n} CPython standard-library docstrings (probable members)",
            "non_members": f"{n} docstrings of this repository (written 2026, after the model)",
            "tokens_scored_per_text": "first 128", "seconds": round(dt, 1), "auroc": au,
            "mean_tokens": {"members": float(df["n_tokens"][:n].mean()), "non_members": float(df["n_tokens"][n:].mean())},
            "prefix_exact_members": int(df["prefix_exact"][:n].fillna(False).sum()),
            "prefix_exact_non_members": int(df["prefix_exact"][n:].fillna(False).sum()),
            "caveat": "a proxy: members and non-members also differ in style and topic, so an AUROC away from 0.5 "
                      "is not proof of membership detection; MIMIR reports near-random AUROC on Pythia"}


def control_gap(settings, mmlu_norm, per_subject: int) -> dict:
    import duckdb
    import pandas as pd

    from benchtrust import lake
    from benchtrust.contamination.rewrites import REWRITE_KINDS, rewrite_items
    from benchtrust.inference.models import build_engine, resolve_model
    from benchtrust.inference.runner import run_grid, select_subset
    from benchtrust.registry import Grid, Registry

    reg = Registry.load()
    name = "smollm2-135m-instruct"
    resolved = resolve_model(name, reg.models[name])
    items = mmlu_norm.items
    # the items a rewrite changes, plus a stratified sample
    changed = set()
    for k in REWRITE_KINDS:
        changed |= set(rewrite_items(items, k)["item_id"])
    subset = select_subset(items[items["item_id"].isin(changed)], {"per_subject": per_subject, "seed": 0})
    grid = Grid(templates=[reg.templates["mmlu_harness"]], permutation_seeds=[0, 1])
    engines: dict = {}

    def engine(numeric):
        key = str(sorted(numeric.items()))
        if key not in engines:
            engines[key] = build_engine(resolved, numeric)
        return engines[key]

    t0 = time.perf_counter()
    df, _ = run_grid(subset, grid, resolved, "mmlu", mmlu_norm.dataset_version, engine, settings.cache / "predictions",
                     progress=False, pool=items)
    lake.write_parquet(df.assign(written_at=pd.Timestamp.now(tz="UTC")),
                       lake.predictions_path(settings.lake, "mmlu", name, resolved.model_version, mmlu_norm.dataset_version))
    one = Grid(templates=grid.templates, permutation_seeds=[0])
    frames = []
    for k in REWRITE_KINDS:
        rw = rewrite_items(subset, k)
        if rw.empty:
            continue
        r, _ = run_grid(rw.drop(columns=["rewrite_kind", "original_item_hash"]), one, resolved, "mmlu",
                        mmlu_norm.dataset_version, engine, settings.cache / "predictions", progress=False, pool=items)
        frames.append(r.assign(rewrite_kind=k, original_item_hash=r["item_id"].map(dict(zip(rw["item_id"], rw["original_item_hash"])))))
    rp = pd.concat(frames, ignore_index=True)
    lake.write_parquet(rp, settings.lake / "rewrite_predictions" / "benchmark=mmlu" / f"model={name}" / "audit.parquet")
    dt = time.perf_counter() - t0
    _dbt_build("+control_gap")
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    cg = con.execute("select rewrite_kind, variant, n_pairs, acc_original, acc_rewrite, control_gap, gap_ci_low, "
                     "gap_ci_high, n_orig_only, n_rewrite_only, mcnemar_p from marts.control_gap order by 1, 2").df()
    con.close()
    return {"model": name, "items": len(subset), "seconds": round(dt, 1),
            "rows": json.loads(cg.round(4).to_json(orient="records"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--planted-scale", type=int, default=300)
    ap.add_argument("--membership-texts", type=int, default=120)
    ap.add_argument("--control-per-subject", type=int, default=4)
    ap.add_argument("--skip", default="")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "contamination_audits.json")
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    home = _home(a.workdir)
    from benchtrust.settings import get_settings
    from benchtrust.sources import KheopsMMLUSource, load_items

    settings = get_settings().ensure()
    norm = load_items(KheopsMMLUSource(), "mmlu")
    _put_items(settings.lake, "mmlu", norm.items)
    out: dict = {"home": str(home)}
    if a.out.exists():
        out = {**json.loads(a.out.read_text()), **out}
    steps = [("near_duplicates", lambda: near_duplicates(settings, norm.items)),
             ("planted", lambda: planted(settings, norm, a.planted_scale)),
             ("membership_proxy", lambda: membership(a.membership_texts)),
             ("control_gap", lambda: control_gap(settings, norm, a.control_per_subject))]
    for name, fn in steps:
        if name in skip:
            continue
        t0 = time.perf_counter()
        print(f"{name} …", flush=True)
        out[name] = fn()
        out[name]["wall_seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(out[name], indent=1)[:3000], flush=True)
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(out, indent=1, default=str) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
