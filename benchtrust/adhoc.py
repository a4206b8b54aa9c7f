"""Registry entries for ad-hoc evaluations (``benchtrust eval``), written to the data folder's registry
(``<BENCHTRUST_HOME>/registry/{models,benchmarks,profiles}.yaml``), never to config/.

A model is given as ``hf:<id or folder>``, ``gguf:<file>`` or ``openai:<base_url>#<served model>``; a benchmark as a
registered name or a local JSONL / CSV / Parquet file. Names are derived from the id, file or served model
(lower case, runs of other characters → '-'), so the same input always gets the same name; ``--name`` overrides.
An input whose source is already registered under some name reuses that entry. A derived name already taken by a
different entry is refused (one line naming the entry's file), never silently renamed.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchtrust.lake import safe_name
from benchtrust.registry import Registry, RegistryError, user_registry_dir

MODEL_SCHEMES = ("hf", "gguf", "openai")
DEFAULT_MC_TEMPLATE = "mmlu_harness"
_HEADER = "# Written by `benchtrust eval` (merged with {config}/{file}); remove an entry to forget it.\n"


def readable_name(text: str) -> str:
    """A stable partition name from a file stem, hub id or served model: lower case, runs of characters other than
    letters, digits and '.' become '-' ('SmolLM2-135M-Instruct.Q4_1' → 'smollm2-135m-instruct.q4-1')."""
    name = re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.")[:64].strip("-.")
    if not name:
        raise RegistryError(f"cannot derive a name from {text!r}; give one with --name")
    return name


def model_source(spec: str) -> tuple[str, dict[str, Any]]:
    """``(derived name, source entry)`` for ``hf:<id or folder>``, ``gguf:<file>`` or ``openai:<url>#<model>``."""
    scheme, sep, rest = spec.partition(":")
    if not sep or scheme not in MODEL_SCHEMES or not rest:
        raise RegistryError(f"--model {spec!r}: expected hf:<id or folder>, gguf:<file> or openai:<base_url>#<model>")
    if scheme == "gguf":
        p = Path(rest).expanduser()
        if not p.is_file():
            raise RegistryError(f"--model {spec!r}: GGUF file {p} not found")
        return readable_name(p.name.removesuffix(".gguf")), {"type": "gguf", "path": str(p.resolve())}
    if scheme == "openai":
        url, hash_, served = rest.rpartition("#")
        if not hash_ or not url or not served or not url.startswith(("http://", "https://")):
            raise RegistryError(f"--model {spec!r}: expected openai:<http(s) base_url>#<served model name>")
        return readable_name(served.rsplit("/", 1)[-1]), {"type": "openai", "base_url": url, "model": served}
    p = Path(rest).expanduser()
    if p.is_dir():  # a local transformers folder
        return readable_name(p.resolve().name), {"type": "local", "path": str(p.resolve())}
    if rest.startswith((".", "/", "~")) or rest.count("/") > 1:
        raise RegistryError(f"--model {spec!r}: {p} is not a folder, and not a hub id (org/name)")
    return readable_name(rest.rsplit("/", 1)[-1]), {"type": "hf", "id": rest}


