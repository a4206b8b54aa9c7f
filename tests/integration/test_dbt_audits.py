"""The SQL audits (issue 6) through one real `dbt build` on a synthetic lake, each checked against its Python
reference in benchtrust.stats / benchtrust.audits on the same data.

The lake holds several randomly generated benchmarks (different seeds, sizes, numbers of models, templates,
few-shot seeds, answer orders and numeric configurations: property-style cases in one build), two benchmarks
built to hit the AUDITS.md reference values (CPS and rliable's IQM), second model and dataset versions for the
version-regression audit, malformed items for the item-quality checks and planted label errors (items whose
gold is wrong: every model leans to the same other option).

The last test runs the SQL label-error port on real data: the 10 HELM models' MMLU answers (imported like
`benchtrust import helm`), against the Python ranking and the MMLU-Redux figures of
benchmarks/results/label_errors.json (skipped when ../shared/external-data is absent).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from benchtrust import lake
from benchtrust.items import LETTERS
from tests.integration.test_dbt_build import dbt_build, prediction_row, write_predictions

T0 = pd.Timestamp("2025-01-01", tz="UTC")
NUMERIC = [("float32", "sdpa", 4096), ("bfloat16", "sdpa", 4096), ("float16", "eager", 1024)]
# benchmark, seed, items, models, templates, few-shot seeds, answer orders, subjects, numeric configs
CASES = [
    ("rand0", 0, 40, 3, 3, 2, 2, 4, 3),
    ("rand1", 1, 25, 4, 2, 1, 3, 3, 2),
    ("rand2", 2, 60, 2, 4, 3, 1, 6, 1),
]
KEYS = ["model", "model_version", "benchmark", "dataset_version", "grid_version"]


# ----------------------------------------------------------------------------------------- the synthetic lake


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def _mc_cell(
    *, bench, dv, model, mv, grid, item, template, fs, perm, numeric, lp, headline_template, invalid=False, sample=0
):
    """A multiple-choice cell as the engine writes it: option log-probabilities in the original option order,
    the argmax as the prediction, p_correct the softmax probability of the gold option."""
    lp = np.asarray(lp, dtype=float)
    gi = int(item["gold_index"])
    pred = int(np.argmax(lp))
    probs = np.exp(lp - lp.max())
    probs /= probs.sum()
    gold_ok = 0 <= gi < len(lp)
    primary = fs == 0 and perm == 0 and sample == 0 and numeric == NUMERIC[0]
    dtype, attn, batch = numeric
    return prediction_row(
        cell_key=f"{model}|{mv}|{item['item_id']}|{template}|{fs}|{perm}|{sample}|{dtype}|{attn}|{batch}",
        model=model,
        model_version=mv,
        benchmark=bench,
        dataset_version=dv,
        grid_version=grid,
        item_id=item["item_id"],
        item_hash=item["item_hash"],
        task_type="multiple_choice",
        template_id=template,
        is_primary=primary,
        is_headline=primary and template == headline_template,
        n_fewshot=5,
        fewshot_seed=fs,
        permutation_seed=perm,
        decoding="loglikelihood",
        temperature=0.0,
        top_p=1.0,
        sample_idx=sample,
        prediction="The" if invalid else LETTERS[pred],
        predicted_index=None if invalid else pred,
        gold=item["gold"],
        is_correct=(not invalid) and gold_ok and pred == gi,
        score=float(lp[pred]),
        p_correct=float(probs[gi]) if gold_ok else None,
        logprob_gold=float(lp[gi]) if gold_ok else None,
        option_logprobs=[float(x) for x in lp],
        token_logprobs=[-0.5],
        dtype=dtype,
        attn_implementation=attn,
        batch_tokens=batch,
        device="cpu",
    )


def _items(bench, dv, rng, n_items, n_subjects, quality_cases=True) -> pd.DataFrame:
    rows = []
    for j in range(n_items):
        n_opt = 4 if j % 11 else 5
        choices = [f"{bench} option {j}-{o}" for o in range(n_opt)]
        rows.append(
            {
                "item_id": f"{bench}-{j:03d}",
                "input": f"{bench} question {j}?",
                "choices": choices,
                "gold_index": int(rng.integers(0, n_opt)),
                "subject": f"s{int(rng.integers(0, n_subjects))}" if j != 7 else None,
            }
        )
    if quality_cases:
        rows[0]["choices"] = ["Same", "same ", "other", "third"]  # repeated option text (the gold's, if 0/1)
        rows[0]["gold_index"] = 1
        rows[1]["gold_index"] = 4  # the gold points at no option
        rows[3]["input"], rows[3]["choices"] = rows[2]["input"], list(rows[2]["choices"])  # exact duplicate
        rows[5]["input"], rows[5]["choices"] = rows[4]["input"].upper(), [c.upper() for c in rows[4]["choices"]]
    items = pd.DataFrame(rows)
    items["gold"] = [LETTERS[g] for g in items["gold_index"]]
    items["item_hash"] = [
        f"h-{i}-{inp}-{'|'.join(c)}" for i, inp, c in zip(items["item_id"], items["input"], items["choices"])
    ]
    norm = [
        (inp.lower().strip(), tuple(c.lower().strip() for c in ch)) for inp, ch in zip(items["input"], items["choices"])
    ]
    first: dict = {}
    dup_of = []
    for iid, key in zip(items["item_id"], norm):
        f = first.setdefault(key, iid)
        dup_of.append(f if f != iid else None)
    return items.assign(
        benchmark=bench,
        dataset_version=dv,
        task_type="multiple_choice",
        metadata="{}",
        source_file=f"{bench}.jsonl",
        source_row=np.arange(1, len(items) + 1),
        duplicate_of=dup_of,
        is_duplicate=[d is not None for d in dup_of],
        ingested_at=T0,
    )


def _write_items(lk, items):
    lake.write_parquet(
        items.reset_index(drop=True), lake.items_path(lk, items["benchmark"].iloc[0], items["dataset_version"].iloc[0])
    )


def _random_case(lk, bench, seed, n_items, n_models, n_templates, n_fs, n_perm, n_subjects, n_numeric):
    rng = np.random.default_rng(seed)
    dv = f"{bench}-dv1"
    items = _items(bench, dv, rng, n_items, n_subjects)
    _write_items(lk, items)
    templates = [f"t{t}" for t in range(n_templates)]
    # item structure shared by every model: easiness of the gold, and for planted label errors a strong pull
    # towards one wrong option (the "true" answer)
    planted = set(rng.choice(np.arange(8, n_items), size=max(2, n_items // 10), replace=False).tolist())
    base = []
    for j, it in items.iterrows():
        n_opt = len(it["choices"])
        z = rng.normal(0, 1, n_opt)
        gi = it["gold_index"]
        if 0 <= gi < n_opt:
            z[gi] += rng.normal(1.0, 1.0)
        if j in planted:
            z[(gi + 1) % n_opt] += 4.0
        base.append(z)
    rows = []
    versions = [(f"m{m}", "v1") for m in range(n_models)]
    if bench == "rand0":
        versions.append(("m0", "v2"))  # a second model version, written later
    for model, mv in versions:
        skill = rng.normal(0.5, 0.5)
        tmpl_shift = {t: rng.normal(0, 0.4) for t in templates}
        for j, it in items.iterrows():
            z_model = base[j] + rng.normal(0, 0.8, len(base[j]))
            gi = it["gold_index"]
            if 0 <= gi < len(z_model):
                z_model[gi] += skill
            coords = [(t, fs, ps) for t in templates for fs in range(n_fs) for ps in range(n_perm)]
            if mv == "v2":
                coords = [(t, 0, 0) for t in templates]
            for t, fs, ps in coords:
                if bench == "rand2" and fs > 0 and j % 9 == 0 and t == templates[0]:
                    continue  # an item missing from some runs (left out of the run-variance matrix)
                if bench == "rand2" and t == templates[-1] and j == 10:
                    continue  # an item missing under one template (left out of the PSS matrix)
                z = z_model.copy()
                z[(gi if 0 <= gi < len(z) else 0)] += tmpl_shift[t]
                z += rng.normal(0, 0.6, len(z))
                lp = _log_softmax(z)
                invalid = (
                    bench == "rand1" and t == templates[0] and fs == 0 and ps == 0 and j in (11, 12) and model == "m1"
                )
                rows.append(
                    _mc_cell(
                        bench=bench,
                        dv=dv,
                        model=model,
                        mv=mv,
                        grid="g1",
                        item=it,
                        template=t,
                        fs=fs,
                        perm=ps,
                        numeric=NUMERIC[0],
                        lp=lp,
                        headline_template="t0",
                        invalid=invalid,
                    )
                )
                if t == "t0" and fs == 0 and ps == 0:
                    for k, numeric in enumerate(NUMERIC[1:n_numeric], start=1):
                        eps = [0, 2e-3, 3e-2][k]
                        lp2 = _log_softmax(z + rng.normal(0, eps, len(z)))
                        rows.append(
                            _mc_cell(
                                bench=bench,
                                dv=dv,
                                model=model,
                                mv=mv,
                                grid="g1",
                                item=it,
                                template=t,
                                fs=fs,
                                perm=ps,
                                numeric=numeric,
                                lp=lp2,
                                headline_template="t0",
                            )
                        )
    v1 = [r for r in rows if r["model_version"] == "v1"]
    v2 = [r for r in rows if r["model_version"] == "v2"]
    write_predictions(lk, v1, written_at=T0)
    if v2:
        write_predictions(lk, v2, written_at=T0 + pd.Timedelta(hours=1))
    if bench == "rand1":  # a second dataset version of the benchmark, scored by m0 later: 3 items edited, 2 gone
        items2 = items.iloc[2:].copy()
        items2["dataset_version"] = f"{bench}-dv2"
        edited = items2["item_id"].isin([f"{bench}-{j:03d}" for j in (5, 6, 9)])
        items2.loc[edited, "item_hash"] = items2.loc[edited, "item_hash"] + "-edited"
        _write_items(lk, items2)
        rows2 = []
        for j, it in items2.iterrows():
            lp = _log_softmax(base[j] + rng.normal(0, 1.0, len(base[j])))
            rows2.append(
                _mc_cell(
                    bench=bench,
                    dv=f"{bench}-dv2",
                    model="m0",
                    mv="v1",
                    grid="g1",
                    item=it,
                    template="t0",
                    fs=0,
                    perm=0,
                    numeric=NUMERIC[0],
                    lp=lp,
                    headline_template="t0",
                )
            )
        write_predictions(lk, rows2, written_at=T0 + pd.Timedelta(hours=2))


def _fixed_case(lk, bench, per_template_correct, n_items, subjects=None):
    """One model whose template accuracies (or per-item outcomes) are set exactly."""
    rng = np.random.default_rng(99)
    items = _items(bench, f"{bench}-dv1", rng, n_items, 1, quality_cases=False)
    if subjects is not None:
        items["subject"] = subjects
    _write_items(lk, items)
    rows = []
    for t, correct in per_template_correct.items():
        for j, it in items.iterrows():
            gi = it["gold_index"]
            target = gi if correct[j] else (gi + 1) % len(it["choices"])
            z = np.zeros(len(it["choices"]))
            z[target] = 2.0 + 0.01 * j
            rows.append(
                _mc_cell(
                    bench=bench,
                    dv=f"{bench}-dv1",
                    model="ref",
                    mv="v1",
                    grid="g1",
                    item=it,
                    template=t,
                    fs=0,
                    perm=0,
                    numeric=NUMERIC[0],
                    lp=_log_softmax(z),
                    headline_template="t0",
                )
            )
    write_predictions(lk, rows, written_at=T0)


def build_lake(lk: Path) -> None:
    for case in CASES:
        _random_case(lk, *case)
    # CPS reference (Mizrahi et al.): MaxP 0.80 and AvgP 0.6172093023255814 = 1327/2150 over 5 templates × 430 items
    ks = [344, 250, 250, 250, 233]
    _fixed_case(lk, "cpsref", {f"t{t}": [j < k for j in range(430)] for t, k in enumerate(ks)}, 430)
    # rliable's IQM unit test, x = [[1,2],[2,2],[1,1],[2,1]] halved: 8 subjects of 2 items with accuracies
    # 0.5 1 1 1 0.5 0.5 1 0.5 → mean = median = IQM = 0.75
    accs = [0.5, 1, 1, 1, 0.5, 0.5, 1, 0.5]
    correct = [j % 2 == 0 or a == 1 for a in accs for j in range(2)]
    _fixed_case(lk, "iqmref", {"t0": correct}, 16, subjects=[f"s{i}" for i in range(8) for _ in range(2)])
    lake.ensure_layout(lk)


# ---------------------------------------------------------------------------------------------- the fixture


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, dbt_manifest):
    home = tmp_path_factory.mktemp("audits") / "bt_home"
    saved = {k: os.environ.get(k) for k in ("BENCHTRUST_HOME", "BENCHTRUST_LAKE", "BENCHTRUST_WAREHOUSE")}
    os.environ["BENCHTRUST_HOME"] = str(home)
    try:
        from benchtrust.settings import get_settings

        settings = get_settings().ensure()
        build_lake(settings.lake)
        proc = dbt_build()
        con = duckdb.connect(str(settings.warehouse), read_only=True)
        yield con, proc, settings
        con.close()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ------------------------------------------------------------------------------------- reading back, helpers


def _lake_frames(settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The lake as Python sees it (pandas on the Parquet files, no SQL): predictions and items."""
    preds = pd.concat(
        [
            pd.read_parquet(p)
            for p in sorted((settings.lake / "predictions").rglob("*.parquet"))
            if "_schema" not in str(p)
        ],
        ignore_index=True,
    )
    items = pd.concat(
        [pd.read_parquet(p) for p in sorted((settings.lake / "items").rglob("*.parquet")) if "_schema" not in str(p)],
        ignore_index=True,
    )
    return preds, items


