"""Resolve a registry model entry to something transformers can load, and its content version."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchtrust.hashing import hash_file, hash_obj, hash_tree

WEIGHT_GLOBS = ("*.safetensors", "*.bin", "*.gguf", "*.pt", "config.json", "tokenizer*.json", "*.model")


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    load_path: str  # folder, hub id, or folder holding the GGUF file
    gguf_file: str | None
    model_version: str
    revision: str | None = None
    dtype: str = "auto"
    attn_implementation: str = "auto"
    engine: str = "transformers"  # transformers | openai
    options: tuple[tuple[str, Any], ...] = ()  # engine options (e.g. timeout, chat) as sorted pairs

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "load_path": self.load_path, "gguf_file": self.gguf_file,
                "model_version": self.model_version, "revision": self.revision}


def _weights_hash(folder: Path) -> str:
    files = sorted({p for g in WEIGHT_GLOBS for p in folder.glob(g) if p.is_file()})
    if not files:
        return hash_tree(folder)
    return hash_obj([(p.name, hash_file(p, 64)) for p in files])


def model_fingerprint(cfg: dict[str, Any]) -> str:
    """Cheap identity used by the model-change sensor: same value ⇔ same weights (or same pinned revision)."""
    return resolve_model("?", cfg).model_version


def resolve_model(name: str, cfg: dict[str, Any]) -> ResolvedModel:
    src = dict(cfg.get("source") or {})
    kind = src.get("type")
    common = {"dtype": cfg.get("dtype", "auto"), "attn_implementation": cfg.get("attn_implementation", "auto")}
    if kind == "wheel_gguf":
        from benchtrust.wheels import wheel_member

        p = wheel_member(src["requirement"], src["dist"], src["module"], src["file"])
        return ResolvedModel(name, str(p.parent), p.name, hash_file(p), **common)
    if kind == "gguf":
        p = Path(src["path"]).expanduser().resolve()
        if not p.exists():
            raise FileNotFoundError(f"model {name!r}: GGUF file {p} not found")
        return ResolvedModel(name, str(p.parent), p.name, hash_file(p), **common)
    if kind == "local":
        p = Path(src["path"]).expanduser().resolve()
        if not p.is_dir():
            raise FileNotFoundError(f"model {name!r}: folder {p} not found")
        return ResolvedModel(name, str(p), src.get("gguf_file"), _weights_hash(p), **common)
    if kind == "hf":
        rev = src.get("revision")
        return ResolvedModel(name, src["id"], src.get("gguf_file"),
                             hash_obj({"id": src["id"], "revision": rev or "main"}), revision=rev, **common)
    if kind == "openai":
        # a served model: its version is what the registry pins (the server cannot prove its weights). Replicas
        # (`base_urls`) serve the same weights, so the version hashes the first URL only: adding or removing a
        # replica keeps the cached cells.
        urls = ([src["base_url"]] if src.get("base_url") else []) + list(src.get("base_urls") or [])
        if not urls:
            raise ValueError(f"model {name!r}: an openai source needs base_url or base_urls")
        opts = {k: src[k] for k in ("api_key_env", "timeout", "max_retries", "chat", "max_in_flight_per_replica",
                                    "max_backoff", "max_retry_after", "unhealthy_seconds") if k in src}
        if len(urls) > 1:
            opts["replicas"] = tuple(urls)
        return ResolvedModel(name, urls[0], None,
                             hash_obj({"base_url": urls[0], "model": src["model"], "revision": src.get("revision")}),
                             revision=src["model"], engine="openai", options=tuple(sorted(opts.items())), **common)
    raise ValueError(f"model {name!r}: unknown source type {kind!r} (wheel_gguf, gguf, local, hf or openai)")


def build_engine(model: ResolvedModel, numeric: dict[str, Any] | None = None):
    """The engine for a resolved model and one numeric configuration of the grid."""
    numeric = numeric or {}
    if model.engine == "openai":
        import os

        from benchtrust.inference.openai_engine import OpenAICompatibleEngine

        opts = dict(model.options)
        key = os.environ.get(opts.pop("api_key_env")) if "api_key_env" in opts else None
        urls = list(opts.pop("replicas", (model.load_path,)))
        return OpenAICompatibleEngine(urls, model.revision or model.name, api_key=key, **opts)
    from benchtrust.inference.transformers_engine import TransformersEngine

    return TransformersEngine(model, dtype=numeric.get("dtype"), attn_implementation=numeric.get("attn_implementation"),
                              token_budget=numeric.get("token_budget"))
