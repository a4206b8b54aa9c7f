"""Meaning-preserving rewrites (control gap) and the SQL macros of the contamination models, rendered with
Jinja and run on DuckDB against reference values (AUDITS.md McNemar, statsmodels' Newcombe interval)."""

from __future__ import annotations

import duckdb
import jinja2
import pandas as pd
import pytest

from benchtrust.contamination.rewrites import entity_rename, number_words, rewrite_items, stem_paraphrase
from benchtrust.settings import DBT_PROJECT_DIR


def test_rewrites_keep_meaning_and_answer():
    assert (
        number_words("If Paul has 3 apples and 12 pears, x^2 + 2x = 3.5 and 1,000 in (2) 2020.", [], "k")[0]
        == "If Paul has three apples and twelve pears, x^2 + 2x = 3.5 and 1,000 in (2) 2020."
    )
    assert number_words("no numbers", [], "k") is None
    text, choices = entity_rename("Paul gives Mary 3 apples. Paul keeps 2.", ["Paul", "Mary", "both"], "k")
    assert "Paul" not in text and "Mary" not in text and text.count(choices[0]) == 2 and choices[2] == "both"
    assert entity_rename("John F. Kennedy and John Locke met Susan B. Anthony.", [], "k") is None  # real people
    assert (
        stem_paraphrase("Which of the following is not true?", [], "k")[0]
        == "Which one of the following options isn't true?"
    )
    items = pd.DataFrame(
        [
            {
                "item_id": "a",
                "item_hash": "h",
                "task_type": "multiple_choice",
                "subject": "formal logic",
                "input": "Paul is tall.",
                "choices": ["Tp", "Pt"],
                "gold": "A",
                "gold_index": 0,
            },
            {
                "item_id": "b",
                "item_hash": "h2",
                "task_type": "multiple_choice",
                "subject": "elementary mathematics",
                "input": "Paul has 3 apples.",
                "choices": ["1", "2"],
                "gold": "B",
                "gold_index": 1,
            },
        ]
    )
    r = rewrite_items(items, "entity_rename")
    assert r["item_id"].tolist() == ["b"]  # no renaming in formal logic (constants are the names' initials)
    assert r.loc[0, "gold"] == "B" and r.loc[0, "original_item_hash"] == "h2" and r.loc[0, "item_hash"] != "h2"
    with pytest.raises(ValueError):
        rewrite_items(items, "nonsense")


def _macros():
    env = jinja2.Environment()
    env.globals["var"] = lambda name, default=None: {"z95": 1.959963984540054}.get(name, default)
    src = (DBT_PROJECT_DIR / "macros" / "wilson.sql").read_text() + (
        DBT_PROJECT_DIR / "macros" / "contamination" / "contamination.sql"
    ).read_text()
    return env.from_string(src).module


def test_mcnemar_macro_matches_the_audits_reference():
    m = _macros()
    con = duckdb.connect()
    p = con.execute(f"select {m.bt_mcnemar_exact_p('10', '2')}").fetchone()[0]
    assert p == pytest.approx(0.0386, abs=5e-5) and p == pytest.approx(158 / 4096, abs=1e-12)
    assert con.execute(f"select {m.bt_mcnemar_exact_p('0', '0')}").fetchone()[0] == 1.0
    assert con.execute(f"select {m.bt_mcnemar_exact_p('5', '5')}").fetchone()[0] == 1.0


@pytest.mark.parametrize("k1, n1, k2, n2", [(56, 70, 48, 80), (9, 10, 3, 10), (10, 10, 0, 10), (0, 5, 1, 200)])
def test_newcombe_macro_matches_statsmodels(k1, n1, k2, n2):
    from statsmodels.stats.proportion import confint_proportions_2indep

    m = _macros()
    lo, hi = (
        duckdb.connect()
        .execute(
            f"select {m.bt_newcombe_low(str(k1), str(n1), str(k2), str(n2))}, "
            f"{m.bt_newcombe_high(str(k1), str(n1), str(k2), str(n2))}"
        )
        .fetchone()
    )
    ref = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff")
    assert lo == pytest.approx(ref[0], abs=1e-9) and hi == pytest.approx(ref[1], abs=1e-9)


def test_item_text_and_tokens_macros_match_python():
    from benchtrust.contamination.corpora import item_text
    from benchtrust.contamination.ngrams import tokenize

    m = _macros()
    con = duckdb.connect()
    for inp, ch in [("Q?", ["a", "b c"]), ("Only input", []), ("x", None)]:
        got = con.execute(f"select {m.bt_item_text('?', '?::varchar[]')}", [inp, ch]).fetchone()[0]
        assert got == item_text(inp, ch)
        toks = con.execute(f"select {m.bt_tokens('?')}", [got]).fetchone()[0]
        assert toks == tokenize(got)