@pytest.fixture(scope="module")
def frames(warehouse):
    return _lake_frames(warehouse[2])


def _mart(con, sql: str) -> pd.DataFrame:
    return con.execute(sql).df()


def _close(a, b, tol=1e-12) -> bool:
    """Equal within tol, with NULL/NaN on both sides counting as equal."""
    if a is None or (isinstance(a, float) and np.isnan(a)):
        return b is None or (isinstance(b, float) and np.isnan(b))
    if b is None or (isinstance(b, float) and np.isnan(b)):
        return False
    if np.isinf(a) or np.isinf(b):
        return a == b
    return abs(float(a) - float(b)) <= tol * max(1.0, abs(float(a)), abs(float(b)))


def _groups(df: pd.DataFrame, keys=KEYS):
    for key, grp in df.groupby(keys, sort=True, dropna=False):
        yield dict(zip(keys, key)), grp


def _row(mart: pd.DataFrame, key: dict) -> pd.Series:
    sel = np.logical_and.reduce([mart[k] == v for k, v in key.items()])
    assert sel.sum() == 1, (key, int(sel.sum()))
    return mart[sel].iloc[0]


# ------------------------------------------------------------------------------------------------------ tests


def test_build_ran_the_audit_unit_tests(warehouse):
    _, proc, _ = warehouse
    for name in (
        "subject_scores_count_headline_cells_per_subject",
        "clustered_se_by_hand",
        "run_variance_by_hand",
        "prompt_sensitivity_by_hand",
        "calibration_and_position_bias_by_hand",
        "label_error_scores_by_hand",
        "item_quality_flags_by_hand",
        "numeric_configs_by_hand",
        "version_regression_by_hand",
        "robust_aggregate_by_hand",
    ):
        assert name in proc.stdout, name


