"""Synthetic corpora with known contamination, to validate the audits (planted ground truth) and to benchmark
the corpus pass. Nothing here is used by the pipeline itself, so it lives with the benchmarks (issue 13, item 6:
test and benchmark generators out of the library); tests/contamination/test_planted.py imports it from here.

Plants, for a benchmark item's text (question and choices):

- ``verbatim``   the item copied into a document, with unrelated text around it
- ``edited``     a light edit: random case changes, punctuation added or removed, and a few words (about one in
                 twenty, at least one, at most three) replaced by other words
- ``paraphrase`` a rule-based rewording that keeps the meaning and breaks most word n-grams: synonyms for
                 common words, a restated stem, fillers every few words, the choices in another order
- ``unrelated``  documents made of other text (random word sequences drawn from the benchmark's vocabulary,
                 prose, code) that contain no item
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SYNONYMS = {
    "following": "listed",
    "which": "what",
    "best": "most accurately",
    "describes": "characterises",
    "describe": "characterise",
    "true": "correct",
    "false": "incorrect",
    "most": "mainly",
    "likely": "probably",
    "statement": "claim",
    "statements": "claims",
    "important": "significant",
    "example": "instance",
    "increase": "rise",
    "decrease": "fall",
    "large": "big",
    "small": "little",
    "find": "determine",
    "calculate": "work out",
    "number": "count",
    "use": "employ",
    "used": "employed",
    "using": "employing",
    "because": "since",
    "cause": "bring about",
    "causes": "brings about",
    "result": "outcome",
    "results": "outcomes",
    "show": "demonstrate",
    "shows": "demonstrates",
    "called": "named",
    "known": "recognised",
    "person": "individual",
    "people": "individuals",
    "man": "gentleman",
    "woman": "lady",
    "children": "kids",
    "child": "kid",
    "help": "assist",
    "begin": "start",
    "began": "started",
    "end": "finish",
    "answer": "reply",
    "question": "query",
    "problem": "issue",
    "method": "approach",
    "means": "signifies",
    "main": "principal",
    "primary": "principal",
    "major": "key",
    "process": "procedure",
    "typically": "usually",
    "often": "frequently",
    "common": "frequent",
    "commonly": "frequently",
    "different": "distinct",
    "several": "a number of",
    "many": "numerous",
    "various": "assorted",
    "however": "nevertheless",
    "also": "additionally",
    "therefore": "thus",
    "correct": "right",
    "incorrect": "wrong",
    "wrong": "mistaken",
    "right": "proper",
    "good": "fine",
    "bad": "poor",
    "new": "novel",
    "old": "aged",
    "first": "initial",
    "last": "final",
    "high": "elevated",
    "low": "reduced",
    "more": "a greater amount",
    "less": "a smaller amount",
    "value": "amount",
    "time": "period",
    "year": "twelve-month period",
    "years": "twelve-month periods",
    "world": "globe",
    "country": "nation",
    "countries": "nations",
    "state": "government",
    "government": "administration",
    "law": "statute",
    "court": "tribunal",
    "patient": "sufferer",
    "disease": "illness",
    "doctor": "physician",
    "function": "mapping",
    "equal": "identical",
    "equals": "is the same as",
    "given": "provided",
    "following:": "listed:",
    "what": "which thing",
    "is": "happens to be",
    "are": "happen to be",
    "the": "this",
    "a": "one",
    "of": "belonging to",
    "in": "within",
    "to": "towards",
    "and": "as well as",
    "for": "on behalf of",
    "that": "which",
    "with": "alongside",
    "by": "via",
    "on": "upon",
    "from": "out of",
}
FILLERS = ["indeed", "in fact", "basically", "as it happens", "so to speak", "essentially", "notably"]


def _words(text: str) -> list[str]:
    return text.split()


def verbatim(text: str, rng: random.Random, context: Sequence[str]) -> str:
    return f"{rng.choice(context)} {text} {rng.choice(context)}"


def light_edit(text: str, rng: random.Random, vocab: Sequence[str]) -> str:
    """Case and punctuation changes plus a few replaced words (one in twenty, at least one, at most three)."""
    words = _words(text)
    n_sub = max(1, min(3, round(len(words) / 20)))
    for i in rng.sample(range(len(words)), min(n_sub, len(words))):
        words[i] = rng.choice(vocab)
    out = []
    for w in words:
        r = rng.random()
        if r < 0.15:
            w = w.upper()
        elif r < 0.3:
            w = w.capitalize()
        elif r < 0.4:
            w = w.lower()
        r = rng.random()
        if r < 0.2:
            w = re.sub(r"[^\w\s]", "", w) or w  # drop punctuation
        elif r < 0.3:
            w = w + rng.choice([",", ";", " -", "!"])
        out.append(w)
    return " ".join(out)


def paraphrase(question: str, choices: Sequence[str], rng: random.Random) -> str:
    """Synonyms, a restated stem, fillers every 4–6 words and shuffled choices: same meaning, few shared n-grams."""
    words = _words(question)
    out: list[str] = []
    gap = rng.randint(4, 6)
    for i, w in enumerate(words):
        core = w.strip(".,;:?!()\"'").lower()
        trail = w[len(w.rstrip(".,;:?!")) :]
        if core in SYNONYMS and rng.random() < 0.85:
            w = SYNONYMS[core] + trail
        out.append(w)
        if (i + 1) % gap == 0:
            out.append(rng.choice(FILLERS) + ",")
    stem = "Here is the question, put differently: " + " ".join(out)
    opts = list(choices)
    rng.shuffle(opts)
    return stem + " Possible answers (in no particular order): " + " | ".join(opts) + "."


def random_words(rng: random.Random, vocab: Sequence[str], n: int) -> str:
    return " ".join(rng.choice(vocab) for _ in range(n))


@dataclass
class PlantedCorpus:
    docs: list[dict]  # {"id", "text", "kind", "item_id" (None for unrelated)}
    plants: dict[str, str]  # item_id → kind

    def kinds(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for iid, k in self.plants.items():
            out.setdefault(k, []).append(iid)
        return out


def planted_corpus(
    items,
    n_verbatim: int = 100,
    n_edited: int = 100,
    n_paraphrase: int = 100,
    n_unrelated: int = 500,
    seed: int = 0,
    min_tokens: int = 20,
    extra_unrelated: Iterable[str] = (),
    unrelated_words: tuple[int, int] = (40, 300),
) -> PlantedCorpus:
    """A corpus planting copies of distinct items (``items``: canonical items, MMLU for instance).

    Plants are drawn from items with at least ``min_tokens`` tokens that are not exact duplicates of another
    item (items.py's flag), so each plant has one true source item."""
    from benchtrust.contamination.corpora import item_text
    from benchtrust.contamination.ngrams import tokenize

    rng = random.Random(seed)
    texts = {r.item_id: item_text(r.input, r.choices) for r in items.itertuples(index=False)}
    dup_groups = set(items.loc[items["is_duplicate"], "item_id"]) | set(items["duplicate_of"].dropna())
    pool = [iid for iid, t in texts.items() if iid not in dup_groups and len(tokenize(t)) >= min_tokens]
    chosen = rng.sample(pool, n_verbatim + n_edited + n_paraphrase)
    vocab = sorted({w for t in list(texts.values())[:5000] for w in t.split() if w.isalpha()})
    context = [random_words(rng, vocab, rng.randint(10, 40)) for _ in range(200)]
    by_id = items.set_index("item_id")
    docs, plants = [], {}
    for k, iid in enumerate(chosen):
        if k < n_verbatim:
            kind, text = "verbatim", verbatim(texts[iid], rng, context)
        elif k < n_verbatim + n_edited:
            kind, text = "edited", f"{rng.choice(context)} {light_edit(texts[iid], rng, vocab)} {rng.choice(context)}"
        else:
            row = by_id.loc[iid]
            kind, text = "paraphrase", paraphrase(row["input"], list(row["choices"]), rng)
        plants[iid] = kind
        docs.append({"id": f"plant-{k:04d}", "text": text, "kind": kind, "item_id": iid})
    extra = list(extra_unrelated)
    for k in range(n_unrelated):
        text = extra[k] if k < len(extra) else random_words(rng, vocab, rng.randint(*unrelated_words))
        docs.append({"id": f"other-{k:05d}", "text": text, "kind": "unrelated", "item_id": None})
    rng.shuffle(docs)
    return PlantedCorpus(docs, plants)


def stdlib_prose(limit: int = 300, min_words: int = 40) -> list[str]:
    """Real English prose that is not benchmark text: docstrings of Python standard-library modules."""
    import importlib
    import inspect

    out: list[str] = []
    for name in (
        "json",
        "argparse",
        "collections",
        "logging",
        "pathlib",
        "subprocess",
        "threading",
        "email",
        "http.client",
        "urllib.request",
        "datetime",
        "decimal",
        "fractions",
        "statistics",
        "random",
        "textwrap",
        "difflib",
        "csv",
        "sqlite3",
        "zipfile",
        "tarfile",
        "unittest",
        "typing",
        "asyncio",
        "functools",
        "itertools",
        "heapq",
        "bisect",
        "shutil",
        "tempfile",
        "socket",
        "ssl",
        "pickle",
    ):
        try:
            mod = importlib.import_module(name)
        except Exception:  # a missing optional module just gives less prose
            continue
        for _, obj in inspect.getmembers(mod):
            doc = inspect.getdoc(obj) if (inspect.isclass(obj) or inspect.isfunction(obj)) else None
            if doc and len(doc.split()) >= min_words and doc not in out:
                out.append(doc)
            if len(out) >= limit:
                return out
    return out
