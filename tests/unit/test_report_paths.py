"""Report folders for any model name: the Python rule and the dbt macro (marts.report_versions.report_path) agree,
and no name leaves the reports folder."""

from __future__ import annotations

from pathlib import Path

import duckdb
import jinja2
import pytest

from benchtrust.report.render import path_part, report_folder

MACRO = Path(__file__).resolve().parents[2] / "dbt_project" / "macros" / "path_part.sql"
NAMES = [
    "smollm2-135m-instruct",
    "openai/gpt-4o-2024-05-13",
    "google/text-unicorn@001",
    "a b  c",
    "..",
    ".",
    "../../etc",
    "x/../y",
    "ünïcode/модель",
    "_lead",
    "v1.2_final",
    "",
    "org/model",
    "org:model",
    "org__model",
    "a b",
    "a_b",
    "Model",
    "model",
    "MODEL",
    "x" * 100,
    "x" * 101,
    "trail_",
    "a~b",
    "-dash",
    "'; drop table x; --",
    "name\x00nul",
    "a/" * 60,
    "😀 emoji",
    "tab\tname",
    "v1.0",
]


def _sql_path_part(names: list[str]) -> list[str]:
    expr = jinja2.Environment().from_string(MACRO.read_text() + "{{ path_part('name') }}").render()
    con = duckdb.connect()
    rows = con.execute(
        f"select {expr} from unnest(?::varchar[]) with ordinality as t(name, i) order by i", [names]
    ).fetchall()
    return [r[0] for r in rows]


def test_python_and_sql_agree():
    assert [path_part(n) for n in NAMES] == _sql_path_part(NAMES)


def test_safe_names_are_kept_and_others_slugged():
    import hashlib

    h = lambda s: hashlib.sha256(s.encode()).hexdigest()[:12]  # noqa: E731
    assert path_part("smollm2-135m-instruct") == "smollm2-135m-instruct"
    assert path_part("openai/gpt-4o-2024-05-13") == f"openai_gpt-4o-2024-05-13~{h('openai/gpt-4o-2024-05-13')}"
    assert path_part("google/text-unicorn@001") == f"google_text-unicorn_001~{h('google/text-unicorn@001')}"
    assert path_part("..") == f"x~{h('..')}"


def test_injective_on_colliding_pairs_and_case():
    """Distinct names never share a folder: not the pairs that collided before, not case-only differences (even
    on a case-insensitive file system), and '<a>__<b>' file names split back uniquely."""
    parts = [path_part(n) for n in NAMES]
    assert len(set(parts)) == len(set(NAMES))
    assert len({p.lower() for p in parts}) == len(set(NAMES))
    for p in parts:
        assert "__" not in p and not p.startswith(("_", ".", "-")) and not p.endswith("_") and len(p) <= 100
        assert p == path_part(p) or "~" in p  # kept names are fixed points


@pytest.mark.parametrize("name", NAMES)
def test_no_name_leaves_the_reports_folder(tmp_path, name):
    d = report_folder(tmp_path, name, name, "abc123")
    assert d.resolve().is_relative_to(tmp_path.resolve())
    assert len(d.relative_to(tmp_path).parts) == 3
    assert all(p not in ("", ".", "..") for p in d.relative_to(tmp_path).parts)
