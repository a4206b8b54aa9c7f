"""Typed registries: the base of the pydantic models that read ``config/*.yaml`` and turn a validation error into
lines that name the file, the key and the rule, e.g.

    config/models.yaml: models.smollm2.source: unknown source type 'hff'; expected one of wheel_gguf, gguf, local, hf, openai

The models themselves live next to the code that uses them (benchmarks, templates, grids and profiles in
:mod:`benchtrust.registry`, model sources in :mod:`benchtrust.inference.models`, corpora in
:mod:`benchtrust.contamination.corpora`). pydantic does the checking; this module only words its errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

T = TypeVar("T")


class ConfigModel(BaseModel):
    """A registry entry: unknown keys are errors (a typo must not be ignored silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenConfigModel(BaseModel):
    """An entry whose extra keys are passed on to code that checks them itself (e.g. a source's options)."""

    model_config = ConfigDict(extra="allow", frozen=True)


def _path_of(loc: tuple[Any, ...], data: Any) -> str:
    """Dotted key path of an error location. pydantic puts the tag of a discriminated union in the location
    (``source.gguf.path``); walking the data drops those steps, so the path is the one the user wrote."""
    parts: list[str] = []
    node = data
    for step in loc:
        if isinstance(node, dict) and step not in node and node.get("type") == step:
            continue  # a union tag, not a key of the file
        if isinstance(step, int):
            parts.append(f"[{step}]")
        else:
            parts.append(("." if parts else "") + str(step))
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            node = None
    return "".join(parts)


def _rule(err: Any) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    given = err.get("input")
    if kind == "union_tag_invalid":
        tags = str(ctx.get("expected_tags", "")).replace("'", "")
        return f"unknown {'source ' if err['loc'] and err['loc'][-1] == 'source' else ''}type {ctx.get('tag')!r}; expected one of {tags}"
    if kind == "union_tag_not_found":
        return "missing 'type'"
    if kind == "missing":
        return "required key missing"
    if kind == "extra_forbidden":
        return f"unknown key (value {given!r})"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    msg = str(err["msg"])
    return f"{msg[:1].lower()}{msg[1:]} (got {given!r})"


def describe_errors(exc: ValidationError, data: Any, file: str | Path, prefix: str = "") -> list[str]:
    """One line per error: ``<file>: <prefix>.<key path>: <rule>``."""
    lines = []
    for err in exc.errors():
        key = _path_of(tuple(err["loc"]), data)
        key = f"{prefix}.{key}" if prefix and key else (prefix or key or "(top level)")
        lines.append(f"{file}: {key}: {_rule(err)}")
    return lines


def validate(kind: Any, data: Any, file: str | Path, prefix: str, error: type[Exception]) -> Any:
    """``data`` validated as ``kind`` (a model class or any type pydantic adapts, e.g. ``dict[str, Model]``);
    on failure ``error`` with one line per problem."""
    try:
        return TypeAdapter(kind).validate_python(data)
    except ValidationError as e:
        raise error("\n".join(describe_errors(e, data, file, prefix))) from None


def validate_as(kind: type[T], data: Any, file: str | Path, prefix: str, error: type[Exception]) -> T:
    """Typed variant of :func:`validate` for one model class."""
    result: T = validate(kind, data, file, prefix, error)
    return result
