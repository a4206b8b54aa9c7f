"""Run-to-run agreement reproduces the authors' own summaries of breckbaldwin/llm-stability.

Data: ``../shared/external-data/llm_stability/`` (breckbaldwin/llm-stability @ c089c02e, Apache-2.0):
``runs_item_level.csv`` + ``configs.csv`` (+ ``questions.csv``), and the authors' ``evaluate.py`` output for
the two complete experiments, ``stability_eval_strict_json_schema.csv`` (GPT-4o, 5 runs × 7 tasks) and
``stability_eval_fine_tuned.csv`` (gpt-3.5: 10 runs × 2 tasks; fine-tuned gpt-3.5, 7 and 6 runs).

Every column is compared except ``bootstrap_counts`` / ``bootstrap_pcts``: ``evaluate.py`` draws them with
Python's unseeded ``random.choice`` (10 draws of one run per item), so no implementation can reproduce
the numbers; what *is* checked is what they must satisfy (10 sorted counts between the worst and the best
possible count, percentages = counts / questions).
"""

from __future__ import annotations

import ast
import re

import pandas as pd
import pytest

from benchtrust.audits import run_agreement
from benchtrust.hashing import canonical_json, hash_obj
from benchtrust.importers.llm_stability import (
    is_correct,
    parse_answer,
    parse_parenthesized_answer,
    parse_string_answer,
)

SUMMARIES = ["stability_eval_strict_json_schema.csv", "stability_eval_fine_tuned.csv"]


def pct(x: float) -> str:  # evaluate.py's format_to_pct
    return f"{x:.1%}"


@pytest.fixture(scope="module")
def agreement(stability_import):
    preds = stability_import.predictions
    ra = run_agreement(preds)
    run_dirs = preds.groupby("grid_version")["run_dir"].first()
    return ra.assign(run_dir=ra["grid_version"].map(run_dirs))


# (summary file, row): 7 strict-json-schema configurations, 4 fine-tuned ones (listed statically so that
# collection does not need the data; each test skips on its own when the folder is absent)
SUMMARY_ROWS = [(SUMMARIES[0], i) for i in range(7)] + [(SUMMARIES[1], i) for i in range(4)]


def _summary_row(external, name: str, i: int) -> pd.Series:
    df = pd.read_csv(external(f"llm_stability/{name}"))
    assert len(df) == sum(1 for n, _ in SUMMARY_ROWS if n == name)
    return df.iloc[i]


def _ours(agreement: pd.DataFrame, row: pd.Series) -> pd.Series:
    mv = f"{row['model']}@{hash_obj(ast.literal_eval(row['model_config']), 10)}"
    tid = "llm_stability:" + canonical_json(ast.literal_eval(row["task_config"]))
    hit = agreement[
        (agreement["model_version"] == mv) & (agreement["template_id"] == tid) & (agreement["benchmark"] == row["task"])
    ]
    assert len(hit) == 1, f"{row['model']} {row['task']}: {len(hit)} matching configurations"
    return hit.iloc[0]


def test_summaries_cover_every_complete_configuration(agreement, external):
    external("llm_stability/stability_eval_fine_tuned.csv")
    # 7 strict-json + 4 fine-tuned configurations are summarised; the two cross-trained fine-tuned
    # sessions (cross_trained/...) are in the item file but summarised elsewhere by the authors
    assert len(agreement) == 13
    assert agreement["run_dir"].str.startswith("cross_trained/").sum() == 2


