"""Rendering prompt templates. Jinja2's sandbox renders the (trusted) templates; item text enters only as
variable values, so a benchmark item can never execute template code.

A context is ``header + (example prompt + gold continuation + delimiter) × n + prompt`` — the
lm-evaluation-harness layout — and the part before the prompt is returned separately as the *shared prefix*,
which the engine encodes once per group of questions instead of once per question.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

from jinja2.sandbox import SandboxedEnvironment

from benchtrust.items import LETTERS
from benchtrust.registry import Template


@lru_cache(maxsize=1)
def _env() -> SandboxedEnvironment:
    return SandboxedEnvironment(keep_trailing_newline=True, autoescape=False)


@lru_cache(maxsize=512)
def _compile(src: str):
    return _env().from_string(src)


def _choices(item: dict[str, Any], choices: Sequence[str] | None) -> list[str]:
    if choices is None:
        choices = item.get("choices")
    return [] if choices is None else list(choices)


def render_prompt(t: Template, item: dict[str, Any], choices: Sequence[str] | None = None) -> str:
    ch = _choices(item, choices)
    return _compile(t.prompt).render(input=item["input"], choices=ch, labels=LETTERS[: len(ch)],
                                     subject=item.get("subject", ""))


def render_header(t: Template, item: dict[str, Any]) -> str:
    return _compile(t.header).render(subject=item.get("subject", "")) if t.header else ""


def render_continuations(t: Template, choices: Sequence[str]) -> list[str]:
    if t.continuation is None:
        raise ValueError(f"template {t.id!r} has no continuation; it cannot score options")
    tpl = _compile(t.continuation)
    return [tpl.render(label=LETTERS[i], label_index=i, choice=c) for i, c in enumerate(choices)]


def render_example(t: Template, ex: dict[str, Any]) -> str:
    """A solved few-shot example: its prompt followed by its gold continuation."""
    if t.task_type == "multiple_choice":
        return render_prompt(t, ex) + render_continuations(t, list(ex["choices"]))[int(ex["gold_index"])]
    return render_prompt(t, ex) + str(ex["gold"])


def build_context(t: Template, item: dict[str, Any], examples: Sequence[dict[str, Any]] = (),
                  choices: Sequence[str] | None = None) -> tuple[str, str]:
    """(shared prefix, full context) for one item."""
    prefix = render_header(t, item) + "".join(render_example(t, ex) + t.fewshot_delimiter for ex in examples)
    return prefix, prefix + render_prompt(t, item, choices)
