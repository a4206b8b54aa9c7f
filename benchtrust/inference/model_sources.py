"""The model registry's entries (``config/models.yaml``) as typed models: one class per source type, each able to
resolve itself to a loadable model with its content version and to name the local files whose size and mtime
stand for that version. The engine (:func:`benchtrust.inference.models.resolve_model`) and the model-change
sensor (:mod:`sensors.changes`) both go through these classes, so a new source type is one class here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from benchtrust.hashing import hash_file, hash_obj, hash_tree
from benchtrust.inference.types import ResolvedModel
from benchtrust.typed_config import ConfigModel, validate_as

WEIGHT_GLOBS = ("*.safetensors", "*.bin", "*.gguf", "*.pt", "config.json", "tokenizer*.json", "*.model")


def weights_hash(folder: Path) -> str:
    files = sorted({p for g in WEIGHT_GLOBS for p in folder.glob(g) if p.is_file()})
    if not files:
        return hash_tree(folder)
    return hash_obj([(p.name, hash_file(p, 64)) for p in files])


class ModelSource(ConfigModel):
    """Where a model's weights come from (``source:`` of a models.yaml entry)."""

    type: str

    def resolve(self, name: str, common: dict[str, Any]) -> ResolvedModel:
        raise NotImplementedError

    def stat_paths(self) -> list[Path] | None:
        """Local files whose size and mtime stand for the fingerprint; None: always re-fingerprint (hub ids and
        servers, whose fingerprint is a cheap hash of the pinned revision)."""
        return None


class WheelGGUFSource(ModelSource):
    """A GGUF file shipped inside a PyPI wheel (read without installing its Python code)."""

    type: Literal["wheel_gguf"]
    requirement: str
    dist: str
    module: str
    file: str

    def _file(self) -> Path:
        from benchtrust.wheels import wheel_member

        return wheel_member(self.requirement, self.dist, self.module, self.file)

    def resolve(self, name: str, common: dict[str, Any]) -> ResolvedModel:
        p = self._file()
        return ResolvedModel(name, str(p.parent), p.name, hash_file(p), **common)

    def stat_paths(self) -> list[Path] | None:
        # the installed or extracted file (cheap once extracted); the wheel itself is pinned by the requirement
        return [self._file()]


class GGUFSource(ModelSource):
    """A local GGUF file."""

    type: Literal["gguf"]
    path: str

    def resolve(self, name: str, common: dict[str, Any]) -> ResolvedModel:
        p = Path(self.path).expanduser().resolve()
        if not p.exists():
            raise FileNotFoundError(f"model {name!r}: GGUF file {p} not found")
        return ResolvedModel(name, str(p.parent), p.name, hash_file(p), **common)

    def stat_paths(self) -> list[Path] | None:
        return [Path(self.path).expanduser()]


class LocalSource(ModelSource):
    """A local transformers folder (optionally holding a GGUF file)."""

    type: Literal["local"]
    path: str
    gguf_file: str | None = None

    def resolve(self, name: str, common: dict[str, Any]) -> ResolvedModel:
        p = Path(self.path).expanduser().resolve()
        if not p.is_dir():
            raise FileNotFoundError(f"model {name!r}: folder {p} not found")
        return ResolvedModel(name, str(p), self.gguf_file, weights_hash(p), **common)

    def stat_paths(self) -> list[Path] | None:
        root = Path(self.path).expanduser()
        files = sorted({p for g in WEIGHT_GLOBS for p in root.glob(g) if p.is_file()}) if root.is_dir() else []
        return files or ([root] if root.exists() else None)


class HFSource(ModelSource):
    """A Hugging Face model id, pinned to a revision (default main)."""

    type: Literal["hf"]
    id: str
    revision: str | None = None
    gguf_file: str | None = None

    def resolve(self, name: str, common: dict[str, Any]) -> ResolvedModel:
        return ResolvedModel(
            name,
            self.id,
            self.gguf_file,
            hash_obj({"id": self.id, "revision": self.revision or "main"}),
            revision=self.revision,
            **common,
        )


# engine options an openai source passes to OpenAICompatibleEngine
OPENAI_OPTIONS = (
    "api_key_env",
    "timeout",
    "max_retries",
    "chat",
    "max_in_flight_per_replica",
    "max_backoff",
    "max_retry_after",
    "unhealthy_seconds",
)


class OpenAISource(ModelSource):
    """An OpenAI-compatible server (vLLM, TGI, llama.cpp, ``python -m benchtrust.inference.server``), or replicas
    of one (``base_urls``)."""

    type: Literal["openai"]
    model: str
    base_url: str | None = None
    base_urls: list[str] = Field(default_factory=list)
    revision: str | None = None
    api_key_env: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    max_retries: int | None = Field(default=None, ge=0)
    chat: bool | None = None
    max_in_flight_per_replica: int | None = Field(default=None, ge=1)
    max_backoff: float | None = Field(default=None, ge=0)
    max_retry_after: float | None = Field(default=None, ge=0)
    unhealthy_seconds: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _has_a_url(self) -> OpenAISource:
        if not self.base_url and not self.base_urls:
            raise ValueError("an openai source needs base_url or base_urls")
        return self

    @property
    def urls(self) -> list[str]:
        return ([self.base_url] if self.base_url else []) + list(self.base_urls)

    def resolve(self, name: str, common: dict[str, Any]) -> ResolvedModel:
        # a served model: its version is what the registry pins (the server cannot prove its weights). Replicas
        # serve the same weights, so the version hashes the first URL only: adding or removing a replica keeps the
        # cached cells.
        urls = self.urls
        set_fields = self.model_fields_set
        opts: dict[str, Any] = {k: getattr(self, k) for k in OPENAI_OPTIONS if k in set_fields}
        if len(urls) > 1:
            opts["replicas"] = tuple(urls)
        return ResolvedModel(
            name,
            urls[0],
            None,
            hash_obj({"base_url": urls[0], "model": self.model, "revision": self.revision}),
            revision=self.model,
            engine="openai",
            options=tuple(sorted(opts.items())),
            **common,
        )


ModelSourceSpec = Annotated[
    WheelGGUFSource | GGUFSource | LocalSource | HFSource | OpenAISource, Field(discriminator="type")
]


class ModelEntry(ConfigModel):
    """One entry of config/models.yaml."""

    source: ModelSourceSpec
    description: str = ""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    attn_implementation: Literal["auto", "eager", "sdpa", "flash_attention_2"] = "auto"

    def resolve(self, name: str) -> ResolvedModel:
        return self.source.resolve(name, {"dtype": self.dtype, "attn_implementation": self.attn_implementation})


def model_entry(name: str, cfg: ModelEntry | dict[str, Any], file: str = "config/models.yaml") -> ModelEntry:
    """``cfg`` as a :class:`ModelEntry`; a dict is validated (errors name ``file``, ``models.<name>`` and the rule)."""
    if isinstance(cfg, ModelEntry):
        return cfg
    return validate_as(ModelEntry, cfg, file, f"models.{name}", ValueError)
