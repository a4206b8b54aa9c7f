"""The dbt project through a real `dbt build` on a synthetic lake whose accuracies hit the AUDITS.md
reference cases, so the SQL Wilson interval is checked end to end (contracts, tests and unit tests run)."""

from __future__ import annotations

import subprocess

import duckdb
import numpy as np
import pandas as pd
import pytest

from benchtrust import lake
from benchtrust.inference.runner import PREDICTION_COLUMNS, rows_to_frame
from benchtrust.stats import wilson

# (model, k correct, n) → Wilson 95% from research/AUDITS.md
REFERENCE = {
    ("m8of10", 8, 10): (0.4902, 0.9433),
    ("m10of10", 10, 10): (0.7225, 1.0),
    ("m170of200", 170, 200): (0.7939, 0.8929),
}


# ------------------------------------------------------------------ helpers shared with test_dbt_audits.py


def prediction_row(**fields) -> dict:
    """One grid cell with every PREDICTION_COLUMNS key (None unless given; computed_at defaults to now)."""
    return dict.fromkeys(PREDICTION_COLUMNS) | {"computed_at": pd.Timestamp.now(tz="UTC")} | fields


def write_predictions(lake_root, rows: list[dict], written_at: pd.Timestamp | None = None) -> None:
    """Write cells to the lake, one file per benchmark × model × model version × dataset version (the layout the
    predictions asset writes)."""
    df = rows_to_frame(rows).assign(written_at=written_at if written_at is not None else pd.Timestamp.now(tz="UTC"))
    for (bench, model, mv, dv), grp in df.groupby(["benchmark", "model", "model_version", "dataset_version"]):
        lake.write_parquet(grp.reset_index(drop=True), lake.predictions_path(lake_root, bench, model, mv, dv))


