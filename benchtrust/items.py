"""Canonical benchmark items, their normalisation, row rules and quarantine.

Every source yields :class:`RawRecord` (file, row, dict). :func:`normalise` turns the records into canonical
items with a field mapping and applies the row rules: a record that breaks one is *quarantined* with the
file, row, rule and value, never silently dropped. Exact duplicates are kept and flagged.
"""

from __future__ import annotations

import json
import math
import re
import string
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable

import pandas as pd

from benchtrust.hashing import hash_obj, hash_strings

LETTERS = string.ascii_uppercase
MAX_INPUT_CHARS = 200_000

ITEM_COLUMNS = [
    "benchmark", "dataset_version", "item_id", "item_hash", "task_type", "input", "choices", "gold",
    "gold_index", "subject", "metadata", "source_file", "source_row", "is_duplicate", "duplicate_of",
]
QUARANTINE_COLUMNS = ["benchmark", "dataset_version", "source_file", "source_row", "rule", "detail", "raw"]


class SourceError(ValueError):
    """A whole input cannot be used: the message names the file, the row (if any) and the rule."""

    def __init__(self, file: str, rule: str, detail: str, row: int | None = None):
        self.file, self.rule, self.detail, self.row = file, rule, detail, row
        where = f"{file}: row {row}" if row is not None else file
        super().__init__(f"{where}: {rule}: {detail}")


@dataclass
class RawRecord:
    file: str
    row: int
    data: dict[str, Any] | None
    error: tuple[str, str] | None = None  # (rule, detail) when the record could not even be parsed


@dataclass
class FieldMapping:
    """How raw fields map onto canonical ones. ``choices`` is one list-valued field or several fields."""

    input: str = "question"
    choices: str | list[str] | None = "choices"
    gold: str = "answer"
    gold_format: str = "auto"  # letter | index | text | auto
    id: str | None = None
    subject: str | None = "subject"
    task_type: str | None = None  # multiple_choice | generation; None = infer from choices
    metadata: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, cfg: dict[str, Any] | None) -> "FieldMapping":
        cfg = dict(cfg or {})
        unknown = set(cfg) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown mapping keys: {sorted(unknown)}")
        return cls(**cfg)


@dataclass
class Normalised:
    items: pd.DataFrame
    quarantine: pd.DataFrame
    dataset_version: str


class RowRuleError(Exception):
    def __init__(self, rule: str, detail: str):
        super().__init__(f"{rule}: {detail}")
        self.rule, self.detail = rule, detail


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, bytes):
        v = v.decode("utf-8")
    s = str(v)
    return unicodedata.normalize("NFC", s).strip()


