"""Rendering prompt templates. Jinja2's sandbox renders the (trusted) templates; item text enters only as
variable values, so a benchmark item can never execute template code."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

from jinja2.sandbox import SandboxedEnvironment

from benchtrust.items import LETTERS
from benchtrust.registry import Template


@lru_cache(maxsize=1)
def _env() -> SandboxedEnvironment:
    return SandboxedEnvironment(keep_trailing_newline=True, autoescape=False)


@lru_cache(maxsize=256)
def _compile(src: str):
    return _env().from_string(src)


def render_prompt(t: Template, item: dict[str, Any], choices: Sequence[str] | None = None) -> str:
    if choices is None:
        choices = item.get("choices")
    ch = [] if choices is None else list(choices)
    return _compile(t.prompt).render(input=item["input"], choices=ch, labels=LETTERS[: len(ch)],
                                     subject=item.get("subject", ""))


def render_continuations(t: Template, choices: Sequence[str]) -> list[str]:
    if t.continuation is None:
        raise ValueError(f"template {t.id!r} has no continuation; it cannot score options")
    tpl = _compile(t.continuation)
    return [tpl.render(label=LETTERS[i], choice=c) for i, c in enumerate(choices)]
