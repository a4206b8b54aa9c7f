"""The corpus registry: ``config/corpora.yaml`` plus the data folder's ``registry/corpora.yaml`` that
``benchtrust corpus add`` writes, both typed (:class:`CorpusSettings`, :data:`CorpusEntry`); an error names the
file, the key and the rule. Split from :mod:`benchtrust.contamination.corpora` (sources and versions), which
re-exports every name here."""

from __future__ import annotations

import glob as _glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import Field, TypeAdapter

from benchtrust.lake import safe_name
from benchtrust.typed_config import ConfigModel, validate

DEFAULT_NGRAM_SIZES = (13, 8)


class CorpusError(ValueError):
    """A corpus cannot be read: the message names the corpus, the input and the rule."""


# --------------------------------------------------------------------------------------------------- registry
class CorpusSettings(ConfigModel):
    """``settings:`` of config/corpora.yaml (read from config/ only: the data-folder registry adds corpora)."""

    # 13 is the GPT-3 / harness convention, 8 also reaches short items; dbt gets the same list as a var
    ngram_sizes: tuple[Annotated[int, Field(ge=1, le=64)], ...] = Field(default=DEFAULT_NGRAM_SIZES, min_length=1)
    embed: bool = True  # default of each corpus's `embed:`
    embed_chunk_words: int = Field(default=128, ge=1)  # long documents are embedded in windows of this many words
    max_embed_chunks: int = Field(default=200_000, ge=0)  # a corpus with more windows is not embedded (say so)
    neighbours_k: int = Field(default=5, ge=1)
    membership_items: int = Field(default=40, ge=1)  # items scored by the membership pass per benchmark × model
    probe_items: int = Field(default=20, ge=0)  # of which the prefix-completion probe runs on this many


class _CorpusEntry(ConfigModel):
    """Options every corpus type takes."""

    description: str = ""
    embed: bool | None = None  # default: settings.embed
    aligned: bool | None = None  # default: embed
    processes: int | None = Field(default=None, ge=1)  # n-gram pass over files > 64 MB (default one per core)
    threads: int | None = Field(default=None, ge=1)  # n-gram pass over smaller files (default 2)


class FileCorpus(_CorpusEntry):
    type: Literal["file"]
    path: str
    text_field: str = "text"
    id_field: str | None = None
    format: Literal["jsonl", "parquet", "csv", "tsv", "text"] | None = None


class TextFolderCorpus(_CorpusEntry):
    type: Literal["text_folder"]
    path: str
    glob: str = "**/*.txt"


class HFCorpus(_CorpusEntry):
    type: Literal["hf"]
    name: str
    config: str | None = None
    split: str = "train"
    revision: str | None = None
    text_field: str = "text"
    id_field: str | None = None


class BenchmarkCorpus(_CorpusEntry):
    type: Literal["benchmark"]
    benchmark: str


CorpusEntry = Annotated[FileCorpus | TextFolderCorpus | HFCorpus | BenchmarkCorpus, Field(discriminator="type")]
CORPUS_ENTRY: TypeAdapter[Any] = TypeAdapter(CorpusEntry)


def _flat(spec: Any) -> Any:
    """``source: {type: …}`` (the benchmarks.yaml shape) is accepted too: its keys join the entry's."""
    if isinstance(spec, dict) and isinstance(spec.get("source"), dict):
        return {**{k: v for k, v in spec.items() if k != "source"}, **spec["source"]}
    return spec