def test_subject_scores_and_clustered_se_match_python(warehouse, frames):
    from benchtrust.stats import clustered_se, wilson

    con = warehouse[0]
    preds, items = frames
    head = preds[preds["is_headline"] & preds["is_correct"].notna()].merge(
        items[["benchmark", "dataset_version", "item_id", "subject"]], how="left"
    )
    subj = _mart(con, "select * from marts.subject_scores")
    unc = _mart(con, "select * from intermediate.int_score_uncertainties_estimated")
    n_checked = 0
    for key, grp in _groups(head):
        x = grp["is_correct"].astype(float).to_numpy()
        clusters = np.where(grp["subject"].notna(), grp["subject"], "item:" + grp["item_id"])
        u = _row(unc, key)
        assert (u["n"], u["k"], u["n_clusters"]) == (len(x), int(x.sum()), len(set(clusters)))
        assert _close(u["clustered_se"], clustered_se(x, clusters), 1e-9)
        for s, sg in grp.assign(s=grp["subject"].fillna("(none)")).groupby("s"):
            r = _row(subj, key | {"subject": s})
            k, n = int(sg["is_correct"].sum()), len(sg)
            ci = wilson(k, n)
            assert (r["n"], r["k"]) == (n, k)
            assert _close(r["ci_low"], float(ci.lo)) and _close(r["ci_high"], float(ci.hi))
            n_checked += 1
    assert n_checked == len(subj) and n_checked > 40


