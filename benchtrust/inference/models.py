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
    raise ValueError(f"model {name!r}: unknown source type {kind!r} (wheel_gguf, gguf, local or hf)")
