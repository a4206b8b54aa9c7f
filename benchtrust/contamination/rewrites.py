"""Meaning-preserving rewrites of benchmark items, for the control gap (AUDITS.md audit 8e).

A model that memorised a benchmark answers its original wording better than a rewording that keeps the
meaning; a model that solves the task does not care. Rewrites (each item keeps its id and answer; only items a
rule changes are rewritten, the others are left out of that comparison):

- ``entity_rename``   common first names used alone ("Paul has 3 apples") → other first names, consistently
                      within the item (question and choices); HELM's name perturbation. Not in subjects whose
                      names are real people or symbols (history, logic, philosophy, religion, …)
- ``number_words``    small standalone integers (0–20) in the question → words ("3 apples" → "three apples");
                      numbers next to letters, operators, decimal points or inside formulas are left alone, so
                      no computation changes
- ``stem_paraphrase`` template paraphrases of common question stems ("Which of the following" → "Which one of
                      the following options", "What is" → "What's", "is not" → "isn't", …)

Answer-order permutation needs no rewrite here: it is the grid's ``permutation_seeds`` axis, and the
``control_gap`` mart reads it from the predictions. Rewrites are deterministic (seeded by the item id).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from benchtrust.hashing import hash_obj, hash_strings

REWRITE_KINDS = ("entity_rename", "number_words", "stem_paraphrase")

_NAMES_FROM = [
    "John",
    "Mary",
    "James",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Nancy",
    "Matthew",
    "Lisa",
    "Anthony",
    "Betty",
    "Mark",
    "Margaret",
    "Paul",
    "Sandra",
    "Steven",
    "Ashley",
    "Andrew",
    "Emily",
    "Joshua",
    "Donna",
    "Kevin",
    "Michelle",
    "Brian",
    "Carol",
    "George",
    "Amanda",
    "Edward",
    "Melissa",
    "Ronald",
    "Deborah",
    "Timothy",
    "Stephanie",
    "Jason",
    "Rebecca",
    "Jeffrey",
    "Laura",
    "Ryan",
    "Helen",
    "Jacob",
    "Alice",
    "Bob",
    "Tom",
    "Jane",
    "Jack",
    "Anne",
    "Peter",
    "Sam",
    "Joe",
    "Bill",
    "Fred",
    "Alex",
    "Carl",
    "Dave",
    "Jim",
    "Mike",
    "Steve",
    "Tim",
    "Ann",
    "Jill",
    "Kate",
    "Sue",
    "Ted",
    "Ben",
    "Dan",
    "Pat",
    "Ed",
]
_NAMES_TO = [
    "Oliver",
    "Amara",
    "Mateo",
    "Ingrid",
    "Kofi",
    "Leilani",
    "Rohan",
    "Sigrid",
    "Tariq",
    "Yuki",
    "Bruno",
    "Freya",
    "Dmitri",
    "Noor",
    "Emeka",
    "Paloma",
    "Lars",
    "Zainab",
    "Hugo",
    "Mireille",
    "Ravi",
    "Astrid",
    "Omar",
    "Saoirse",
    "Kenji",
    "Beatriz",
    "Anselm",
    "Imani",
    "Tobias",
    "Marisol",
    "Idris",
    "Greta",
    "Felipe",
    "Ayla",
    "Caspian",
    "Nadia",
    "Soren",
    "Lucia",
    "Jonas",
    "Esme",
]
# subjects whose names are real people (authors, historical figures) or symbols (formal logic's constants
# are the names' initials): no entity renaming there
_NO_RENAME_SUBJECTS = (
    "history",
    "logic",
    "philosophy",
    "religion",
    "disputes",
    "miscellaneous",
    "foreign policy",
    "jurisprudence",
    "global facts",
    "sociology",
    "prehistory",
    "politic",
    "security studies",
    "public relations",
    "business ethics",
    "astronomy",
    "virology",
    "world",
)
_NAME_RE = re.compile(r"\b(" + "|".join(sorted(set(_NAMES_FROM), key=len, reverse=True)) + r")\b")

_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
# a standalone integer: not part of a word, a decimal, a formula (operators, ^, parentheses, $) or a list label
_NUM_RE = re.compile(r"(?<![\w.,^/*+\-=<>()$%|])(\d{1,2})(?![\w.,^/*+\-=<>()%:|])")

_STEM_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bWhich of the following\b"), "Which one of the following options"),
    (re.compile(r"\bwhich of the following\b"), "which one of the following options"),
    (re.compile(r"\bWhat is\b"), "What's"),
    (re.compile(r"\bwhat is\b"), "what's"),
    (re.compile(r"^Find\b"), "Determine"),
    (re.compile(r"^Compute\b"), "Calculate"),
    (re.compile(r"\bis not\b"), "isn't"),
    (re.compile(r"\bare not\b"), "aren't"),
    (re.compile(r"\bdoes not\b"), "doesn't"),
    (re.compile(r"\bdo not\b"), "don't"),
    (re.compile(r"\bcannot\b"), "can not"),
    (re.compile(r"\bapproximately\b"), "roughly"),
    (re.compile(r"\bmost likely\b"), "most probably"),
    (re.compile(r"\bIn order to\b"), "To"),
    (re.compile(r"\bin order to\b"), "to"),
]


def _is_character_name(s: str, m: re.Match[str]) -> bool:
    """A first name used alone ("Paul has 3 apples", "Bill, ..."), not part of a real person's name
    ("John F. Kennedy", "John Locke", "Pope John"): the next word is not capitalised or an initial and the
    previous word (unless it ends a sentence) is not capitalised."""
    after = s[m.end() :]
    if re.match(r"\s+(?:[A-Z]|\()", after):
        return False
    before = s[: m.start()].rstrip()
    prev = re.search(r"(\S+)$", before)
    if prev and re.fullmatch(r"[A-Z]\.", prev.group(1)):  # an initial: "Susan B. Anthony"
        return False
    return not (prev and prev.group(1)[:1].isupper() and not prev.group(1).endswith((".", "?", "!", ":", "|")))


def entity_rename(text: str, choices: list[str], key: str) -> tuple[str, list[str]] | None:
    parts = [text, *choices]
    names: set[str] = set()
    blocked: set[str] = set()
    for s in parts:
        for m in _NAME_RE.finditer(s):
            (names if _is_character_name(s, m) else blocked).add(m.group(1))
    found = sorted(names - blocked)
    if not found:
        return None
    rng = np.random.default_rng(int(hash_obj(["entity_rename", key]), 16))
    targets = list(rng.choice(_NAMES_TO, size=len(found), replace=False))
    mapping: dict[str, str] = dict(zip(found, targets))

    def sub(s: str) -> str:
        return _NAME_RE.sub(lambda m: mapping.get(m.group(1), m.group(1)), s)

    return sub(text), [sub(c) for c in choices]


def number_words(text: str, choices: list[str], key: str) -> tuple[str, list[str]] | None:
    changed = False

    def rep(m: re.Match[str]) -> str:
        nonlocal changed
        v = int(m.group(1))
        if v > 20 or (len(m.group(1)) > 1 and m.group(1).startswith("0")):
            return m.group(0)
        changed = True
        return _WORDS[v]

    new = _NUM_RE.sub(rep, text)
    return (new, list(choices)) if changed else None


def stem_paraphrase(text: str, choices: list[str], key: str) -> tuple[str, list[str]] | None:
    new = text
    for pat, repl in _STEM_RULES:
        new = pat.sub(repl, new)
    return (new, list(choices)) if new != text else None


RULES: dict[str, Callable[[str, list[str], str], tuple[str, list[str]] | None]] = {
    "entity_rename": entity_rename,
    "number_words": number_words,
    "stem_paraphrase": stem_paraphrase,
}


def rewrite_items(items: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The items a rule changes, rewritten: same columns (same item_id, gold and choice order), a new
    ``item_hash``, plus ``rewrite_kind`` and ``original_item_hash``. Multiple-choice items only."""
    if kind not in RULES:
        raise ValueError(f"unknown rewrite {kind!r}; known: {sorted(RULES)}")
    rule = RULES[kind]
    rows = []
    for rec in items.to_dict("records"):
        if rec.get("task_type") != "multiple_choice":
            continue
        subject = str(rec.get("subject") or "").lower().replace("_", " ")
        if kind == "entity_rename" and any(w in subject for w in _NO_RENAME_SUBJECTS):
            continue
        choices = [str(c) for c in rec["choices"]]
        res = rule(rec["input"], choices, rec["item_id"])
        if res is None:
            continue
        text, new_choices = res
        out = dict(rec)
        out.update(input=text, choices=new_choices, original_item_hash=rec["item_hash"], rewrite_kind=kind)
        out["item_hash"] = hash_strings([rec["task_type"], text, *new_choices, str(rec["gold"]), kind])
        rows.append(out)
    cols = list(items.columns) + ["original_item_hash", "rewrite_kind"]
    return pd.DataFrame(rows, columns=cols)