def test_run_variance_matches_python(warehouse, frames):
    from benchtrust.stats import run_variance

    con = warehouse[0]
    preds, _ = frames
    mart = _mart(con, "select * from marts.run_variance")
    cfg_cols = ["template_id", "decoding", "dtype", "attn_implementation", "batch_tokens"]
    checked = 0
    for key, grp in _groups(preds):
        head = grp[grp["is_headline"]]
        if head.empty:
            continue
        cfg = head[cfg_cols].drop_duplicates()
        assert len(cfg) == 1
        cells = grp.merge(cfg, on=cfg_cols)
        cells = cells[cells["is_correct"].notna()]
        mat = cells.pivot_table(
            index="item_id",
            columns=["fewshot_seed", "permutation_seed", "sample_idx"],
            values="is_correct",
            aggfunc="mean",
        )
        complete = mat.dropna()
        rv = run_variance(complete.to_numpy())
        r = _row(mart, key)
        assert (r["n_runs"], r["n_items"], r["n_items_incomplete"]) == (rv.n_runs, rv.n_items, len(mat) - len(complete))
        for f in ("mean_accuracy", "flip_share", "pairwise_churn", "seed_sd", "independent_sd"):
            assert _close(r[f], getattr(rv, f), 1e-9), (key, f, r[f], getattr(rv, f))
        checked += rv.n_runs > 1
    assert checked >= 9  # every model of the random benchmarks has several runs
    assert (mart["n_items_incomplete"] > 0).any()


def test_prompt_sensitivity_matches_python(warehouse, frames):
    from benchtrust.stats import kendalls_w, prompt_summary, prosa_pss

    con = warehouse[0]
    preds, _ = frames
    mart = _mart(con, "select * from marts.prompt_sensitivity")
    prim = preds[preds["is_primary"] & preds["is_correct"].notna()]
    acc = prim.groupby(KEYS + ["template_id"])["is_correct"].agg(lambda s: s.sum() / len(s)).rename("acc").reset_index()
    for key, grp in _groups(acc):
        ps = prompt_summary(grp["acc"].to_numpy())
        r = _row(mart, key)
        assert r["n_templates"] == len(grp)
        for f, v in (("spread", ps.spread), ("max_p", ps.max_p), ("avg_p", ps.avg_p), ("cps", ps.cps)):
            assert _close(r[f], float(v)), (key, f)
        cells = prim.merge(pd.DataFrame([key]))
        y = cells.pivot_table(index="item_id", columns="template_id", values="is_correct", aggfunc="mean").dropna()
        if y.shape[1] >= 2:
            assert r["n_items_pss"] == len(y) and _close(r["pss"], prosa_pss(y.to_numpy()), 1e-9)
        else:
            assert pd.isna(r["pss"])
    # Kendall's W per benchmark × dataset version: models (objects) × the templates they all have (raters)
    for (bench, dv), grp in acc.groupby(["benchmark", "dataset_version"]):
        table = grp.pivot_table(index=["model", "model_version", "grid_version"], columns="template_id", values="acc")
        table = table.dropna(axis=1)
        rows = mart[(mart["benchmark"] == bench) & (mart["dataset_version"] == dv)]
        assert (rows["w_n_models"] == len(table)).all()
        expected = kendalls_w(table.to_numpy().T) if len(table) >= 2 and table.shape[1] else float("nan")
        assert all(_close(w, expected, 1e-9) for w in rows["kendalls_w"]), (
            bench,
            rows["kendalls_w"].tolist(),
            expected,
        )
    assert mart["kendalls_w"].notna().sum() >= 9


def test_cps_and_iqm_reference_values(warehouse):
    from benchtrust.stats import combined_performance_score

    con = warehouse[0]
    cps = _mart(con, "select * from marts.prompt_sensitivity where benchmark = 'cpsref'").iloc[0]
    assert cps["max_p"] == 0.8 and cps["avg_p"] == pytest.approx(0.6172093023255814, abs=1e-15)
    assert cps["cps"] == pytest.approx(0.6537674418604651, abs=1e-15)
    assert float(combined_performance_score(0.8, 0.6172093023255814)) == pytest.approx(0.6537674418604651, abs=1e-15)
    iqm = _mart(con, "select * from intermediate.int_subject_scores_pooled where benchmark = 'iqmref'").iloc[0]
    assert iqm["n_subjects"] == 8
    assert (iqm["mean_subject_accuracy"], iqm["median_subject_accuracy"], iqm["iqm_subject_accuracy"]) == (
        0.75,
        0.75,
        0.75,
    )
    rep = _mart(con, "select iqm_subject_accuracy from marts.reliability_report where benchmark = 'iqmref'")
    assert rep["iqm_subject_accuracy"].tolist() == [0.75]


def test_robust_aggregates_match_python(warehouse):
    from benchtrust.stats import aggregate_iqm, aggregate_mean, aggregate_median

    con = warehouse[0]
    subj = _mart(con, "select * from marts.subject_scores")
    pooled = _mart(con, "select * from intermediate.int_subject_scores_pooled")
    for key, grp in _groups(subj):
        x = grp["accuracy"].to_numpy()[None, :]  # one run × n_tasks (rliable's shape)
        r = _row(pooled, key)
        assert r["n_subjects"] == x.shape[1]
        assert _close(r["mean_subject_accuracy"], aggregate_mean(x))
        assert _close(r["median_subject_accuracy"], aggregate_median(x))
        assert _close(r["iqm_subject_accuracy"], aggregate_iqm(x))


