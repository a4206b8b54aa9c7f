"""Prompt templates render within size and time limits (issue 15, item 2): a template that would build a huge
string, pad to a huge width, compute a huge integer or loop for ever is refused quickly, naming the template and
the limit, before it allocates what it asks for."""

from __future__ import annotations

import resource
import time

import pytest

from benchtrust.inference.prompts import LIMITS, TemplateLimitError, build_context, render_continuations, render_prompt
from benchtrust.registry import Registry, Template

ITEM = {
    "item_id": "x-1",
    "input": "What is 2 + 2?",
    "choices": ["3", "4", "5", "22"],
    "gold_index": 1,
    "gold": "B",
    "subject": "maths",
}

SIZE = f"output limit of {LIMITS.max_chars:,} characters"
BOMBS = {
    "string_times": ("{{ 'x' * 1000000000 }}", SIZE),
    "string_times_power": ("{{ 'x' * 10 ** 9 }}", SIZE),
    "times_string": ("{{ 1000000000 * input }}", SIZE),
    "list_times": ("{{ [1, 2] * 1000000000 }}", SIZE),
    "plus_doubling": (
        "{% set ns = namespace(s=input) %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
        "{% endfor %}{{ ns.s|length }}",
        SIZE,
    ),
    "tilde_doubling": (
        "{% set ns = namespace(s=input) %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s|length }}",
        SIZE,
    ),
    "list_extend_doubling": ("{% set l = [1] %}{% for i in range(40) %}{{ l.extend(l) or '' }}{% endfor %}", SIZE),
    "center_filter": ("{{ input|center(1000000000) }}", SIZE),
    "indent_filter": ("{{ input|indent(1000000000, true) }}", SIZE),
    "ljust_method": ("{{ input.ljust(1000000000) }}", SIZE),
    "zfill_method": ("{{ input.zfill(1000000000) }}", SIZE),
    "expandtabs": ("{{ ('\t' * 1000).expandtabs(100000000) }}", SIZE),
    "percent_width": ("{{ '%01000000000d' % 1 }}", SIZE),
    "format_filter_width": ("{{ '%1000000000s'|format('x') }}", SIZE),
    "str_format_width": ("{{ '{:>1000000000}'.format(input) }}", SIZE),
    "percent_star_width": ("{{ '%*d' % (1000000000, 1) }}", SIZE),
    "format_nested_width": ("{{ '{:>{w}}'.format(input, w=1000000000) }}", SIZE),
    "format_map_width": ("{{ '{a:>{w}}'.format_map({'a': 1, 'w': 1000000000}) }}", SIZE),
    "replace_method": ("{{ input.replace('', 'y' * 1000000) }}", SIZE),
    "replace_filter": ("{{ input|replace('', 'y' * 1000000) }}", SIZE),
    "join_growth": ("{{ ('y' * 1000000).join(['a'] * 10) }}", SIZE),
    "streamed_output": ("{% for i in range(100000) %}{{ 'z' * 100 }}{% endfor %}", SIZE),
    "int_power": ("{{ 2 ** 100000000 }}", "integer limit of 4096 bits"),
    "int_product": (
        "{% set ns = namespace(n=3) %}{% for i in range(100) %}{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n }}",
        "integer limit of 4096 bits",
    ),
    "nested_loops": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        f"time limit of {LIMITS.seconds:g}s per render",
    ),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_bombs_are_refused_naming_template_and_limit(name):
    src, limit = BOMBS[name]
    t = Template(id=f"evil_{name}", task_type="generate", prompt=src)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    with pytest.raises(TemplateLimitError) as e:
        render_prompt(t, ITEM)
    took = time.monotonic() - t0
    assert str(e.value) == f"template 'evil_{name}' exceeds the {limit}"
    assert took < LIMITS.seconds + 1.5, took
    # peak memory grew by less than 200 MB (the 1 GB string was never built)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0 < 200_000


def test_header_and_continuations_are_limited_too():
    t = Template(
        id="evil_header",
        task_type="multiple_choice",
        prompt="{{ input }}",
        header="{{ 'h' * 10**9 }}",
        continuation="{{ choice * 10**9 }}",
    )
    with pytest.raises(TemplateLimitError, match="template 'evil_header' exceeds the output limit"):
        build_context(t, ITEM)
    with pytest.raises(TemplateLimitError, match="template 'evil_header' exceeds the output limit"):
        render_continuations(t, ITEM["choices"])


def test_lipsum_is_not_available():
    t = Template(id="lip", task_type="generate", prompt="{{ lipsum(n=1000000000) }}")
    with pytest.raises(Exception) as e:
        render_prompt(t, ITEM)
    assert "lipsum" in str(e.value)


def test_ordinary_templates_render_unchanged():
    """The project's own templates and the constructs they use (loops over choices, ~, filters) still render."""
    reg = Registry.load()
    for t in reg.templates.values():
        if t.task_type == "multiple_choice":
            prefix, ctx = build_context(t, ITEM)
            assert "What is 2 + 2?" in ctx
    t = Template(
        id="ok",
        task_type="generate",
        prompt="{{ input ~ '!' }}|{% for c in choices %}{{ labels[loop.index0] }}. {{ c|center(5) }};"
        "{% endfor %}|{{ '%03d' % 7 }}|{{ input.ljust(20)|length }}|{{ 'ab' * 3 }}|{{ 2 ** 10 }}",
    )
    assert render_prompt(t, ITEM) == ("What is 2 + 2?!|A.   3  ;B.   4  ;C.   5  ;D.   22 ;|007|20|ababab|1024")
