"""The documented CSV / Parquet / JSONL import layout (``benchtrust.importers.table``) and the dispatcher."""

from __future__ import annotations

import pandas as pd
import pytest

from benchtrust.importers import ImportFormatError, import_predictions, normalise_format
from benchtrust.inference.runner import PREDICTION_COLUMNS

CSV = """model,item_id,question,prediction,gold,seed,template,run,score
m1,q1,What is 2+2?,B,B,0,plain,0,1
m1,q1,What is 2+2?,(C),B,0,plain,1,0
m1,q2,Capital of France?,The,A,0,plain,0,0
m2,q1,What is 2+2?,b,B,1,cot,0,0
m2,q2,Capital of France?,,A,1,cot,0,0
"""


def _write(tmp_path, text, name="preds.csv"):
    f = tmp_path / name
    f.write_text(text)
    return f


def test_csv_layout(tmp_path):
    r = import_predictions("csv", _write(tmp_path, CSV))
    p = r.predictions
    assert p.columns[: len(PREDICTION_COLUMNS)].tolist() == PREDICTION_COLUMNS
    assert len(p) == 5 and p["cell_key"].is_unique
    assert p["benchmark"].unique().tolist() == ["preds"]  # the file stem by default
    # letters read leniently ("(C)"), anything else is an invalid answer: wrong, kept as written
    assert p["prediction"].tolist() == ["B", "(C)", "The", "b", ""]
    assert p["is_correct"].tolist() == [True, False, False, False, False]
    assert p["predicted_index"].tolist()[:2] == [1, 2] and p["predicted_index"].isna().tolist()[2:] == [True] * 3
    assert p["sample_idx"].tolist() == [0, 1, 0, 0, 0] and p["fewshot_seed"].tolist() == [0, 0, 0, 1, 1]
    assert p["template_id"].tolist() == ["plain", "plain", "plain", "cot", "cot"]
    assert p["score"].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert r.items is not None and sorted(r.items["item_id"]) == ["q1", "q2"]
    assert p["dataset_version"].nunique() == 1 and p["dataset_version"].iloc[0] == r.items["dataset_version"].iloc[0]


def test_correct_column_wins_and_unscored_rows(tmp_path):
    text = "model,input,answer,target,is_correct\nm,Say hi,hello,hi,yes\nm,Say bye,bye,,\n"
    r = import_predictions("table", _write(tmp_path, text))
    p = r.predictions
    assert p["is_correct"].tolist()[0] is True and pd.isna(p["is_correct"].iloc[1])
    assert p["item_id"].str.startswith("item-").all() and p["item_id"].nunique() == 2
    assert set(p["task_type"]) == {"generation"}
    assert r.warnings == []


def test_parquet_and_jsonl_round_trip(tmp_path):
    df = pd.read_csv(_write(tmp_path, CSV), dtype=str, keep_default_na=False)
    df.to_parquet(tmp_path / "p.parquet", index=False)
    df.to_json(tmp_path / "p.jsonl", orient="records", lines=True)
    a = import_predictions("parquet", tmp_path / "p.parquet", benchmark="toy")
    b = import_predictions("jsonl", tmp_path / "p.jsonl", benchmark="toy")
    cols = ["model", "item_id", "prediction", "is_correct", "sample_idx"]
    pd.testing.assert_frame_equal(a.predictions[cols], b.predictions[cols])
    assert a.predictions["is_correct"].tolist() == [True, False, False, False, False]


@pytest.mark.parametrize(
    "text,match",
    [
        ("model,prediction\nm,A\n", r"missing_column: required column\(s\) \['item_id or input'\]"),
        ("model,item_id,prediction,correct\nm,q,A,maybe\n", r"row 1: bad_value: correct 'maybe'"),
        ("model,item_id,prediction,seed\nm,q,A,0\nm,q2,A,-1\n", r"row 2: bad_value: seed '-1'"),
        ("model,item_id,prediction\nm,q,A\n,q,B\n", r"row 2: missing_value: empty model"),
        ("model,item_id,prediction\nm,q,A\nm,q,B\n", r"duplicate_prediction"),
    ],
)
def test_errors_name_the_file_and_row(tmp_path, text, match):
    f = _write(tmp_path, text)
    with pytest.raises(ImportFormatError, match=match) as e:
        import_predictions("csv", f)
    assert str(f) in str(e.value)


def test_dispatcher():
    assert normalise_format("LM_Eval") == "lm-eval" and normalise_format("parquet") == "table"
    assert normalise_format("llm_stability") == "llm-stability" and normalise_format("HELM") == "helm"
    with pytest.raises(ValueError, match="unknown import format"):
        normalise_format("openai-evals")
    with pytest.raises(ImportFormatError, match="not_found"):
        import_predictions("csv", "/nonexistent/file.csv")
