"""Rendering prompt templates. Jinja2's sandbox renders the (trusted) templates; item text enters only as
variable values, so a benchmark item can never execute template code.

A context is ``header + (example prompt + gold continuation + delimiter) × n + prompt`` — the
lm-evaluation-harness layout — and the part before the prompt is returned separately as the *shared prefix*,
which the engine encodes once per group of questions instead of once per question.

Templates come from a config file, so a template is not trusted to be *small*: ``{{ 'x' * 10**9 }}`` rendered
in 6 s to 1 GB before (issue 15, item 2). Every render is bounded (:data:`LIMITS`):

* size: the operators that multiply or grow a value (``*``, ``**``, ``+``, ``%`` formatting) and the string
  methods and filters that pad (``center``, ``ljust``, ``rjust``, ``zfill``, ``expandtabs``, ``indent``,
  ``wordwrap``, ``format``) are checked *before* they run, against the output limit; the rendered text is
  counted chunk by chunk as Jinja streams it;
* time: the deadline is checked on every loop step over ``range`` (Jinja's sandbox already caps one range
  at 100 000 steps, but not nested ones), every call, operator and output chunk.

A template that exceeds a limit raises :class:`TemplateLimitError` naming the template and the limit. No
memory limit is set in-process (Python has none per call); the size checks keep every value the template
builds under the output limit.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Concat
from jinja2.sandbox import SandboxedEnvironment, safe_range

from benchtrust.items import LETTERS
from benchtrust.registry import Template


@dataclass(frozen=True)
class RenderLimits:
    max_chars: int = 4_000_000  # rendered text (and any string/list a template builds) per render
    max_int_bits: int = 4_096  # integers a template computes
    seconds: float = 2.0  # wall time per render


LIMITS = RenderLimits()


class TemplateLimitError(ValueError):
    """A template exceeded a render limit; the message names the template and the limit."""


class _Exceeded(Exception):
    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


_state = threading.local()
_PAD_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs"}
_WIDTH = re.compile(r"[%{:][^%{}]*?(\d{4,})")


def _tick() -> None:
    deadline = getattr(_state, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise _Exceeded(f"time limit of {LIMITS.seconds:g}s per render")


def _too_long(n: int) -> None:
    if n > LIMITS.max_chars:
        raise _Exceeded(f"output limit of {LIMITS.max_chars:,} characters")


def _size(v: Any) -> int | None:
    return len(v) if isinstance(v, (str, bytes, list, tuple)) else None


def _check_widths(fmt: Any, args: Any = ()) -> None:
    """A format string's field widths ('%0999999d', '{:>999999}') are what it would pad to; a width taken from
    the arguments ('%*d', '{:>{w}}') is any integer argument."""
    if isinstance(fmt, str):
        for m in _WIDTH.finditer(fmt):
            _too_long(int(m.group(1)))
        if "*" in fmt or re.search(r"\{[^{}]*\{", fmt):
            vals = (
                list(args.values())
                if isinstance(args, dict)
                else list(args)
                if isinstance(args, (tuple, list))
                else [args]
            )
            for v in vals:
                if isinstance(v, int):
                    _too_long(abs(v))


class _LimitedEnvironment(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def bt_concat(self, parts: tuple[Any, ...]) -> str:
        """The ``~`` operator (Jinja joins with ``str_join``, which no sandbox hook sees)."""
        _tick()
        strs = [str(x) for x in parts]
        _too_long(sum(len(x) for x in strs))
        return "".join(strs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "*":
            for seq, k in ((left, right), (right, left)):
                n = _size(seq)
                if n is not None and isinstance(k, int):
                    _too_long(n * max(k, 0))
            if isinstance(left, int) and isinstance(right, int):
                self._bits(left.bit_length() + right.bit_length())
        elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
            self._bits(max(left.bit_length(), 1) * right)
        elif operator == "+":
            a, b = _size(left), _size(right)
            if a is not None and b is not None:
                _too_long(a + b)
        elif operator == "%":
            _check_widths(left, right)
        return super().call_binop(context, operator, left, right)

    @staticmethod
    def _bits(bits: int) -> None:
        if bits > LIMITS.max_int_bits:
            raise _Exceeded(f"integer limit of {LIMITS.max_int_bits} bits")

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # Jinja's signature
        _tick()
        name = getattr(__obj, "__name__", "")
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            if name in _PAD_METHODS:
                width = args[0] if args else kwargs.get("width", kwargs.get("tabsize", 0))
                if isinstance(width, int):
                    _too_long(width * (len(owner) if name == "expandtabs" else 1))
            elif name == "join":
                items = args[0] if args else ()
                n = _size(items)
                if n is not None:
                    _too_long(sum(len(str(x)) for x in items) + len(owner) * n)
            elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
                _too_long(len(owner) + owner.count(args[0]) * len(args[1]))
        elif isinstance(owner, list) and name in ("append", "extend", "insert"):
            added = args[-1] if args else ()
            _too_long(len(owner) + (len(added) if name == "extend" and hasattr(added, "__len__") else 1))
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` / ``format_map`` (wrapped when the attribute is read): check the widths first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            _tick()
            _check_widths(fmt, [*args, *kwargs.values(), *(v for a in args if isinstance(a, dict) for v in a.values())])
            return wrapped(*args, **kwargs)

        return checked


class _CodeGenerator(CodeGenerator):
    def visit_Concat(self, node: Concat, frame: Frame) -> None:  # Jinja's visitor name
        self.write("environment.bt_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


_LimitedEnvironment.code_generator_class = _CodeGenerator


def _limited_range(*args: int) -> Iterator[int]:
    for i in safe_range(*args):
        _tick()
        yield i


def _wrap_filter(name: str, f: Callable[..., Any], width_arg: int) -> Callable[..., Any]:
    def checked(*args: Any, **kwargs: Any) -> Any:
        _tick()
        if name == "format":
            _check_widths(args[0] if args else "", [*args[1:], *kwargs.values()])
        elif name == "replace":
            v, old, new = (list(args[width_arg - 1 : width_arg + 2]) + ["", "", ""])[:3]
            if isinstance(old, str) and isinstance(new, str):
                _too_long(len(str(v)) + str(v).count(old) * len(new))
        elif len(args) > width_arg and isinstance(args[width_arg], int):
            value = args[0] if args else ""
            lines = str(value).count("\n") + 1 if name == "indent" else 1
            _too_long(args[width_arg] * lines)
        return f(*args, **kwargs)

    checked.__name__ = getattr(f, "__name__", name)
    for attr in ("jinja_pass_arg",):
        if hasattr(f, attr):
            setattr(checked, attr, getattr(f, attr))
    return checked


@lru_cache(maxsize=1)
def _env() -> SandboxedEnvironment:
    env = _LimitedEnvironment(keep_trailing_newline=True, autoescape=False)
    env.globals["range"] = _limited_range
    env.globals.pop("lipsum", None)  # lipsum(n=10**9) would build any size of text
    # the filters that pad to a width (or grow by replacement): value is args[0] (args[1] for the env-passing ones)
    for name in ("center", "indent", "format", "replace"):
        f = env.filters[name]
        width_arg = 2 if getattr(f, "jinja_pass_arg", None) is not None else 1
        env.filters[name] = _wrap_filter(name, f, width_arg)
    return env


@lru_cache(maxsize=512)
def _compile(src: str):
    return _env().from_string(src)


def _render(t: Template, src: str, **context: Any) -> str:
    """Render ``src`` (a part of template ``t``) within :data:`LIMITS`."""
    outer = getattr(_state, "deadline", None)
    if outer is None:
        _state.deadline = time.monotonic() + LIMITS.seconds
    try:
        out: list[str] = []
        n = 0
        for chunk in _compile(src).generate(**context):
            n += len(chunk)
            _too_long(n)
            _tick()
            out.append(chunk)
        return "".join(out)
    except _Exceeded as e:
        raise TemplateLimitError(f"template {t.id!r} exceeds the {e.what}") from None
    except MemoryError:
        raise TemplateLimitError(f"template {t.id!r} ran out of memory while rendering") from None
    finally:
        if outer is None:
            _state.deadline = None


def _choices(item: dict[str, Any], choices: Sequence[str] | None) -> list[str]:
    if choices is None:
        choices = item.get("choices")
    return [] if choices is None else list(choices)


def render_prompt(t: Template, item: dict[str, Any], choices: Sequence[str] | None = None) -> str:
    ch = _choices(item, choices)
    return _render(
        t, t.prompt, input=item["input"], choices=ch, labels=LETTERS[: len(ch)], subject=item.get("subject", "")
    )


def render_header(t: Template, item: dict[str, Any]) -> str:
    return _render(t, t.header, subject=item.get("subject", "")) if t.header else ""


def render_continuations(t: Template, choices: Sequence[str]) -> list[str]:
    if t.continuation is None:
        raise ValueError(f"template {t.id!r} has no continuation; it cannot score options")
    cont = t.continuation
    return [_render(t, cont, label=LETTERS[i], label_index=i, choice=c) for i, c in enumerate(choices)]


def render_example(t: Template, ex: dict[str, Any]) -> str:
    """A solved few-shot example: its prompt followed by its gold continuation."""
    if t.task_type == "multiple_choice":
        return render_prompt(t, ex) + render_continuations(t, list(ex["choices"]))[int(ex["gold_index"])]
    return render_prompt(t, ex) + str(ex["gold"])


def build_context(
    t: Template, item: dict[str, Any], examples: Sequence[dict[str, Any]] = (), choices: Sequence[str] | None = None
) -> tuple[str, str]:
    """(shared prefix, full context) for one item."""
    prefix = render_header(t, item) + "".join(render_example(t, ex) + t.fewshot_delimiter for ex in examples)
    return prefix, prefix + render_prompt(t, item, choices)
