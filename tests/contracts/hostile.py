"""Generated hostile inputs for the malformed-input corpus (issue 15, item 7): too big, binary, or not files at all,
so they are written by the test into its temporary folder instead of living in cases/."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

LM_EVAL_FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "external"
    / "fixtures"
    / "lm_eval"
    / "EleutherAI__pythia-160m"
    / "samples_mmlu_abstract_algebra_2024-06-01T10-00-00.000000.jsonl"
)


def _q(question: Any, choices: Any = ("a", "b"), answer: Any = "A", subject: str = "geo", **kw: Any) -> str:
    return json.dumps({"question": question, "choices": list(choices), "answer": answer, "subject": subject, **kw})


def _lines(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n")


def huge_field_5mb_jsonl(p: Path) -> None:
    _lines(p, [_q("Q1?"), _q("x" * (5 << 20)), _q("Q3?")])


def huge_line_9mb_jsonl(p: Path) -> None:
    _lines(p, [_q("Q1?"), _q("x" * (9 << 20)), _q("Q3?")])


def _csv_row(question: str) -> str:
    return f'{question},"[""a"",""b""]",A'


def huge_field_5mb_csv(p: Path) -> None:
    _lines(p, ["question,choices,answer", _csv_row("Q1?"), _csv_row("x" * (5 << 20))])


def huge_field_9mb_csv(p: Path) -> None:
    _lines(p, ["question,choices,answer", _csv_row("Q1?"), _csv_row("x" * (9 << 20))])


def many_columns_csv(p: Path) -> None:
    cols = ["question", "choices", "answer"] + [f"c{i}" for i in range(2000)]
    _lines(p, [",".join(cols), _csv_row("Q1?") + "," * 2000])


def many_columns_parquet(p: Path) -> None:
    base = {
        "question": ["Q1?"],
        "choices": [["a", "b"]],
        "answer": ["A"],
        "model": ["m"],
        "item_id": ["geo-00000"],
        "prediction": ["A"],
    }
    pd.DataFrame({**base, **{f"c{i}": [i] for i in range(1997)}}).to_parquet(p)


def many_fields_jsonl(p: Path) -> None:
    _lines(p, [_q("Q1?"), _q("Q2?", **{f"k{i}": i for i in range(2000)})])


def many_choices_jsonl(p: Path) -> None:
    _lines(p, [_q("Q1?"), _q("Q2?", [f"c{i}" for i in range(10_000)])])


def sparse_2gb(p: Path) -> None:
    with open(p, "wb") as f:
        f.truncate(2 << 30)  # 2 GiB of holes: no disk used


def nul_parquet(p: Path) -> None:
    pd.DataFrame(
        {
            "question": ["Q1?", "Q\x002?", "Q3?"],
            "choices": [["a", "b"]] * 3,
            "answer": ["A", "A", "B"],
            "subject": ["geo"] * 3,
        }
    ).to_parquet(p)


def invalid_utf8_middle_gz(p: Path) -> None:
    src = Path(__file__).parent / "cases" / "invalid_utf8_middle.jsonl"
    p.write_bytes(gzip.compress(src.read_bytes()))


def deep_nesting_jsonl(p: Path) -> None:
    deep = '{"question": "Q2?", "choices": ["a", "b"], "answer": "A", "meta": ' + "[" * 100_000 + "]" * 100_000 + "}"
    _lines(p, [_q("Q1?"), deep, _q("Q3?")])


def gold_float_parquet(p: Path) -> None:
    pd.DataFrame(
        {
            "question": ["Q1?", "Q2?", "Q3?"],
            "choices": [["a", "b"]] * 3,
            "answer": [1.0, float("nan"), 0.0],
            "subject": ["geo"] * 3,
        }
    ).to_parquet(p)


def truncated_gzip(p: Path) -> None:
    g = gzip.compress(("\n".join(_q(f"Q{i}?") for i in range(200)) + "\n").encode())
    p.write_bytes(g[: len(g) // 2])


def gzip_bomb(p: Path) -> None:
    member = gzip.compress(b"\0" * (64 << 20), 9)  # ~65 KB each
    p.write_bytes(member * 10)  # 640 MiB once decompressed


def directory(p: Path) -> None:
    p.mkdir()


def fifo(p: Path) -> None:
    os.mkfifo(p)


def symlink_loop(p: Path) -> None:
    other = p.with_name(p.name + ".other")
    os.symlink(other.name, p)
    os.symlink(p.name, other)


def device(p: Path) -> None:
    os.symlink("/dev/zero", p)


def dangling_symlink(p: Path) -> None:
    os.symlink(p.with_name("nothing-here.jsonl").name, p)


def sql_file_name(p: Path) -> None:
    _lines(p, [_q("Q1?"), _q("   ")])


def _lm_eval_lines() -> list[str]:
    return [ln for ln in LM_EVAL_FIXTURE.read_text().splitlines() if ln.strip()]


def lm_eval_duplicate_key(p: Path) -> None:
    first, second = _lm_eval_lines()[:2]
    _lines(p, [first, second[:-1] + ', "doc_id": 99}'])


def lm_eval_invalid_utf8(p: Path) -> None:
    first, second = _lm_eval_lines()[:2]
    p.write_bytes(first.encode() + b"\n" + second.encode().replace(b"Let p", b"Let \xff\xfe p", 1) + b"\n")


def corpus_huge_line(p: Path) -> None:
    _lines(p, [json.dumps({"id": "d1", "text": "x" * (9 << 20)}), json.dumps({"id": "d2", "text": "fine"})])


def corpus_deep(p: Path) -> None:
    _lines(p, ['{"id": "d1", "text": "t", "meta": ' + "[" * 100_000 + "]" * 100_000 + "}"])


GENERATORS: dict[str, Callable[[Path], None]] = {
    f.__name__: f
    for f in (
        huge_field_5mb_jsonl,
        huge_line_9mb_jsonl,
        huge_field_5mb_csv,
        huge_field_9mb_csv,
        many_columns_csv,
        many_columns_parquet,
        many_fields_jsonl,
        many_choices_jsonl,
        sparse_2gb,
        nul_parquet,
        invalid_utf8_middle_gz,
        deep_nesting_jsonl,
        gold_float_parquet,
        truncated_gzip,
        gzip_bomb,
        directory,
        fifo,
        symlink_loop,
        device,
        dangling_symlink,
        sql_file_name,
        lm_eval_duplicate_key,
        lm_eval_invalid_utf8,
        corpus_huge_line,
        corpus_deep,
    )
}


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (the lake of a test is small)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