def dbt_build(*args: str) -> subprocess.CompletedProcess:
    """`dbt build` on the warehouse of the current BENCHTRUST_HOME; asserts that everything passed."""
    from benchtrust.dbt_vars import dbt_vars_args
    from benchtrust.settings import DBT_PROJECT_DIR

    proc = subprocess.run(
        ["dbt", "build", "--profiles-dir", ".", *dbt_vars_args(), *args],
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "ERROR=0" in proc.stdout and "FAIL=" not in proc.stdout.replace("FAIL=0", "")
    return proc


def _lake(home):
    items = pd.DataFrame(
        {
            "benchmark": "synth",
            "dataset_version": "dv1",
            "item_id": [f"i{j:03d}" for j in range(200)],
            "item_hash": [f"h{j}" for j in range(200)],
            "task_type": "multiple_choice",
            "input": "q",
            "choices": [["a", "b"]] * 200,
            "gold": "A",
            "gold_index": 0,
            "subject": "s",
            "metadata": "{}",
            "source_file": "synth.jsonl",
            "source_row": range(1, 201),
            "is_duplicate": [j == 5 for j in range(200)],
            "duplicate_of": [("i004" if j == 5 else None) for j in range(200)],
            "ingested_at": pd.Timestamp.now(tz="UTC"),
        }
    )
    lk = home / "lake"
    lake.write_parquet(items, lake.items_path(lk, "synth", "dv1"))
    q = pd.DataFrame(
        [
            {
                "benchmark": "synth",
                "dataset_version": "dv1",
                "source_file": "synth.jsonl",
                "source_row": 7,
                "rule": "invalid_json",
                "detail": "x",
                "raw": "{",
            }
        ]
    )
    lake.write_parquet(q, lake.quarantine_path(lk, "items", "synth", "dv1"))
    for model, k, n in REFERENCE:
        rows = []
        for j in range(n):
            for t in ("t_head", "t_other"):
                ok = j < k if t == "t_head" else j < k // 2
                rows.append(
                    prediction_row(
                        cell_key=f"{model}-{t}-{j}",
                        model=model,
                        model_version="mv",
                        benchmark="synth",
                        dataset_version="dv1",
                        grid_version="g",
                        item_id=f"i{j:03d}",
                        item_hash=f"h{j}",
                        task_type="multiple_choice",
                        template_id=t,
                        is_primary=True,
                        is_headline=t == "t_head",
                        n_fewshot=0,
                        fewshot_seed=0,
                        permutation_seed=0,
                        decoding="loglikelihood",
                        temperature=0.0,
                        top_p=1.0,
                        sample_idx=0,
                        prediction="A" if ok else "B",
                        predicted_index=0 if ok else 1,
                        gold="A",
                        is_correct=ok,
                        score=-0.1,
                        p_correct=0.9 if ok else 0.1,
                        logprob_gold=-0.1 if ok else -2.3,
                        option_logprobs=[-0.1, -2.3],
                        token_logprobs=[-0.1],
                    )
                )
        write_predictions(lk, rows)
    # a generation benchmark: one item, 10 executed samples of which 3 pass (AUDITS.md pass@k reference)
    gen_items = items.head(1).assign(
        benchmark="synthgen",
        dataset_version="dvg",
        task_type="generation",
        choices=[[]],
        gold="pass",
        gold_index=-1,
        is_duplicate=False,
        duplicate_of=None,
    )
    lake.write_parquet(gen_items, lake.items_path(lk, "synthgen", "dvg"))
    rows = [
        prediction_row(
            cell_key=f"g{s}",
            model="coder",
            model_version="mv",
            benchmark="synthgen",
            dataset_version="dvg",
            grid_version="g",
            item_id="i000",
            item_hash="h0",
            task_type="generation",
            template_id="t",
            is_primary=s == 0,
            is_headline=s == 0,
            n_fewshot=0,
            fewshot_seed=0,
            permutation_seed=0,
            decoding="sample",
            temperature=0.8,
            top_p=0.95,
            sample_idx=s,
            prediction="x",
            gold="pass",
            is_correct=s < 3,
            generation="x",
            exec_status="passed" if s < 3 else "failed",
            dtype="float32",
            attn_implementation="sdpa",
        )
        for s in range(10)
    ]
    write_predictions(lk, rows)
    _decoding_gap_lake(lk, gen_items)


GAP_ITEMS, GAP_SAMPLES = 30, 5


def _decoding_gap_lake(lk, gen_items):
    """A grid with decoding [greedy, sample × 4] (audit 3): two models, random outcomes; one item of model c2
    lacks a sample (left out of the comparison as incomplete)."""
    rng = np.random.default_rng(3)
    items = pd.concat(
        [gen_items.assign(item_id=f"g{j:02d}", item_hash=f"gh{j}", source_row=j + 1) for j in range(GAP_ITEMS)]
    ).assign(benchmark="synthgap", dataset_version="dvgap")
    lake.write_parquet(items.reset_index(drop=True), lake.items_path(lk, "synthgap", "dvgap"))
    rows = []
    for model, p_greedy, p_sample in (("c1", 0.6, 0.25), ("c2", 0.3, 0.35)):
        for j in range(GAP_ITEMS):
            cells = [("greedy", 0, 0.0)] + [("sample", s, 0.8) for s in range(GAP_SAMPLES)]
            for dec, s, temp in cells:
                if model == "c2" and j == 0 and dec == "sample" and s == 3:
                    continue
                ok = bool(rng.random() < (p_greedy if dec == "greedy" else p_sample))
                rows.append(
                    prediction_row(
                        cell_key=f"{model}-{j}-{dec}-{s}",
                        model=model,
                        model_version="mv",
                        benchmark="synthgap",
                        dataset_version="dvgap",
                        grid_version="g",
                        item_id=f"g{j:02d}",
                        item_hash=f"gh{j}",
                        task_type="generation",
                        template_id="t",
                        is_primary=dec == "greedy",
                        is_headline=dec == "greedy",
                        n_fewshot=0,
                        fewshot_seed=0,
                        permutation_seed=0,
                        decoding=dec,
                        temperature=temp,
                        top_p=0.95 if dec == "sample" else 1.0,
                        sample_idx=s,
                        prediction="x",
                        gold="pass",
                        is_correct=ok,
                        generation="x",
                        exec_status="passed" if ok else "failed",
                        dtype="float32",
                        attn_implementation="sdpa",
                        batch_tokens=1024,
                    )
                )
    write_predictions(lk, rows)


def _check_decoding_gap(con):
    """marts.decoding_gap equals benchtrust.stats.decoding_summary on the same complete items, and pass@k counts
    the samples only (not the greedy cell)."""
    from benchtrust.stats import decoding_summary

    preds = con.execute("select * from marts.predictions where benchmark = 'synthgap'").df()
    mart = con.execute("select * from marts.decoding_gap where benchmark = 'synthgap'").df().set_index("model")
    assert sorted(mart.index) == ["c1", "c2"]
    for model, grp in preds.groupby("model"):
        g = grp[grp["decoding"] == "greedy"].set_index("item_id")["is_correct"].astype(float)
        s = grp[grp["decoding"] == "sample"].pivot(index="item_id", columns="sample_idx", values="is_correct")
        s = s.dropna().astype(float)
        ref = decoding_summary(g.loc[s.index].to_numpy(), s.to_numpy())
        r = mart.loc[model]
        assert (r["n_samples"], r["n_items"]) == (GAP_SAMPLES, len(s))
        assert r["n_items_incomplete"] == GAP_ITEMS - len(s) == (1 if model == "c2" else 0)
        for col, val in (
            ("greedy_accuracy", ref.greedy_accuracy),
            ("sample_accuracy_mean", ref.sample_mean),
            ("gap", ref.gap),
            ("sample_sd", ref.sample_sd),
            ("sample_min", ref.sample_min),
            ("sample_max", ref.sample_max),
            ("best_of_n", ref.best_of_n),
            ("worst_of_n", ref.worst_of_n),
        ):
            assert r[col] == pytest.approx(val, abs=1e-12), col
        d = g.loc[s.index].to_numpy() - s.mean(axis=1).to_numpy()
        se = d.std(ddof=1) / np.sqrt(len(d))
        assert r["gap_se"] == pytest.approx(se, abs=1e-12)
        assert r["gap_ci_low"] == pytest.approx(ref.gap - 1.959963984540054 * se, abs=1e-12)
    rep = (
        con.execute(
            "select model, n_samples, pass_at_1, pass_at_5 from marts.reliability_report "
            "where benchmark = 'synthgap' order by model"
        )
        .df()
        .set_index("model")
    )
    assert (rep["n_samples"] == GAP_SAMPLES - 1).tolist() == [False, True]  # c2's min(n) is 3 (one sample missing)
    s1 = preds[(preds["model"] == "c1") & (preds["decoding"] == "sample")]
    assert rep.loc["c1", "pass_at_1"] == pytest.approx(s1["is_correct"].astype(float).mean(), abs=1e-12)
    from benchtrust.stats import pass_at_k

    c = s1.groupby("item_id")["is_correct"].sum().to_numpy()
    assert (c == 0).any()  # items with no correct sample: pass@k = 0 there (an empty product, not NULL)
    assert rep.loc["c1", "pass_at_5"] == pytest.approx(float(pass_at_k(GAP_SAMPLES, c, 5).mean()), abs=1e-12)


def test_dbt_build_reproduces_reference_wilson_intervals(bt_home, dbt_manifest):
    from benchtrust.settings import get_settings

    settings = get_settings().ensure()
    _lake(bt_home)
    proc = dbt_build()
    assert "reliability_report_headline_and_spread" in proc.stdout  # the dbt unit test ran

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    gen = con.execute("select * from marts.reliability_report where benchmark = 'synthgen'").df().iloc[0]
    assert gen["n_samples"] == 10 and gen["n_scored"] == 1
    assert gen["pass_at_1"] == pytest.approx(0.30) and gen["pass_at_5"] == pytest.approx(0.9167, abs=1e-4)
    assert gen["pass_at_10"] == pytest.approx(1.0)
    from benchtrust.stats import pass_at_k

    assert gen["pass_at_5"] == pytest.approx(float(pass_at_k(10, 3, 5)), abs=1e-12)
    rep = (
        con.execute("select * from marts.reliability_report where benchmark = 'synth' order by model")
        .df()
        .set_index("model")
    )
    for (model, k, n), (lo, hi) in REFERENCE.items():
        r = rep.loc[model]
        assert (r["n_scored"], r["n_correct"]) == (n, k)
        assert r["accuracy"] == pytest.approx(k / n)
        assert r["ci_low"] == pytest.approx(lo, abs=1e-4) and r["ci_high"] == pytest.approx(hi, abs=1e-4)
        # the SQL and the Python implementation agree to float precision
        py = wilson(k, n)
        assert r["ci_low"] == pytest.approx(float(py.lo), abs=1e-12) and r["ci_high"] == pytest.approx(
            float(py.hi), abs=1e-12
        )
        assert r["ci_method"] == "wilson" and r["n_templates"] == 2 and r["is_latest"]
        assert r["prompt_spread"] == pytest.approx(k / n - (k // 2) / n)
        assert r["n_duplicate_items"] == 1 and r["n_quarantined"] == 1 and r["benchmark_items"] == 200
    n_gap = 2 * GAP_ITEMS * (1 + GAP_SAMPLES) - 1
    assert con.execute("select count(*) from marts.predictions").fetchone()[0] == 2 * (10 + 10 + 200) + 10 + n_gap
    _check_decoding_gap(con)
    assert con.execute("select count(*) from marts.item_audit where is_duplicate").fetchone()[0] == 1
    assert con.execute("select rule, source_row from marts.quarantine").fetchall() == [("invalid_json", 7)]
    con.close()


def test_contract_rejects_a_type_drift(bt_home, dbt_manifest, tmp_path):
    """An enforced contract is a check that can fail: a mart whose column type drifts does not build."""
    import shutil

    from benchtrust.settings import DBT_PROJECT_DIR

    _lake(bt_home)
    proj = tmp_path / "dbt_copy"
    shutil.copytree(DBT_PROJECT_DIR, proj, ignore=shutil.ignore_patterns("target", "logs"))
    sql = proj / "models" / "marts" / "reliability_report.sql"
    sql.write_text(sql.read_text().replace("0.95::double as ci_level", "0.95 as ci_level"))
    from benchtrust.dbt_vars import dbt_vars_args
    from benchtrust.settings import get_settings

    get_settings().ensure()  # this test's own warehouse folder (get_settings exports this home's paths for dbt)
    proc = subprocess.run(
        ["dbt", "build", "--profiles-dir", ".", *dbt_vars_args(), "--select", "+reliability_report"],
        cwd=proj,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "contract" in proc.stdout.lower() and "ci_level" in proc.stdout
