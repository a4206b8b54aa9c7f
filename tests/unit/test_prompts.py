"""Prompt templates and the few-shot context layout (pure rendering, no model)."""

from __future__ import annotations

import pandas as pd

from benchtrust.inference.prompts import build_context, render_continuations, render_prompt
from benchtrust.inference.runner import FewshotSelector, permute_choices, plan_cells
from benchtrust.registry import Grid, Registry

ITEM = {
    "item_id": "x-1",
    "input": "What is 2 + 2?",
    "choices": ["3", "4", "5", "22"],
    "gold_index": 1,
    "gold": "B",
    "subject": "elementary mathematics",
    "item_hash": "h",
    "task_type": "multiple_choice",
}


def test_harness_template_matches_lm_eval_mmlu_layout():
    t = Registry.load().templates["mmlu_harness"]
    prefix, ctx = build_context(t, ITEM)
    assert prefix == "The following are multiple choice questions (with answers) about elementary mathematics.\n\n"
    assert ctx == prefix + "What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 22\nAnswer:"
    assert render_continuations(t, ITEM["choices"]) == [" A", " B", " C", " D"]


def test_at_least_four_mmlu_formats_differ_in_separators_enumerators_and_wording():
    reg = Registry.load()
    mmlu = [t for t in reg.templates.values() if t.id.startswith("mmlu_") and t.task_type == "multiple_choice"]
    assert len(mmlu) >= 4
    rendered = {t.id: build_context(t, ITEM)[1] for t in mmlu}
    assert len(set(rendered.values())) == len(rendered)
    assert "(A) 3" in rendered["mmlu_paren"] and "a: 3 || b: 4" in rendered["mmlu_lower_colon"]
    assert "1) 3" in rendered["mmlu_numbered_instruct"]
    assert render_continuations(reg.templates["mmlu_numbered_instruct"], ITEM["choices"]) == [" 1", " 2", " 3", " 4"]
    assert render_continuations(reg.templates["mmlu_cloze"], ITEM["choices"]) == [" 3", " 4", " 5", " 22"]


def test_item_text_is_data_not_template_code():
    t = Registry.load().templates["mmlu_harness"]
    evil = {**ITEM, "input": "{{ 7 * 7 }} {% for x in range(3) %}x{% endfor %}"}
    assert "{{ 7 * 7 }}" in render_prompt(t, evil) and "49" not in render_prompt(t, evil)


def test_fewshot_examples_are_fixed_per_subject_and_exclude_evaluated_items():
    pool = pd.DataFrame([{**ITEM, "item_id": f"p{i}", "item_hash": f"h{i}", "input": f"Q{i}?"} for i in range(12)])
    evaluated = pool.head(4)
    sel = FewshotSelector(pool, set(evaluated["item_id"]), 5)
    ex_a = sel.examples(evaluated.iloc[0].to_dict(), seed=0)
    ex_b = sel.examples(evaluated.iloc[1].to_dict(), seed=0)
    assert [e["item_id"] for e in ex_a] == [e["item_id"] for e in ex_b]  # one shared prefix per subject
    assert not {e["item_id"] for e in ex_a} & set(evaluated["item_id"])
    assert [e["item_id"] for e in sel.examples(evaluated.iloc[0].to_dict(), seed=1)] != [e["item_id"] for e in ex_a]
    t = Registry.load().templates["mmlu_harness"]
    prefix, ctx = build_context(t, evaluated.iloc[0].to_dict(), ex_a)
    assert prefix.count("Answer: B\n\n") == 5 and ctx.startswith(prefix) and ctx.endswith("Answer:")


def test_permutations_and_grid_coordinates():
    choices, order = permute_choices(ITEM["choices"], 1, seed=3, item_id="x-1")
    assert sorted(choices) == sorted(ITEM["choices"]) and [ITEM["choices"][k] for k in order] == choices
    assert permute_choices(ITEM["choices"], 1, 0, "x-1") == (ITEM["choices"], [0, 1, 2, 3])
    reg = Registry.load()
    g = Grid(
        templates=[reg.templates["mmlu_harness"], reg.templates["mmlu_paren"]],
        permutation_seeds=[0, 1],
        fewshot={"n": 0, "seeds": [0, 7]},
        numeric=[{"dtype": "float32"}, {"dtype": "bfloat16"}],
    )
    cells = plan_cells(pd.DataFrame([ITEM]), g, "mv")
    assert len(cells) == 2 * 2 * 2 * 2 and len({c.key for c in cells}) == 16