def normalise_for_dedup(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def _resolve_gold(gold_raw: Any, choices: list[str], fmt: str) -> int:
    g = _text(gold_raw)
    if g is None or g == "":
        raise RowRuleError("missing_gold", "gold answer is empty")
    n = len(choices)
    if fmt in ("letter", "auto") and len(g) == 1 and g.upper() in LETTERS:
        idx = LETTERS.index(g.upper())
        if idx < n:
            return idx
        raise RowRuleError("gold_not_in_choices", f"gold letter {g!r} but only {n} choices")
    if fmt in ("index", "auto") and re.fullmatch(r"-?\d+(\.0+)?", g):
        idx = int(float(g))
        if 0 <= idx < n:
            return idx
        raise RowRuleError("gold_not_in_choices", f"gold index {idx} outside 0..{n - 1}")
    if fmt in ("text", "auto"):
        matches = [i for i, c in enumerate(choices) if c == g]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise RowRuleError("gold_ambiguous", f"gold text {g[:80]!r} appears {len(matches)} times among choices")
    raise RowRuleError("gold_not_in_choices", f"gold {g[:80]!r} is not a choice label, index or text")


def _canonical(rec: RawRecord, mapping: FieldMapping, benchmark: str) -> dict[str, Any]:
    d = rec.data or {}
    if mapping.input not in d:
        raise RowRuleError("missing_field", f"field {mapping.input!r} is absent")
    text = _text(d.get(mapping.input))
    if not text:
        raise RowRuleError("empty_input", f"field {mapping.input!r} is empty")
    if len(text) > MAX_INPUT_CHARS:
        raise RowRuleError("input_too_long", f"{len(text)} characters > {MAX_INPUT_CHARS}")
    if "\ufffd" in text:
        raise RowRuleError("encoding", "input contains U+FFFD replacement characters (wrong encoding?)")

    choices: list[str] = []
    if isinstance(mapping.choices, list):
        missing = [c for c in mapping.choices if c not in d]
        if missing:
            raise RowRuleError("missing_field", f"choice fields {missing} are absent")
        choices = [_text(d[c]) or "" for c in mapping.choices]
    elif isinstance(mapping.choices, str) and mapping.choices in d and d[mapping.choices] is not None:
        raw = d[mapping.choices]
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError:
                raise RowRuleError("bad_choices", f"choices field is a string, not a list: {raw[:80]!r}")
        choices = [_text(c) or "" for c in list(raw)]

    task_type = mapping.task_type or ("multiple_choice" if choices else "generation")
    if task_type == "multiple_choice":
        if len(choices) < 2:
            raise RowRuleError("too_few_choices", f"{len(choices)} choices")
        if len(choices) > len(LETTERS):
            raise RowRuleError("too_many_choices", f"{len(choices)} choices")
        if any(c == "" for c in choices):
            raise RowRuleError("empty_choice", "a choice is empty")
        if mapping.gold not in d:
            raise RowRuleError("missing_gold", f"field {mapping.gold!r} is absent")
        gi = _resolve_gold(d.get(mapping.gold), choices, mapping.gold_format)
        gold = LETTERS[gi]
    else:
        gi = -1
        gold = _text(d.get(mapping.gold)) or ""

    if mapping.id and mapping.id in d and _text(d[mapping.id]):
        item_id = _text(d[mapping.id])
    else:
        item_id = None  # assigned by the caller
    subject = _text(d.get(mapping.subject)) if mapping.subject else None
    meta = {k: d[k] for k in mapping.metadata if k in d}
    return {
        "benchmark": benchmark, "item_id": item_id, "task_type": task_type, "input": text,
        "choices": choices, "gold": gold, "gold_index": gi, "subject": subject or "",
        "metadata": json.dumps(meta, ensure_ascii=False, default=str),
        "source_file": rec.file, "source_row": rec.row,
    }


def _raw_preview(rec: RawRecord) -> str:
    try:
        s = json.dumps(rec.data, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        s = repr(rec.data)
    return s[:2000]


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_") or "all"


def normalise(
    records: Iterable[RawRecord], mapping: FieldMapping, benchmark: str, strict: bool = False,
    id_style: str = "subject_index",
) -> Normalised:
    """Canonical items + quarantine for one benchmark.

    ``strict`` raises :class:`SourceError` (file, row, rule) on the first bad record instead of quarantining.
    Item ids come from the mapping's id field when present, else ``<subject>-<n>`` (n-th record of that
    subject in file order, bad records included, so ids stay stable when a rule changes).
    """
    items: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    per_subject: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for rec in records:
        subj_raw = ""
        if rec.data is not None and mapping.subject:
            subj_raw = _text(rec.data.get(mapping.subject)) or ""
        n = per_subject.get(subj_raw, 0)
        per_subject[subj_raw] = n + 1
        try:
            if rec.error is not None:
                raise RowRuleError(*rec.error)
            item = _canonical(rec, mapping, benchmark)
            if item["item_id"] is None:
                item["item_id"] = f"{_slug(subj_raw)}-{n:05d}" if id_style == "subject_index" else f"row-{rec.row:06d}"
            if item["item_id"] in seen_ids:
                raise RowRuleError("duplicate_item_id", f"item id {item['item_id']!r} already used at row {seen_ids[item['item_id']]}")
            seen_ids[item["item_id"]] = rec.row
            items.append(item)
        except RowRuleError as e:
            if strict:
                raise SourceError(rec.file, e.rule, e.detail, row=rec.row) from None
            quarantine.append({
                "benchmark": benchmark, "source_file": rec.file, "source_row": rec.row,
                "rule": e.rule, "detail": e.detail, "raw": _raw_preview(rec),
            })

    first_by_content: dict[str, str] = {}
    for it in items:
        it["item_hash"] = hash_strings([it["task_type"], it["input"], *it["choices"], it["gold"]])
        key = hash_strings([normalise_for_dedup(it["input"]), *map(normalise_for_dedup, it["choices"])])
        first = first_by_content.setdefault(key, it["item_id"])
        it["is_duplicate"] = first != it["item_id"]
        it["duplicate_of"] = first if first != it["item_id"] else None

    dataset_version = hash_obj(sorted((it["item_id"], it["item_hash"]) for it in items))
    df = pd.DataFrame(items, columns=[c for c in ITEM_COLUMNS if c != "dataset_version"])
    df.insert(1, "dataset_version", dataset_version)
    df["gold_index"] = df["gold_index"].astype("int32")
    df["source_row"] = df["source_row"].astype("int64")
    q = pd.DataFrame(quarantine, columns=[c for c in QUARANTINE_COLUMNS if c != "dataset_version"])
    q.insert(1, "dataset_version", dataset_version)
    q["source_row"] = q["source_row"].astype("int64")
    return Normalised(items=df, quarantine=q, dataset_version=dataset_version)