@pytest.mark.parametrize("name,i", SUMMARY_ROWS, ids=[f"{n.split('_eval_')[1][:-4]}-{i}" for n, i in SUMMARY_ROWS])
def test_matches_authors_summary_row(agreement, external, name, i):
    row = _summary_row(external, name, i)
    ours = _ours(agreement, row)
    n = int(row["num_questions"])
    assert ours["n_items"] == n
    assert ours["n_runs"] == int(row["N"])
    assert ours["tac_raw"] == int(row["TACr"]) and pct(ours["tar_raw"]) == row["TARr"]
    assert ours["tac_answer"] == int(row["TACa"]) and pct(ours["tar_answer"]) == row["TARa"]
    assert ours["correct_per_run"] == ast.literal_eval(row["correct_count_per_run"])
    assert [pct(x) for x in ours["accuracy_per_run"]] == ast.literal_eval(row["correct_pct_per_run"])
    assert ours["best_count"] == int(row["best_possible_count"])
    assert pct(ours["best_accuracy"]) == row["best_possible_accuracy"]
    assert ours["worst_count"] == int(row["worst_possible_count"])
    assert pct(ours["worst_accuracy"]) == row["worst_possible_accuracy"]
    assert pct(ours["spread"]) == row["spread"]
    # date: evaluate.py stamps the session's date, which ends the run folder's name
    assert re.search(r"(\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2})$", ours["run_dir"]).group(1) == row["date"]
    # bootstrap columns: unseeded random draws, checked for what they must satisfy
    boot = ast.literal_eval(row["bootstrap_counts"])
    assert len(boot) == 10 and boot == sorted(boot)
    assert all(ours["worst_count"] <= b <= ours["best_count"] for b in boot)
    assert ast.literal_eval(row["bootstrap_pcts"]) == [pct(b / n) for b in boot]
    # our extra variance figures agree with the authors' columns
    assert ours["flip_share"] == pytest.approx(ours["spread"])
    assert ours["mean_accuracy"] == pytest.approx(sum(ours["correct_per_run"]) / (n * ours["n_runs"]))


def test_no_answer_in_every_run_counts_as_agreement(stability_import, agreement):
    """The authors' rule, reproduced: ruin_names item 99 ('{"Answer":"I"}' five times, gold not an
    option) has no parsable answer in any run, and evaluate.py counts it as answer-consistent."""
    p = stability_import.predictions
    item = p[(p["benchmark"] == "ruin_names") & (p["item_id"] == "ruin_names-00099")]
    assert len(item) == 5 and set(item["answer_status"]) == {"no_answer"}
    assert set(item["generation"]) == {'{"Answer":"I"}'} and not item["is_correct"].any()
    ruin = agreement[agreement["benchmark"] == "ruin_names"].iloc[0]
    without = run_agreement(p[(p["benchmark"] == "ruin_names") & (p["item_id"] != "ruin_names-00099")])
    assert ruin["tac_answer"] - without.iloc[0]["tac_answer"] == 1


def test_answer_parsing_follows_the_authors_rules():
    assert parse_parenthesized_answer('{"Answer":"C"}') == "(C)"  # bare letter, word-bounded
    assert parse_parenthesized_answer("Let me think.\nThe answer is (B).") == "(B)"
    assert parse_parenthesized_answer("no option named") is None
    # (A) on the last line wins although (B) and (C) appear earlier: salience first
    assert parse_parenthesized_answer("(B) looks right\n(C) too\nbut\n\nfinally (A)") == "(A)"
    assert parse_answer("college_mathematics", "(A) or (B)") == (None, "ambiguous")
    assert parse_string_answer("- Yes") == "Yes"
    assert parse_string_answer("Yes or no?") == "Yes"  # case-sensitive step decides before case-insensitive
    assert parse_answer("navigate", "yes, no") == (None, "ambiguous")
    # college_mathematics' correct_fn reads the JSON answer with and without parentheses
    assert is_correct("college_mathematics", '{"Answer":"C"}', "(C)", "(C)", "ok")
    assert is_correct("college_mathematics", '{"Answer":"(C)"}', "(C)", "(C)", "ok")
    assert not is_correct("logical_deduction", "nothing", "(A)", None, "no_answer")


def test_incomplete_experiments_need_complete_drop(external):
    from benchtrust.importers import import_predictions

    folder = external("llm_stability/runs_item_level.csv").parent
    imp = import_predictions("llm-stability", folder, experiment="stochastic_non_determinism")
    with pytest.raises(ValueError, match="runs"):
        run_agreement(imp.predictions)
    ra = run_agreement(imp.predictions, complete="drop")
    assert len(ra) > 0 and (ra["n_incomplete_items"] > 0).any()
    assert ((ra["worst_count"] <= ra["best_count"]) & (ra["tac_raw"] <= ra["tac_answer"] + ra["n_items"])).all()