def benchmark_source(path: str) -> tuple[str, dict[str, Any]]:
    """``(derived name, source entry)`` for a local benchmark file (stored as an absolute path)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise RegistryError(f"--benchmark {path!r}: not a registered benchmark and no such file")
    stem = p.name.split(".", 1)[0]
    return readable_name(stem), {"type": "file", "path": str(p.resolve())}


@dataclass(frozen=True)
class Selection:
    """Which part of the benchmark an ad-hoc run evaluates, and how."""

    limit: int | None = None  # n items, sampled deterministically by seed (benchtrust.inference.runner.select_subset)
    per_subject: int | None = None
    seed: int = 0
    template: str | None = None
    fewshot: int | None = None

    def suffix(self) -> str:
        """The readable part of the profile name that says what the run covers ('n20', 'per5-seed3-k5')."""
        parts = [f"n{self.limit}" if self.limit else "", f"per{self.per_subject}" if self.per_subject else ""]
        parts += [
            f"seed{self.seed}" if self.seed else "",
            self.template or "",
            f"k{self.fewshot}" if self.fewshot else "",
        ]
        return "-".join(p for p in parts if p) or "all"

    def profile_benchmark(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        subset = {k: v for k, v in (("n", self.limit), ("per_subject", self.per_subject)) if v}
        if subset:
            out["subset"] = {**subset, "seed": self.seed}
        grid: dict[str, Any] = {}
        if self.template:
            grid["templates"] = [self.template]
        if self.fewshot:
            grid["fewshot"] = {"n": self.fewshot, "seeds": [self.seed]}
        if grid:
            out["grid"] = grid
        return out


@dataclass(frozen=True)
class AdhocEntries:
    model: str
    benchmark: str
    profile: str
    written: tuple[Path, ...]  # the data-folder registry files changed (empty when everything was registered)


def _same_source(entry: dict[str, Any] | None, source: dict[str, Any]) -> bool:
    return bool(entry) and (entry or {}).get("source") == source


def _pick_name(reg: Registry, key: str, derived: str, given: str | None, source: dict[str, Any]) -> tuple[str, bool]:
    """(name, needs writing): an entry with this exact source is reused unless a name was given; a name taken by a
    different entry is refused."""
    section: dict[str, Any] = getattr(reg, key)
    if given is None:
        for name, entry in sorted(section.items()):
            if _same_source(entry, source):
                return name, False
    name = safe_name(given or derived)
    if name in section:
        if _same_source(section[name], source):
            return name, False
        kind = key[:-1]
        raise RegistryError(
            f"{kind} name {name!r} is already registered in {reg.origin(key, name)} with another source; "
            f"choose another with {'--name' if kind == 'model' else '--benchmark-name'}"
        )
    return name, True


@contextmanager
def _registry_lock(folder: Path) -> Iterator[None]:
    """Two ad-hoc commands at once must not lose each other's entries (read-modify-write of the same files)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".registry.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held for milliseconds: a plain blocking lock (as pipelines.daemon does)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _write_entry(folder: Path, config_dir: Path, key: str, name: str, entry: dict[str, Any]) -> Path:
    path = folder / f"{key}.yaml"
    data = (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}
    section = dict(data.get(key) or {})
    section[name] = entry
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(_HEADER.format(config=config_dir, file=path.name) + yaml.safe_dump({key: section}, sort_keys=False))
    os.replace(tmp, path)
    return path


def register_adhoc(
    config_dir: Path,
    home: Path,
    model_spec: str,
    benchmark: str,
    selection: Selection,
    *,
    name: str | None = None,
    benchmark_name: str | None = None,
) -> AdhocEntries:
    """Register the model, the benchmark (when a file) and the run profile in the data folder's registry, and
    check the merged registry still validates (the files are restored when it does not)."""
    folder = user_registry_dir(home)
    with _registry_lock(folder):
        reg = Registry(config_dir, folder)
        derived, msource = model_source(model_spec)
        model, new_model = _pick_name(reg, "models", derived, name, msource)
        new_bench: dict[str, Any] | None = None
        if benchmark in reg.benchmarks and benchmark_name is None:
            bench = benchmark
        else:
            derived_b, bsource = benchmark_source(benchmark)
            bench, write_b = _pick_name(reg, "benchmarks", derived_b, benchmark_name, bsource)
            template = selection.template or DEFAULT_MC_TEMPLATE
            new_bench = {"source": bsource, "grid": {"templates": [template]}} if write_b else None
        if selection.template and selection.template not in reg.templates:
            raise RegistryError(f"--template {selection.template!r}: unknown; known: {sorted(reg.templates)}")
        profile = safe_name(f"eval-{model}-{bench}-{selection.suffix()}")
        prof = {
            "description": f"benchtrust eval --model {model_spec} --benchmark {benchmark}",
            "models": [model],
            "benchmarks": {bench: selection.profile_benchmark() or None},
        }
        if profile in reg.profiles and reg.origin("profiles", profile).parent != folder:
            raise RegistryError(f"profile {profile!r} is already declared in {reg.origin('profiles', profile)}")
        todo = [("models", model, {"source": msource, "description": f"benchtrust eval --model {model_spec}"})]
        todo = todo if new_model else []
        todo += [("benchmarks", bench, new_bench)] if new_bench else []
        todo += [] if reg.profiles.get(profile) == prof else [("profiles", profile, prof)]
        return AdhocEntries(model, bench, profile, _apply(config_dir, folder, todo, profile))


def _apply(
    config_dir: Path, folder: Path, todo: list[tuple[str, str, dict[str, Any]]], profile: str
) -> tuple[Path, ...]:
    before = {p: p.read_text() if p.exists() else None for p in (folder / f"{k}.yaml" for k, _, _ in todo)}
    written = tuple(dict.fromkeys(_write_entry(folder, config_dir, k, n, e) for k, n, e in todo))
    try:
        check = Registry(config_dir, folder)
        check.profile(profile)
        for b in check.profile(profile).get("benchmarks") or {}:
            check.grid(b, profile)
        for m in check.profile(profile).get("models") or []:
            check.model_entry(m)
    except (RegistryError, ValueError):
        for p, text in before.items():
            if text is None:
                p.unlink(missing_ok=True)
            else:
                p.write_text(text)
        raise
    return written