def test_calibration_matches_python(warehouse, frames):
    from benchtrust.stats import answer_position_bias, auroc, brier_score, expected_calibration_error

    con = warehouse[0]
    preds, items = frames
    mart = _mart(con, "select * from marts.calibration")
    head = preds[preds["is_headline"] & (preds["task_type"] == "multiple_choice") & preds["is_correct"].notna()]
    head = head.merge(items[["benchmark", "dataset_version", "item_id", "gold_index", "choices"]], how="left")
    for key, grp in _groups(head):
        r = _row(mart, key)
        ok = grp["is_correct"].astype(bool).to_numpy()
        has = grp["predicted_index"].notna().to_numpy()
        conf = []
        for lp, p in zip(grp["option_logprobs"][has], grp["predicted_index"][has]):
            lp = np.asarray(lp, dtype=float)
            probs = np.exp(lp - lp.max())
            conf.append((probs / probs.sum())[int(p)])
        conf = np.asarray(conf)
        assert r["n_with_confidence"] == len(conf)
        assert _close(r["ece"], expected_calibration_error(conf, ok[has]), 1e-9)
        assert _close(r["auroc"], auroc(conf, ok[has]), 1e-12)
        pc = grp["p_correct"].notna().to_numpy()
        assert _close(r["brier"], brier_score(grp["p_correct"][pc].to_numpy(), ok[pc]), 1e-9)
        k = max(int(grp["choices"].map(len).max()), int(grp["option_logprobs"].map(len).max()))
        assert r["n_options"] == k
        pb = answer_position_bias(grp["predicted_index"].fillna(-1).astype(int), grp["gold_index"], n_options=k)
        assert list(r["pred_counts"]) == pb.pred_counts.tolist() and list(r["gold_counts"]) == pb.gold_counts.tolist()
        assert list(r["n_by_position"]) == pb.n_by_position.tolist() and r["n_unparsed"] == pb.n_unparsed
        sql_acc = [float("nan") if v is np.ma.masked else float(v) for v in r["accuracy_by_position"]]  # NULL → masked
        assert all(_close(a, float(b)) for a, b in zip(sql_acc, pb.accuracy_by_position))
        assert r["position_df"] == pb.dof and _close(r["position_chi2"], pb.chi2, 1e-9)
    assert (mart["n_unparsed"] > 0).any()


def test_label_error_scores_match_python(warehouse, frames):
    from benchtrust.audits import label_error_candidates

    con = warehouse[0]
    preds, _ = frames
    sql = _mart(con, "select * from intermediate.int_label_errors_scored")
    audit = _mart(con, "select * from marts.item_audit where label_error_rank is not null")
    head = preds[preds["is_headline"]]
    for (bench, dv), grp in head.groupby(["benchmark", "dataset_version"]):
        py = label_error_candidates(grp, keep=())
        s = sql[(sql["benchmark"] == bench) & (sql["dataset_version"] == dv)].sort_values("rank")
        assert s["item_id"].tolist() == py["item_id"].tolist(), bench  # the same ranking, tie-breaks included
        assert s["score"].tolist() == py["score"].tolist()
        assert np.allclose(s["llr"], py["llr"], atol=1e-9, rtol=0)
        assert s["top_alternative"].fillna("").tolist() == py["top_alternative"].fillna("").tolist()
        for c in ("n_models", "n_correct", "n_top_alternative", "n_invalid", "is_candidate"):
            assert s[c].tolist() == py[c].tolist(), (bench, c)
        a = audit[(audit["benchmark"] == bench) & (audit["dataset_version"] == dv)].sort_values("label_error_rank")
        assert a["item_id"].tolist() == py["item_id"].tolist()
        assert a["modal_wrong_option"].fillna("").tolist() == py["top_alternative"].fillna("").tolist()


