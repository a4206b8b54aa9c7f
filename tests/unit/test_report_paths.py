"""Report folders for any model name: the Python rule and the dbt macro (marts.report_versions.report_path) agree,
and no name leaves the reports folder."""

from __future__ import annotations

from pathlib import Path

import duckdb
import jinja2
import pytest

from benchtrust.report.render import path_part, report_folder

MACRO = Path(__file__).resolve().parents[2] / "dbt_project" / "macros" / "path_part.sql"
NAMES = ["smollm2-135m-instruct", "openai/gpt-4o-2024-05-13", "google/text-unicorn@001", "a b  c", "..", ".",
         "../../etc", "x/../y", "ünïcode/модель", "_lead", "v1.2_final", ""]


def _sql_path_part(names: list[str]) -> list[str]:
    expr = jinja2.Environment().from_string(MACRO.read_text() + "{{ path_part('name') }}").render()
    con = duckdb.connect()
    rows = con.execute(f"select {expr} from unnest(?::varchar[]) with ordinality as t(name, i) order by i",
                       [names]).fetchall()
    return [r[0] for r in rows]


def test_python_and_sql_agree():
    assert [path_part(n) for n in NAMES] == _sql_path_part(NAMES)


def test_safe_names_are_kept_and_others_slugged():
    assert path_part("smollm2-135m-instruct") == "smollm2-135m-instruct"
    assert path_part("openai/gpt-4o-2024-05-13") == "openai__gpt-4o-2024-05-13"
    assert path_part("google/text-unicorn@001") == "google__text-unicorn__001"


@pytest.mark.parametrize("name", NAMES)
def test_no_name_leaves_the_reports_folder(tmp_path, name):
    d = report_folder(tmp_path, name, name, "abc123")
    assert d.resolve().is_relative_to(tmp_path.resolve())
    assert len(d.relative_to(tmp_path).parts) == 3
    assert all(p not in ("", ".", "..") for p in d.relative_to(tmp_path).parts)
