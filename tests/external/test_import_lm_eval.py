"""lm-evaluation-harness ``--log_samples`` import, on the small hand-made fixture in ``fixtures/lm_eval``
(see its README: the layout is lm-eval 0.4's; texts are real MMLU / GSM8K test items; the model outputs
are invented)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from benchtrust.importers import ImportFormatError, import_predictions
from benchtrust.inference.runner import PREDICTION_COLUMNS
from benchtrust.items import SourceError

MMLU = "samples_mmlu_abstract_algebra_2024-06-01T10-00-00.000000.jsonl"
GSM = "samples_gsm8k_2024-06-01T10-00-00.000000.jsonl"


@pytest.fixture()
def lm_dir(fixtures_dir):
    return fixtures_dir / "lm_eval"


@pytest.fixture()
def result(lm_dir):
    return import_predictions("lm-eval", lm_dir)


def test_rows_models_and_schema(result):
    p = result.predictions
    assert len(p) == 7  # 3 MMLU docs + 2 GSM8K docs × 2 filters
    assert p.columns[: len(PREDICTION_COLUMNS)].tolist() == PREDICTION_COLUMNS
    assert result.models == ["EleutherAI/pythia-160m"]  # from results_*.json, not the folder name
    assert p["cell_key"].is_unique
    assert len(result.files) == 2 and result.warnings == []
    assert set(p["n_fewshot"]) == {0}


def test_multiple_choice_rows(result):
    mc = result.predictions[result.predictions["benchmark"] == "mmlu"].set_index("item_id")
    assert mc.index.tolist() == ["abstract_algebra-00000", "abstract_algebra-00001", "abstract_algebra-00002"]
    assert mc["mmlu_test_index"].tolist() == [0, 1, 2]
    assert mc["prediction"].tolist() == ["B", "A", "D"]
    assert mc["gold"].tolist() == ["B", "C", "D"]
    assert mc["is_correct"].tolist() == [True, False, True]
    assert set(mc["decoding"]) == {"loglikelihood"} and set(mc["template_id"]) == {"mmlu_abstract_algebra"}
    row = mc.loc["abstract_algebra-00001"]
    lp = np.array([-1.1873, -1.5520, -1.4419, -1.6602])
    assert row["option_logprobs"] == pytest.approx(lp.tolist())
    assert row["p_correct"] == pytest.approx(np.exp(lp[2]) / np.exp(lp).sum())
    assert row["logprob_gold"] == pytest.approx(-1.4419) and row["score"] == pytest.approx(-1.1873)
    assert row["predicted_index"] == 0


def test_generation_rows_one_template_per_filter(result):
    g = result.predictions[result.predictions["benchmark"] == "gsm8k"]
    got = {(r.template_id, r.item_id): (r.prediction, r.is_correct) for r in g.itertuples()}
    assert got == {
        ("gsm8k|filter=strict-match", "gsm8k-00000"): ("18", True),
        ("gsm8k|filter=strict-match", "gsm8k-00001"): ("[invalid]", False),
        ("gsm8k|filter=flexible-extract", "gsm8k-00000"): ("18", True),
        ("gsm8k|filter=flexible-extract", "gsm8k-00001"): ("3", True),
    }
    assert set(g["decoding"]) == {"greedy"} and set(g["task_type"]) == {"generation"}
    headline = g[g["is_headline"].astype(bool)]
    assert set(headline["template_id"]) == {"gsm8k|filter=strict-match"}  # the task's first filter
    assert g["generation"].str.contains("bolt").sum() == 2
    only = import_predictions("lm-eval", result.files[0], filter="strict-match")
    assert len(only.predictions) == 2 and set(only.predictions["template_id"]) == {"gsm8k"}


def test_filters_are_scoring_variants_not_templates(result):
    """Issue 14: gsm8k's two filters read as two templates gave "prompt spread 50 points, red". A filter is
    a scoring variant of one prompt: only the primary filter is in the primary grid the prompt-spread audit
    reads (int_template_scores_aggregated / int_prompt_sensitivities_measured: ``where is_primary``)."""
    g = result.predictions[result.predictions["benchmark"] == "gsm8k"]
    flags = {(r.lm_eval_filter, r.item_id): (bool(r.is_primary), bool(r.is_headline)) for r in g.itertuples()}
    assert flags == {
        ("strict-match", "gsm8k-00000"): (True, True),
        ("strict-match", "gsm8k-00001"): (True, True),
        ("flexible-extract", "gsm8k-00000"): (False, False),
        ("flexible-extract", "gsm8k-00001"): (False, False),
    }
    assert result.meta["primary_filters"] == {"gsm8k": "strict-match", "mmlu_abstract_algebra": "none"}
    # what the prompt-spread audit sees: one template per model x benchmark, so no spread to compute
    primary = result.predictions[result.predictions["is_primary"].astype(bool)]
    assert primary.groupby(["model", "benchmark"])["template_id"].nunique().eq(1).all()
    # the filters' accuracies differ by 50 points: the spread the audit wrongly reported before
    acc = g.groupby("lm_eval_filter")["is_correct"].mean()
    assert (acc["flexible-extract"], acc["strict-match"]) == (1.0, 0.5)


def test_items(result):
    it = result.items.set_index("item_id")
    assert len(it) == 5 and it["dataset_version"].groupby(it["benchmark"]).nunique().eq(1).all()
    aa = it.loc["abstract_algebra-00000"]
    assert aa["input"].startswith("Find the degree") and list(aa["choices"]) == ["0", "4", "2", "6"]
    assert (aa["gold"], aa["gold_index"], aa["subject"]) == ("B", 1, "abstract_algebra")
    assert it.loc["gsm8k-00001", "gold"] == "3" and it.loc["gsm8k-00001", "task_type"] == "generation"


def test_malformed_line_names_file_and_line(lm_dir, tmp_path):
    dst = tmp_path / "m" / MMLU
    dst.parent.mkdir()
    lines = (lm_dir / "EleutherAI__pythia-160m" / MMLU).read_text().splitlines()
    lines[1] = lines[1][:-10]  # truncated JSON on line 2
    dst.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportFormatError) as e:
        import_predictions("lm-eval", dst)
    assert e.value.line == 2 and e.value.file == str(dst)
    assert str(e.value).startswith(f"{dst}:2: bad_json")
    assert isinstance(e.value, SourceError)


def test_line_without_required_fields(tmp_path):
    f = tmp_path / "samples_arc_easy_2024-01-01T00-00-00.000000.jsonl"
    f.write_text(json.dumps({"doc_id": 0, "doc": {}, "resps": []}) + "\n")
    with pytest.raises(ImportFormatError, match=rf"{f.name}:1: missing_field: no 'arguments'"):
        import_predictions("lm-eval", f)
    f.write_text("[1, 2]\n")
    with pytest.raises(ImportFormatError, match=":1: bad_record"):
        import_predictions("lm-eval", f)


def test_folder_without_samples_and_older_argument_layout(tmp_path, lm_dir):
    with pytest.raises(ImportFormatError, match="no_samples"):
        import_predictions("lm-eval", tmp_path)
    # lm-eval 0.4.0 wrote arguments as a list of [context, continuation] lists
    rec = json.loads((lm_dir / "EleutherAI__pythia-160m" / MMLU).read_text().splitlines()[0])
    rec["arguments"] = [[a["arg_0"], a["arg_1"]] for a in rec["arguments"].values()]
    folder = tmp_path / "org__model"
    folder.mkdir()
    (folder / MMLU).write_text(json.dumps(rec) + "\n")
    r = import_predictions("lm_eval", folder)
    assert r.models == ["org/model"]  # no results file: the folder name
    assert r.predictions["prediction"].tolist() == ["B"] and r.predictions["is_correct"].tolist() == [True]


def test_copy_of_fixture_imports_identically(tmp_path, lm_dir, result):
    shutil.copytree(lm_dir, tmp_path / "copy")
    again = import_predictions("lm-eval", tmp_path / "copy")
    assert again.predictions["cell_key"].tolist() == result.predictions["cell_key"].tolist()