def _planted(bench: str) -> set[str]:
    """The planted label errors of a random case (the same draws as _random_case)."""
    case = next(c for c in CASES if c[0] == bench)
    _, seed, n_items, _, _, _, _, n_subjects, _ = case
    rng = np.random.default_rng(seed)
    _items(bench, f"{bench}-dv1", rng, n_items, n_subjects)
    return {f"{bench}-{j:03d}" for j in rng.choice(np.arange(8, n_items), size=max(2, n_items // 10), replace=False)}


def test_label_error_posteriors_match_python_and_find_planted_errors(warehouse, frames):
    """int_label_error_posteriors (a dbt Python model) and marts.item_audit against
    benchtrust.audits.label_error_posteriors on the lake's headline rows; the planted label errors (every model
    leans to the option after the gold) rank near the top with that option suggested."""
    import json

    from benchtrust.audits import label_error_posteriors

    con = warehouse[0]
    preds, items = frames
    audit = _mart(con, "select * from marts.item_audit")
    head = preds[preds["is_headline"] & preds["gold"].notna()]
    checked = []
    for (bench, dv), grp in head.groupby(["benchmark", "dataset_version"]):
        py = label_error_posteriors(grp)
        a = audit[(audit["benchmark"] == bench) & (audit["dataset_version"] == dv)]
        if py.empty:  # fewer than three models: no posterior, and the mart says so with NULLs
            assert a["label_error_posterior"].isna().all() and a["label_error_posterior_rank"].isna().all(), bench
            continue
        a = a[a["label_error_posterior_rank"].notna()].sort_values("label_error_posterior_rank")
        assert a["item_id"].tolist() == py["item_id"].tolist(), bench
        assert a["label_error_posterior_rank"].tolist() == py["rank"].tolist()
        assert np.allclose(a["label_error_posterior"], py["label_error_posterior"], atol=1e-9, rtol=0)
        assert a["suggested_answer"].fillna("").tolist() == py["suggested_answer"].fillna("").tolist()
        assert [json.loads(v) for v in a["label_error_votes"]] == [json.loads(v) for v in py["votes"]]
        assert ((py["label_error_posterior"] >= 0) & (py["label_error_posterior"] <= 1)).all()
        # cleanlab joins where option log-probs exist (these synthetic cells have them)
        assert py["cleanlab_issue_score"].notna().all()
        if dv.endswith("-dv1") and bench.startswith("rand"):
            planted = _planted(bench)
            top = py.head(len(planted) * 2)
            found = top[top["item_id"].isin(planted)]
            assert len(found) >= len(planted) // 2, (bench, planted, top["item_id"].tolist())
            it = items[(items["benchmark"] == bench) & (items["dataset_version"] == dv)].set_index("item_id")
            for r in found.itertuples():
                n_opt = len(it.loc[r.item_id, "choices"])
                true = LETTERS[(int(it.loc[r.item_id, "gold_index"]) + 1) % n_opt]
                if r.label_error_posterior >= 0.5:
                    assert r.suggested_answer == true, (bench, r.item_id)
            checked.append(bench)
    assert sorted(checked) == ["rand0", "rand1"]  # rand2 has two models: no posterior


def test_report_label_error_figures_equal_the_mart(warehouse):
    """Every label-error figure a report or benchmark page shows is the marts.item_audit value of the same item:
    the bundle reads the mart (never recomputes), and the HTML / Markdown print those values."""
    import json

    from benchtrust.report.bundle import BenchmarkIndex, build_bundle, label_errors_audit
    from benchtrust.report.render import render_html, render_index_html, render_index_markdown, render_markdown

    con = warehouse[0]
    ia = _mart(con, "select * from marts.item_audit")
    heads = [
        r
        for r in con.execute("select * from marts.reliability_report where is_latest").df().to_dict("records")
        if r["benchmark"] in ("rand0", "rand1") and r["dataset_version"].endswith("-dv1")
    ]
    assert heads
    for h in heads:
        a = ia[(ia["benchmark"] == h["benchmark"]) & (ia["dataset_version"] == h["dataset_version"])]
        a = a[a["label_error_posterior_rank"].notna()].set_index("item_id")
        le = label_errors_audit(con, h["benchmark"], h["dataset_version"])
        assert le["source"] == "marts.item_audit" and le["n_items"] == len(a)
        assert le["n_candidates"] == int((a["label_error_posterior"] >= 0.5).sum())
        assert le["n_agreement_candidates"] == int(a["is_label_error_candidate"].fillna(False).sum())
        assert [c["item_id"] for c in le["candidates"]] == a.sort_values("label_error_posterior_rank").index[
            : len(le["candidates"])
        ].tolist()
        for c in le["candidates"]:
            row = a.loc[c["item_id"]]
            assert c["rank"] == row["label_error_posterior_rank"] and c["posterior"] == row["label_error_posterior"]
            assert c["suggested_answer"] == (None if pd.isna(row["suggested_answer"]) else row["suggested_answer"])
            assert c["votes"] == json.loads(row["label_error_votes"])
            assert sum(len(v["models"]) for v in c["votes_by_answer"]) == len(c["votes"])
        # the rendered pages print exactly those values
        ix = BenchmarkIndex(h["benchmark"], [], [], le, None)
        b = build_bundle(con, h)
        assert b.audits["label_errors"] == le
        for text in (render_index_html(ix), render_index_markdown(ix), render_html(b), render_markdown(b)):
            assert f"{le['n_candidates']} of {le['n_items']} items" in text
            for c in le["candidates"]:
                assert f"{c['posterior']:.3f}" in text and c["item_id"] in text
        # the items table: per item the mart's posterior and suggested answer
        shown = [s for s in b.sample_items if s["label_error_posterior"] is not None]
        assert shown
        for s in shown:
            row = a.loc[s["item_id"]]
            assert s["label_error_posterior"] == row["label_error_posterior"]
            assert s["suggested_answer"] == (None if pd.isna(row["suggested_answer"]) else row["suggested_answer"])


def test_item_quality_flags_and_subject_counts(warehouse, frames):
    con = warehouse[0]
    _, items = frames
    ia_all = _mart(con, "select * from marts.item_audit")
    ia = ia_all[ia_all["dataset_version"].str.endswith("-dv1")].set_index("item_id")
    for b in ("rand0", "rand1", "rand2"):
        assert ia.loc[f"{b}-000", "has_repeated_options"] and ia.loc[f"{b}-000", "gold_option_repeated"]
        assert ia.loc[f"{b}-001", "gold_outside_options"]
        assert ia.loc[f"{b}-003", "is_exact_duplicate"] and ia.loc[f"{b}-003", "is_duplicate"]
        assert ia.loc[f"{b}-005", "is_duplicate"] and not ia.loc[f"{b}-005", "is_exact_duplicate"]
        flagged = ia[(ia["benchmark"] == b) & (ia["has_repeated_options"] | ia["gold_outside_options"])]
        assert sorted(flagged.index) == [f"{b}-000", f"{b}-001"]
    subj = _mart(
        con,
        "select distinct benchmark, dataset_version, subject, subject_items, n_duplicate_items, "
        "n_option_problems, n_label_error_candidates from marts.subject_scores",
    )
    it = items.assign(subject=items["subject"].fillna("(none)"))
    expected = (
        it.groupby(["benchmark", "dataset_version", "subject"])
        .agg(subject_items=("item_id", "size"), n_duplicate_items=("is_duplicate", "sum"))
        .reset_index()
    )
    got = subj.merge(expected, on=["benchmark", "dataset_version", "subject"], suffixes=("", "_py"))
    assert len(got) == len(subj)
    assert (got["subject_items"] == got["subject_items_py"]).all()
    assert (got["n_duplicate_items"] == got["n_duplicate_items_py"]).all()
    cands = (
        ia_all[ia_all["is_label_error_candidate"].fillna(False)]
        .fillna({"subject": "(none)"})
        .groupby(["benchmark", "dataset_version", "subject"])
        .size()
    )
    for _, r in subj.iterrows():
        assert r["n_label_error_candidates"] == cands.get((r["benchmark"], r["dataset_version"], r["subject"]), 0)


def test_numeric_determinism_matches_python(warehouse, frames):
    con = warehouse[0]
    preds, _ = frames
    mart = _mart(con, "select * from marts.numeric_determinism")
    coords = KEYS + ["item_id", "template_id", "fewshot_seed", "permutation_seed", "decoding", "sample_idx"]
    ref_cfg = ("float32", "sdpa", 4096)
    p = preds.assign(cfg=list(zip(preds["dtype"], preds["attn_implementation"], preds["batch_tokens"].astype(int))))
    ref = p[p["cfg"] == ref_cfg]
    checked = 0
    for cfg in NUMERIC[1:]:
        other = p[p["cfg"] == cfg]
        m = ref.merge(other, on=coords, suffixes=("_a", "_b"))
        for key, grp in _groups(m):
            r = _row(
                mart, key | {"numeric_config_a": "float32 / sdpa / 4096", "numeric_config_b": " / ".join(map(str, cfg))}
            )
            assert r["includes_reference"] and r["n_cells"] == len(grp)
            d_gold = (grp["logprob_gold_b"] - grp["logprob_gold_a"]).abs().max()
            d_opt = max(
                np.abs(np.asarray(b) - np.asarray(a)).max()
                for a, b in zip(grp["option_logprobs_a"], grp["option_logprobs_b"])
            )
            assert _close(r["max_abs_delta_logprob_gold"], d_gold) and _close(r["max_abs_delta_option_logprob"], d_opt)
            both = grp["predicted_index_a"].notna() & grp["predicted_index_b"].notna()
            flips = int((grp["predicted_index_a"][both] != grp["predicted_index_b"][both]).sum())
            assert (r["n_argmax_compared"], r["n_argmax_flips"]) == (int(both.sum()), flips)
            acc_a = grp["is_correct_a"].astype(float).mean()
            acc_b = grp["is_correct_b"].astype(float).mean()
            assert _close(r["accuracy_delta"], acc_b - acc_a, 1e-12)
            checked += 1
    assert checked == int(mart["includes_reference"].sum()) and checked >= 10
    assert (mart["n_argmax_flips"] > 0).any()  # the float16 perturbation flips some answers


def test_version_regressions_match_python(warehouse, frames):
    from benchtrust.stats import flips_exceed_churn, pairwise_churn, version_regression

    con = warehouse[0]
    preds, _ = frames
    mart = _mart(con, "select * from marts.version_regressions").set_index("benchmark")
    assert sorted(mart.index) == ["rand0", "rand1"]
    assert mart.loc["rand0", "model_changed"] and not mart.loc["rand0", "dataset_changed"]
    assert mart.loc["rand1", "dataset_changed"] and not mart.loc["rand1", "model_changed"]
    head = preds[preds["is_headline"]]
    for bench, old_sel, new_sel in (
        ("rand0", {"model_version": "v1"}, {"model_version": "v2"}),
        ("rand1", {"dataset_version": "rand1-dv1"}, {"dataset_version": "rand1-dv2"}),
    ):
        h = head[(head["benchmark"] == bench) & (head["model"] == "m0")]
        old = h[np.logical_and.reduce([h[k] == v for k, v in old_sel.items()])]
        new = h[np.logical_and.reduce([h[k] == v for k, v in new_sel.items()])]
        pair = old.merge(new, on=["item_id", "item_hash"], suffixes=("_old", "_new"))
        # churn of the old configuration across its runs (audit 2), from the lake
        runs = preds[
            (preds["benchmark"] == bench)
            & (preds["model"] == "m0")
            & (preds["template_id"] == "t0")
            & (preds["dtype"] == "float32")
        ]
        runs = runs[np.logical_and.reduce([runs[k] == v for k, v in old_sel.items()])]
        mat = runs.pivot_table(
            index="item_id", columns=["fewshot_seed", "permutation_seed"], values="is_correct", aggfunc="mean"
        ).dropna()
        churn = pairwise_churn(mat.to_numpy())
        vr = version_regression(pair["is_correct_old"].astype(bool), pair["is_correct_new"].astype(bool), churn=churn)
        r = mart.loc[bench]
        assert (r["n_shared"], r["negative_flips"], r["positive_flips"]) == (
            vr.n_items,
            vr.negative_flips,
            vr.positive_flips,
        )
        for f in ("negative_flip_rate", "positive_flip_rate", "net_delta", "acc_old", "acc_new"):
            assert _close(r[f], getattr(vr, f)), f
        assert _close(r["churn_old"], churn, 1e-12)
        # the mart carries what the binomial "exceeds churn" test needs
        assert flips_exceed_churn(int(r["negative_flips"]), int(r["n_shared"]), float(r["churn_old"])) == pytest.approx(
            vr.churn_p_value, abs=1e-12
        )
    assert mart.loc["rand1", "n_shared"] == 20  # 25 items, 2 dropped, 3 edited: an edited item never pairs


def test_report_and_item_audit_carry_the_audit_summaries(warehouse):
    con = warehouse[0]
    rep = _mart(con, "select * from marts.reliability_report")
    joined = (
        rep.merge(_mart(con, "select * from marts.run_variance"), on=KEYS, suffixes=("", "_rv"))
        .merge(_mart(con, "select * from marts.prompt_sensitivity"), on=KEYS, suffixes=("", "_ps"))
        .merge(_mart(con, "select * from marts.calibration"), on=KEYS, suffixes=("", "_ca"))
        .merge(_mart(con, "select * from intermediate.int_score_uncertainties_estimated"), on=KEYS, suffixes=("", "_u"))
    )
    assert len(joined) == len(rep)
    for a, b in (
        ("seed_sd", "seed_sd_rv"),
        ("pairwise_churn", "pairwise_churn_rv"),
        ("cps", "cps_ps"),
        ("ece", "ece_ca"),
        ("clustered_se", "clustered_se_u"),
    ):
        assert all(_close(x, y) for x, y in zip(joined[a], joined[b])), a
    first = rep["benchmark"].str.startswith("rand") & rep["dataset_version"].str.endswith("-dv1")
    assert (rep.loc[first, "n_option_problem_items"] == 2).all()
    assert (rep.loc[rep["dataset_version"] == "rand1-dv2", "n_option_problem_items"] == 0).all()  # those items left


# ------------------------------------------------------------------- the SQL label-error port on real data


def _benchmark_module(name: str):
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[2] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchtrust_benchmark_{name}_sql", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow  # 14k items through dbt, the latent-truth fits included: ~5 minutes
def test_sql_label_errors_reproduce_python_on_helm_mmlu(bt_home, dbt_manifest):
    """The 10 HELM models' MMLU answers through the importer into a lake, `dbt build`, and the SQL ranking of
    int_label_errors_scored / item_audit against benchtrust.audits.label_errors on the same predictions — and the
    held-out precision / recall against the MMLU-Redux labels recorded in benchmarks/results/label_errors.json."""
    import json

    from benchtrust.audits import label_error_candidates
    from benchtrust.importers import import_predictions
    from benchtrust.importers.load import write_import
    from benchtrust.settings import get_settings
    from tests.conftest import external

    helm = external("helm_mmlu") / "helm_10models_mmlu_item_matrix.csv"
    redux = external("mmlu_redux")
    settings = get_settings().ensure()
    res = import_predictions("helm", helm)
    write_import(res, res.canonical_predictions(), settings.lake)
    lake.ensure_layout(settings.lake)
    # item_audit and everything it reads, with their tests and unit tests (cautious: not the tests of other marts)
    dbt_build("--select", "+item_audit", "--indirect-selection", "cautious")

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    sql = con.execute("""select item_id, score, llr, rank, top_alternative, n_models, n_correct, n_top_alternative,
                                n_invalid, is_candidate
                         from intermediate.int_label_errors_scored order by rank""").df()
    audit = con.execute(
        "select item_id, label_error_rank from marts.item_audit where label_error_rank is not null "
        "order by label_error_rank"
    ).df()
    post = con.execute(
        "select item_id, label_error_posterior_rank, label_error_posterior, suggested_answer "
        "from marts.item_audit where label_error_posterior_rank is not null "
        "order by label_error_posterior_rank"
    ).df()
    con.close()
    py = label_error_candidates(res.predictions)
    assert len(sql) == len(py) == 14_014
    assert audit["item_id"].tolist() == sql["item_id"].tolist()
    # the top 100 and the whole ranking are identical, tie-breaks included
    assert sql["item_id"].head(100).tolist() == py["item_id"].head(100).tolist()
    assert sql["item_id"].tolist() == py["item_id"].tolist()
    assert sql["score"].tolist() == py["score"].tolist()
    assert np.allclose(sql["llr"], py["llr"], atol=1e-9, rtol=0)
    assert sql["top_alternative"].fillna("").tolist() == py["top_alternative"].fillna("").tolist()
    for c in ("n_models", "n_correct", "n_top_alternative", "n_invalid", "is_candidate"):
        assert sql[c].tolist() == py[c].tolist(), c
    assert int(sql["is_candidate"].sum()) == 1439  # benchmarks/results/label_errors.json: candidates.is_candidate

    # held-out precision / recall against MMLU-Redux with the SQL ranking: the recorded figures
    mod = _benchmark_module("label_errors")
    recorded = json.loads(mod.RESULT.read_text())
    keys = res.predictions.drop_duplicates("item_id").set_index("item_id")[["subject", "mmlu_test_index"]]
    cand = sql.join(keys, on="item_id")
    labels = mod.load_labels(redux.parent)
    v1 = set(json.loads((redux / "v1_subject_list.json").read_text()))
    held = set(labels["subject"]) - v1
    for split, subjects in (("held_out", held), ("dev", v1)):
        got = json.loads(json.dumps(mod._evaluate_split(cand, labels, subjects, ["score", "llr"])))
        assert got == recorded[split], split

    # the posterior the mart holds (int_label_error_posteriors) is the one benchmarks/label_errors.py measured:
    # its held-out and dev precision / recall at 50/100/300 from the mart's ranking equal the recorded ones
    assert len(post) == 14_014 and post["label_error_posterior"].between(0, 1).all()
    full = pd.read_csv(redux / "redux_v2_5700_from_HEAD_with_mmlu_index.csv", keep_default_na=False)
    full = full[full["mmlu_test_index"].astype(str) != ""].astype({"mmlu_test_index": int})
    ranked = post.join(keys, on="item_id").dropna(subset=["mmlu_test_index"]).astype({"mmlu_test_index": int})
    m = full.merge(ranked, on=["subject", "mmlu_test_index"], how="left")
    for split, mask in (
        ("held_out", ~m["subject"].isin(mod.DEV_SUBJECTS)),
        ("dev", m["subject"].isin(mod.DEV_SUBJECTS)),
    ):
        s = m[mask].reset_index(drop=True)
        got = mod._compare_split(
            {"method": -s["label_error_posterior_rank"].to_numpy(dtype=float)}, s["error_type"], reps=0
        )
        for t in ("wrong_groundtruth", "any_non_ok"):
            for k in ("50", "100", "300"):
                rec = recorded["comparison"][split][t]["method"][k]
                assert (got[t]["method"][k]["P"], got[t]["method"][k]["R"]) == (rec["P"], rec["R"]), (split, t, k)
