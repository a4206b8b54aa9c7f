"""An independent planted-contamination corpus for validating the contamination audits (issue 12, item 3).

Written without reference to the detector (benchtrust/contamination/aligned.py) and independently of
benchmarks/synthetic_corpora.py and benchtrust/contamination/rewrites.py: its own thesaurus, its own rewording
rules, its own filler text. Its seed and its parameters are fixed here, before the detector was tuned, and it is never used
to tune anything: thresholds are calibrated on the dev corpus (synthetic.py's planted corpus), and this corpus
only measures.

Plants (each of a distinct MMLU item with >= 20 tokens that has no exact duplicate):

- ``verbatim``  the item's text (question, then each choice on its own line) between filler sentences;
- ``edited``    a light edit: every word's case changed with probability 0.2, punctuation dropped or added
                with probability 0.15, and exactly 3 words replaced by words of the filler text;
- ``reworded``  word choice and word order changed: synonyms from the hand-written thesaurus below (p = 0.8),
                numbers written in another format, articles dropped (p = 0.5) and spoken fillers added,
                comma clauses swapped, the question sentence moved before its context, a few question stems
                turned around ("Which of the following is X?" → "X — which option below is it?"), and the
                choices shuffled into one line — then set between filler sentences.

Documents that hold no item:

- ``filler``    runs of sentences from text that ships with installed packages (scikit-learn's dataset
                descriptions, package METADATA long descriptions, licence texts): real English unrelated to
                MMLU;
- ``topical``   hard negatives: pseudo-sentences built from the vocabulary of one MMLU subject (words drawn
                from that subject's items, planted or not), so every clean item meets documents full of its
                own subject's words, but not its text.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

SEED = 60_612  # fixed before the detector was tuned; do not change to improve a figure
N_PER_KIND = 300
N_FILLER = 2000
N_TOPICAL = 1000
MIN_TOKENS = 20

# A hand-written thesaurus of words frequent in exam questions (content words mostly): one replacement each.
THESAURUS = {
    "following": "subsequent",
    "statement": "assertion",
    "statements": "assertions",
    "true": "accurate",
    "false": "untrue",
    "correct": "accurate",
    "incorrect": "inaccurate",
    "best": "most suitably",
    "describes": "depicts",
    "describe": "depict",
    "explains": "accounts for",
    "explain": "account for",
    "likely": "probable",
    "probably": "presumably",
    "increase": "growth",
    "increases": "grows",
    "increased": "grew",
    "decrease": "drop",
    "decreases": "drops",
    "decreased": "dropped",
    "large": "sizeable",
    "larger": "bigger",
    "small": "tiny",
    "smaller": "tinier",
    "important": "crucial",
    "example": "illustration",
    "examples": "illustrations",
    "results": "leads",
    "result": "consequence",
    "effect": "impact",
    "effects": "impacts",
    "cause": "trigger",
    "causes": "triggers",
    "caused": "triggered",
    "called": "termed",
    "known": "understood",
    "person": "human",
    "people": "humans",
    "patient": "client",
    "patients": "clients",
    "doctor": "clinician",
    "physician": "medic",
    "woman": "female",
    "man": "male",
    "women": "females",
    "men": "males",
    "child": "youngster",
    "children": "youngsters",
    "company": "firm",
    "companies": "firms",
    "country": "land",
    "countries": "lands",
    "government": "authorities",
    "law": "legislation",
    "laws": "statutes",
    "court": "judiciary",
    "states": "declares",
    "state": "condition",
    "used": "utilised",
    "use": "utilise",
    "using": "utilising",
    "uses": "utilises",
    "find": "locate",
    "determine": "establish",
    "calculate": "compute",
    "show": "reveal",
    "shows": "reveals",
    "shown": "revealed",
    "following:": "subsequent:",
    "between": "among",
    "within": "inside",
    "without": "lacking",
    "because": "as",
    "however": "yet",
    "although": "though",
    "therefore": "hence",
    "also": "too",
    "often": "commonly",
    "usually": "normally",
    "typically": "ordinarily",
    "always": "invariably",
    "never": "at no time",
    "major": "principal",
    "main": "chief",
    "primary": "foremost",
    "different": "dissimilar",
    "similar": "alike",
    "same": "identical",
    "new": "fresh",
    "old": "elderly",
    "first": "earliest",
    "last": "latest",
    "high": "tall",
    "higher": "greater",
    "low": "modest",
    "lower": "reduced",
    "number": "quantity",
    "amount": "quantity",
    "total": "overall",
    "value": "worth",
    "values": "worths",
    "rate": "pace",
    "change": "shift",
    "changes": "shifts",
    "changed": "shifted",
    "problem": "difficulty",
    "problems": "difficulties",
    "question": "query",
    "answer": "response",
    "answers": "responses",
    "method": "technique",
    "process": "procedure",
    "system": "arrangement",
    "function": "role",
    "structure": "form",
    "theory": "hypothesis",
    "evidence": "proof",
    "study": "investigation",
    "studies": "investigations",
    "research": "inquiry",
    "group": "cluster",
    "groups": "clusters",
    "member": "participant",
    "members": "participants",
    "water": "H2O",
    "money": "funds",
    "price": "cost",
    "prices": "costs",
    "market": "marketplace",
    "cost": "expense",
    "costs": "expenses",
    "time": "duration",
    "year": "annum",
    "years": "annums",
    "world": "planet",
    "city": "town",
    "area": "region",
    "areas": "regions",
    "body": "organism",
    "cell": "unit",
    "cells": "units",
    "energy": "power",
    "force": "push",
    "heat": "warmth",
    "light": "illumination",
    "speed": "velocity",
    "mass": "weight",
    "size": "magnitude",
    "level": "degree",
    "levels": "degrees",
    "type": "kind",
    "types": "kinds",
    "form": "shape",
    "part": "portion",
    "parts": "portions",
    "role": "part",
    "purpose": "aim",
    "reason": "rationale",
    "idea": "notion",
    "ideas": "notions",
    "believe": "think",
    "believed": "thought",
    "argue": "contend",
    "argued": "contended",
    "claim": "contention",
    "claims": "contends",
    "suggest": "propose",
    "suggests": "proposes",
    "support": "back",
    "supports": "backs",
    "help": "aid",
    "helps": "aids",
    "need": "require",
    "needs": "requires",
    "want": "wish",
    "wants": "wishes",
    "make": "produce",
    "makes": "produces",
    "made": "produced",
    "give": "provide",
    "gives": "provides",
    "given": "provided",
    "take": "grab",
    "takes": "grabs",
    "took": "grabbed",
    "get": "obtain",
    "gets": "obtains",
    "begin": "commence",
    "began": "commenced",
    "end": "conclusion",
    "ended": "concluded",
    "start": "outset",
    "keep": "retain",
    "keeps": "retains",
    "allow": "permit",
    "allows": "permits",
    "require": "demand",
    "requires": "demands",
    "include": "comprise",
    "includes": "comprises",
    "including": "comprising",
    "consider": "contemplate",
    "considered": "regarded",
    "several": "various",
    "many": "plenty of",
    "most": "the majority of",
    "some": "certain",
    "each": "every",
    "only": "solely",
    "very": "highly",
    "following?": "subsequent?",
    "true?": "accurate?",
    "correct?": "accurate?",
    "best?": "optimal?",
}
SPOKEN = ["actually", "you see", "in short", "mind you", "to be fair", "as it were", "frankly"]
_NUMBER_WORDS = [
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
]


@dataclass
class ValidationCorpus:
    docs: list[dict]  # {"id", "text", "kind", "item_id" (None for documents holding no item)}
    plants: dict[str, str]  # item_id -> verbatim | edited | reworded
    params: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------- filler
# The packages whose shipped text is the filler: those requirements.txt names directly, so the corpus does not
# change when some other package is installed into the environment (at first every installed package was
# read, and the corpus changed when another session installed one).
FILLER_PACKAGES = (
    "accelerate",
    "cleanlab",
    "crowd-kit",
    "dagster",
    "dagster-dbt",
    "dagster-duckdb",
    "dagster-k8s",
    "dagster-postgres",
    "dagster-celery",
    "dagster-webserver",
    "datasets",
    "dbt-core",
    "dbt-duckdb",
    "duckdb",
    "gguf",
    "great-expectations",
    "jinja2",
    "matplotlib",
    "nltk",
    "numpy",
    "pandas",
    "pyarrow",
    "pytest",
    "pyyaml",
    "redis",
    "rich",
    "scikit-learn",
    "scipy",
    "sentence-transformers",
    "statsmodels",
    "torch",
    "tqdm",
    "transformers",
    "typer",
)


def package_sentences(min_words: int = 6, max_words: int = 60) -> list[str]:
    """English sentences from text shipped with the FILLER_PACKAGES: scikit-learn's dataset descriptions, the
    long descriptions in their *.dist-info/METADATA and their licence files. Sorted, so the list does not depend
    on file order."""
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    files = sorted(site.glob("sklearn/datasets/descr/*.rst"))
    for info in sorted(site.glob("*.dist-info")):
        if info.name.split("-")[0].lower().replace("_", "-") in FILLER_PACKAGES:
            files += [info / "METADATA"] + sorted(info.glob("LICENSE*")) + sorted(info.glob("licenses/LICENSE*"))
    out: set[str] = set()
    for f in files:
        try:
            text = f.read_text(encoding="utf-8", errors="ignore")
        except OSError:
            continue
        if f.name == "METADATA":  # headers, then a blank line, then the long description
            text = text.split("\n\n", 1)[1] if "\n\n" in text else ""
        text = re.sub(r"```.*?```", " ", text, flags=re.S)
        text = re.sub(r"https?://\S+|[#*=`|<>\[\]{}_~^]+", " ", text)
        for s in re.split(r"(?<=[.!?])\s+", re.sub(r"\s+", " ", text)):
            words = s.split()
            if min_words <= len(words) <= max_words and sum(w.isalpha() for w in words) >= 0.7 * len(words):
                out.add(s.strip())
    return sorted(out)


def _filler(rng: random.Random, sentences: Sequence[str], words: int) -> str:
    start = rng.randrange(len(sentences))
    out: list[str] = []
    n = 0
    k = start
    while n < words:
        s = sentences[k % len(sentences)]
        out.append(s)
        n += len(s.split())
        k += rng.choice([1, 1, 1, 7, 31])
    return " ".join(out)


# --------------------------------------------------------------------------------------------------- plants
def light_edit(text: str, rng: random.Random, vocab: Sequence[str]) -> str:
    """Case changes (p = 0.2 per word), punctuation dropped or added (p = 0.15) and exactly 3 replaced words."""
    words = text.split()
    for i in rng.sample(range(len(words)), min(3, len(words))):
        words[i] = rng.choice(vocab)
    out = []
    for w in words:
        if rng.random() < 0.2:
            w = rng.choice([w.upper(), w.lower(), w.title(), w.swapcase()])
        r = rng.random()
        if r < 0.075:
            w = w.strip(".,;:?!\"'()") or w
        elif r < 0.15:
            w = w + rng.choice([".", ",", ":", "?", " --"])
        out.append(w)
    return " ".join(out)


def _number(tok: str, rng: random.Random) -> str:
    if re.fullmatch(r"\d+", tok) and int(tok) < len(_NUMBER_WORDS):
        return _NUMBER_WORDS[int(tok)]
    if re.fullmatch(r"\d{1,3}(,\d{3})+", tok):
        return tok.replace(",", "")
    if re.fullmatch(r"\d{4,}", tok) and not (1000 <= int(tok) <= 2100):  # not a year
        return f"{int(tok):,}"
    if re.fullmatch(r"\d+%", tok):
        return tok[:-1] + " percent"
    if re.fullmatch(r"0\.\d+", tok):
        return tok[1:]  # ".5"
    return tok


def _swap_words(sentence: str, rng: random.Random) -> str:
    out = []
    for w in sentence.split():
        m = re.fullmatch(r"([\"'(]*)(.*?)([.,;:?!\"')]*)", w)
        pre, core, post = m.group(1), m.group(2), m.group(3)
        low = core.lower()
        if low in ("the", "a", "an") and rng.random() < 0.5:
            continue
        new = core
        if low in THESAURUS and rng.random() < 0.8:
            new = THESAURUS[low]
            if core[:1].isupper():
                new = new[:1].upper() + new[1:]
        elif re.search(r"\d", core):
            new = _number(core, rng)
        out.append(pre + new + post)
        if rng.random() < 0.06:
            out.append(rng.choice(SPOKEN) + ",")
    return " ".join(out)


_STEMS = [
    (
        re.compile(r"^Which of the following (is|are) (.+)\?$", re.S),
        lambda m: f"{m.group(2)[:1].upper()}{m.group(2)[1:]} -- which option below {m.group(1)} that?",
    ),
    (re.compile(r"^What is the (.+) of (.+)\?$", re.S), lambda m: f"For {m.group(2)}, the {m.group(1)} is what?"),
    (re.compile(r"^Which of the following (.+)\?$", re.S), lambda m: f"Pick the option that {m.group(1)}."),
    (
        re.compile(r"^(.+) is (called|known as) (.+)$", re.S),
        lambda m: f"{m.group(3)} is the name given to {m.group(1)}",
    ),
]


def reword(question: str, choices: Sequence[str], rng: random.Random) -> str:
    """Word choice and order changed: stems turned around, clauses and sentences reordered, synonyms, numbers,
    articles and fillers; choices shuffled onto one line."""
    sentences = [s for s in re.split(r"(?<=[.?!])\s+", question.strip()) if s]
    turned = []
    for s in sentences:
        for pat, fn in _STEMS:
            m = pat.match(s)
            if m:
                s = fn(m)
                break
        parts = s.split(", ")
        if len(parts) == 2 and all(len(p.split()) >= 3 for p in parts) and rng.random() < 0.6:
            a, b = parts
            s = b.rstrip(".?!") + ", " + a[:1].lower() + a[1:] + (s[-1] if s[-1] in ".?!" else "")
        turned.append(s)
    if len(turned) >= 2 and rng.random() < 0.7:  # the question first, then its context
        turned = [turned[-1]] + turned[:-1]
    body = " ".join(_swap_words(s, rng) for s in turned)
    opts = [_swap_words(str(c), rng) for c in choices]
    rng.shuffle(opts)
    labels = ["(i)", "(ii)", "(iii)", "(iv)", "(v)", "(vi)", "(vii)", "(viii)"]
    return body + " Options: " + "; ".join(f"{labels[k % 8]} {o}" for k, o in enumerate(opts)) + "."


def _salad(rng: random.Random, vocab: Sequence[str], words: int) -> str:
    out = []
    while len(" ".join(out).split()) < words:
        n = rng.randint(8, 16)
        s = " ".join(rng.choice(vocab) for _ in range(n))
        out.append(s[:1].upper() + s[1:] + ".")
    return " ".join(out)


def build(
    items, seed: int = SEED, n_per_kind: int = N_PER_KIND, n_filler: int = N_FILLER, n_topical: int = N_TOPICAL
) -> ValidationCorpus:
    """The corpus for ``items`` (canonical MMLU items: item_id, input, choices, subject, is_duplicate,
    duplicate_of). Deterministic for a given seed and item set."""
    from benchtrust.contamination.corpora import item_text

    rng = random.Random(seed)
    sentences = package_sentences()
    if len(sentences) < 500:
        raise RuntimeError(f"only {len(sentences)} package sentences found for the filler; expected thousands")
    filler_vocab = sorted(
        {
            w.strip(".,;:()\"'").lower()
            for s in sentences
            for w in s.split()
            if w.strip(".,;:()\"'").isalpha() and len(w) > 3
        }
    )
    rows = list(items.itertuples(index=False))
    dup = set(items.loc[items["is_duplicate"], "item_id"]) | set(items["duplicate_of"].dropna())
    pool = sorted(
        r.item_id
        for r in rows
        if r.item_id not in dup and len(re.findall(r"\w+", item_text(r.input, r.choices))) >= MIN_TOKENS
    )
    chosen = rng.sample(pool, 3 * n_per_kind)
    by_id = {r.item_id: r for r in rows}
    docs: list[dict] = []
    plants: dict[str, str] = {}
    for k, iid in enumerate(chosen):
        r = by_id[iid]
        kind = ("verbatim", "edited", "reworded")[k // n_per_kind]
        if kind == "verbatim":
            core = item_text(r.input, r.choices)
        elif kind == "edited":
            core = light_edit(item_text(r.input, r.choices), rng, filler_vocab)
        else:
            core = reword(r.input, list(r.choices), rng)
        before = _filler(rng, sentences, rng.randint(20, 150))
        after = _filler(rng, sentences, rng.randint(20, 150))
        plants[iid] = kind
        docs.append({"id": f"v-plant-{k:04d}", "text": f"{before} {core} {after}", "kind": kind, "item_id": iid})
    for k in range(n_filler):
        docs.append(
            {
                "id": f"v-filler-{k:05d}",
                "text": _filler(rng, sentences, rng.randint(40, 400)),
                "kind": "filler",
                "item_id": None,
            }
        )
    subj_vocab: dict[str, list[str]] = {}
    for r in rows:
        subj_vocab.setdefault(r.subject, []).extend(w for w in re.findall(r"[A-Za-z]+", r.input) if len(w) > 2)
    subjects = sorted(subj_vocab)
    for k in range(n_topical):
        s = subjects[k % len(subjects)]
        docs.append(
            {
                "id": f"v-topical-{k:05d}",
                "text": _salad(rng, subj_vocab[s], rng.randint(60, 300)),
                "kind": "topical",
                "item_id": None,
            }
        )
    rng.shuffle(docs)
    return ValidationCorpus(
        docs,
        plants,
        {
            "seed": seed,
            "n_per_kind": n_per_kind,
            "n_filler": n_filler,
            "n_topical": n_topical,
            "min_tokens": MIN_TOKENS,
            "filler_sentences": len(sentences),
        },
    )
