"""Resolve a registry model entry to something transformers can load, and its content version."""

from __future__ import annotations

from typing import Any

from benchtrust.inference.model_sources import WEIGHT_GLOBS, ModelEntry, model_entry
from benchtrust.inference.types import ResolvedModel  # defined beside the engine types: the engines import it

__all__ = ["WEIGHT_GLOBS", "ModelEntry", "ResolvedModel", "build_engine", "model_fingerprint", "resolve_model"]


def model_fingerprint(cfg: ModelEntry | dict[str, Any]) -> str:
    """Cheap identity used by the model-change sensor: same value ⇔ same weights (or same pinned revision)."""
    return resolve_model("?", cfg).model_version


def resolve_model(name: str, cfg: ModelEntry | dict[str, Any]) -> ResolvedModel:
    """A registry entry (typed, or a dict validated here) resolved by its source class
    (:mod:`benchtrust.inference.model_sources`)."""
    return model_entry(name, cfg).resolve(name)


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

    return TransformersEngine(
        model,
        dtype=numeric.get("dtype"),
        attn_implementation=numeric.get("attn_implementation"),
        token_budget=numeric.get("token_budget"),
    )
