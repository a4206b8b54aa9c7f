"""The user-edited registries in ``config/``: benchmarks, models, prompt templates, run profiles."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from benchtrust.hashing import hash_obj
from benchtrust.settings import get_settings


class RegistryError(ValueError):
    pass


def _deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


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
        return {"id": self.id, "task_type": self.task_type, "prompt": self.prompt, "header": self.header,
                "continuation": self.continuation, "stop": list(self.stop), "fewshot_delimiter": self.fewshot_delimiter}


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
        return hash_obj({
            "templates": [t.spec() for t in self.templates], "decoding": self.decoding, "subset": self.subset,
            "fewshot": self.fewshot, "permutation_seeds": self.permutation_seeds, "numeric": self.numeric,
        })

    @property
    def decodings(self) -> list[dict[str, Any]]:
        return [dict(d) for d in self.decoding] if isinstance(self.decoding, list) else [dict(self.decoding)]

    @property
    def primary_decoding(self) -> dict[str, Any]:
        return self.decodings[0]

    @property
    def headline_template(self) -> str:
        return self.templates[0].id


@dataclass
class Registry:
    config_dir: Path

    @classmethod
    def load(cls, config_dir: str | Path | None = None) -> "Registry":
        return cls(Path(config_dir) if config_dir else get_settings().config_dir)

    def _yaml(self, name: str, key: str) -> dict[str, Any]:
        p = self.config_dir / name
        if not p.exists():
            raise RegistryError(f"{p}: registry file missing")
        data = yaml.safe_load(p.read_text()) or {}
        if not isinstance(data.get(key), dict):
            raise RegistryError(f"{p}: expected a mapping under '{key}:'")
        return data[key]

    @cached_property
    def benchmarks(self) -> dict[str, dict[str, Any]]:
        return self._yaml("benchmarks.yaml", "benchmarks")

    @cached_property
    def models(self) -> dict[str, dict[str, Any]]:
        return self._yaml("models.yaml", "models")

    @cached_property
    def templates(self) -> dict[str, Template]:
        out = {}
        for tid, t in self._yaml("templates.yaml", "templates").items():
            out[tid] = Template(id=tid, task_type=t.get("task_type", "multiple_choice"), prompt=t["prompt"],
                                continuation=t.get("continuation"), stop=tuple(t.get("stop", ())),
                                description=t.get("description", ""), header=t.get("header", ""),
                                fewshot_delimiter=t.get("fewshot_delimiter", "\n\n"))
        return out

    @cached_property
    def profiles(self) -> dict[str, dict[str, Any]]:
        return self._yaml("profiles.yaml", "profiles")

    def profile(self, name: str) -> dict[str, Any]:
        if name not in self.profiles:
            raise RegistryError(f"unknown profile {name!r}; known: {sorted(self.profiles)}")
        prof = self.profiles[name]
        for b in prof.get("benchmarks", {}):
            if b not in self.benchmarks:
                raise RegistryError(f"profile {name!r} names unknown benchmark {b!r}")
        for m in prof.get("models", []):
            if m not in self.models:
                raise RegistryError(f"profile {name!r} names unknown model {m!r}")
        return prof

    def source(self, benchmark: str):
        from benchtrust.sources import make_source

        if benchmark not in self.benchmarks:
            raise RegistryError(f"unknown benchmark {benchmark!r}; known: {sorted(self.benchmarks)}")
        return make_source(self.benchmarks[benchmark]["source"], base_dir=str(self.config_dir))

    def grid(self, benchmark: str, profile: str | None = None) -> Grid:
        base = dict(self.benchmarks[benchmark].get("grid") or {})
        if profile is not None:
            pb = self.profile(profile).get("benchmarks", {}).get(benchmark) or {}
            base = _deep_merge(base, pb.get("grid") or {})
            if "subset" in pb:
                base["subset"] = pb["subset"]
        tids = base.get("templates") or []
        missing = [t for t in tids if t not in self.templates]
        if not tids or missing:
            raise RegistryError(f"benchmark {benchmark!r}: templates {missing or '(none)'} not in templates.yaml")
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