def _read_registry_file(p: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise CorpusError(f"{p}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise CorpusError(f"{p}: (top level): expected a mapping with 'corpora:' and 'settings:'")
    unknown = sorted(set(data) - {"corpora", "settings"})
    if unknown:
        raise CorpusError(f"{p}: {unknown[0]}: unknown key; expected corpora or settings")
    return data


def _entries(p: Path, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    corpora = data.get("corpora") or {}
    if isinstance(corpora, list):  # a list of {name: ..., ...} is accepted too
        for i, c in enumerate(corpora):
            if not isinstance(c, dict) or "name" not in c:
                raise CorpusError(f"{p}: corpora[{i}]: a list entry needs a 'name:'")
        corpora = {c["name"]: {k: v for k, v in c.items() if k != "name"} for c in corpora}
    if not isinstance(corpora, dict):
        raise CorpusError(f"{p}: corpora: expected a mapping (or list) under 'corpora:'")
    for name, spec in corpora.items():
        if not isinstance(name, str):
            raise CorpusError(f"{p}: corpora.{name}: corpus names must be strings")
        safe_name(name)  # no separators: the name is its own folder (corpus=<name>)
        validate(CorpusEntry, _flat(spec), p, f"corpora.{name}", CorpusError)
    return {str(k): dict(v) for k, v in corpora.items()}


def user_registry_path(home: str | Path) -> Path:
    """The corpus registry in the data folder (``benchtrust corpus add`` writes it; config/ stays the user's)."""
    return Path(home) / "registry" / "corpora.yaml"


@dataclass
class CorpusRegistryBase:
    """config/corpora.yaml, merged with the data folder's registry (:func:`user_registry_path`) when one is given.
    Each entry is validated (:data:`CorpusEntry`); a corpus's relative paths resolve against its own file's folder.
    The readers are not known here: ``benchtrust.contamination.corpora.CorpusRegistry`` adds ``source()`` (this
    module stays importable by the reader module without a circle)."""

    path: Path
    corpora: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: CorpusSettings = field(default_factory=CorpusSettings)
    origins: dict[str, Path] = field(default_factory=dict)  # corpus → the registry file that declares it

    @classmethod
    def load(cls, config_dir: str | Path, user_file: str | Path | None = None) -> Self:
        p = Path(config_dir) / "corpora.yaml"
        corpora: dict[str, dict[str, Any]] = {}
        origins: dict[str, Path] = {}
        settings = CorpusSettings()
        if p.exists():
            data = _read_registry_file(p)
            corpora = _entries(p, data)
            origins = dict.fromkeys(corpora, p)
            settings = validate(CorpusSettings, data.get("settings") or {}, p, "settings", CorpusError)
        if user_file is not None and Path(user_file).exists():
            u = Path(user_file)
            udata = _read_registry_file(u)
            if udata.get("settings"):
                raise CorpusError(f"{u}: settings: the data folder's registry holds corpora only; settings live in {p}")
            for name, spec in _entries(u, udata).items():
                if name in corpora:
                    raise CorpusError(f"{u}: corpora.{name}: corpus {name!r} is already declared in {origins[name]}")
                corpora[name], origins[name] = spec, u
        folded: dict[str, str] = {}
        for name in corpora:
            other = folded.setdefault(name.lower(), name)
            if other != name:  # the same folder on a case-insensitive file system (issue 15, item 5)
                raise CorpusError(
                    f"{origins[name]}: corpora.{name}: corpus names {other!r} and {name!r} differ only in case"
                )
        return cls(p, corpora, settings, origins)

    @classmethod
    def for_settings(cls, settings: Any) -> Self:
        """The registry a run sees: config/corpora.yaml plus the data folder's corpora."""
        return cls.load(settings.config_dir, user_registry_path(settings.home))

    def entry(self, name: str) -> FileCorpus | TextFolderCorpus | HFCorpus | BenchmarkCorpus:
        """The typed entry of a registered corpus."""
        if name not in self.corpora:
            raise CorpusError(f"unknown corpus {name!r}; known: {sorted(self.corpora)} (see {self.path})")
        entry: FileCorpus | TextFolderCorpus | HFCorpus | BenchmarkCorpus = CORPUS_ENTRY.validate_python(
            _flat(self.corpora[name])
        )
        return entry

    def embed(self, name: str) -> bool:
        e = self.corpora.get(name, {}).get("embed")
        return bool(self.settings.embed if e is None else e)


def corpus_spec_for(location: str, embed: bool | None = None) -> dict[str, Any]:
    """The registry entry for ``benchtrust corpus add NAME LOCATION``: ``hf:<dataset>`` is a Hugging Face dataset,
    anything else a local file, folder or glob (stored as an absolute path, so the entry does not depend on the
    folder the command ran in). Raises :class:`CorpusError` when a local path matches nothing."""
    if location.startswith("hf:"):
        spec: dict[str, Any] = {"type": "hf", "name": location[3:]}
    else:
        p = Path(os.path.expanduser(location)).absolute()
        if any(ch in location for ch in "*?["):
            if not _glob.glob(str(p), recursive=True):
                raise CorpusError(f"{location}: no files match")
        elif not p.exists():
            raise CorpusError(f"{location}: no such file or folder")
        spec = {"type": "file", "path": str(p)}
    if embed is not None:
        spec["embed"] = embed
    return spec


def add_user_corpus(config_dir: str | Path, home: str | Path, name: str, spec: dict[str, Any]) -> Path:
    """Register ``name`` in the data folder's corpus registry (never in config/). Refused with
    :class:`CorpusError` when the name is taken (in either registry, or differs only in case), unsafe, or the
    entry does not validate; the file is left as it was then. Returns the registry file written."""
    current = CorpusRegistryBase.load(config_dir, user_registry_path(home))
    if name in current.corpora:
        raise CorpusError(f"corpus {name!r} is already registered in {current.origins[name]}")
    safe_name(name)
    path = user_registry_path(home)
    before = path.read_text() if path.exists() else None
    data = _read_registry_file(path) if before is not None else {}
    corpora = dict(data.get("corpora") or {})
    corpora[name] = spec
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        "# Corpora registered with `benchtrust corpus add` (merged with config/corpora.yaml).\n"
        + yaml.safe_dump({"corpora": corpora}, sort_keys=False)
    )
    os.replace(tmp, path)
    try:
        CorpusRegistryBase.load(config_dir, path)  # the merged registry must still validate
    except (CorpusError, ValueError):
        if before is None:
            path.unlink()
        else:
            path.write_text(before)
        raise
    return path
