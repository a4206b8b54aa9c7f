"""Size limits of issue 13: no file in ``benchtrust/`` over 500 lines and no function outside ``tests/`` over 80
lines, unless the function's docstring (or its module's) gives the reason on a line starting with
``Long because:``. The walk is ast over the checkout, so nested functions and methods count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CODE_FOLDERS = ("benchtrust", "assets", "pipelines", "sensors", "data_contracts", "benchmarks")
MAX_FILE_LINES = 500  # for benchtrust/ only
MAX_FUNCTION_LINES = 80
REASON = "Long because:"


def _has_reason(node: ast.AST) -> bool:
    doc = (
        ast.get_docstring(node, clean=True)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        else None
    )
    return bool(doc) and any(line.strip().startswith(REASON) for line in doc.splitlines())


def size_violations(root: Path, folders: tuple[str, ...] = CODE_FOLDERS, file_folder: str = "benchtrust") -> list[str]:
    """Every file of ``root/file_folder`` over MAX_FILE_LINES and every function under ``root/folders`` over
    MAX_FUNCTION_LINES, as ``path:line name (n lines)``, leaving out those whose docstring gives a reason."""
    out: list[str] = []
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            if ".venv" in path.parts or "__pycache__" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text, filename=str(path))
            rel = path.relative_to(root)
            n_lines = len(text.splitlines())
            if folder == file_folder and n_lines > MAX_FILE_LINES and not _has_reason(tree):
                out.append(f"{rel}: file has {n_lines} lines (> {MAX_FILE_LINES})")
            module_excused = _has_reason(tree)
            for node in ast.walk(tree):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.end_lineno is None:
                    continue
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES and not (_has_reason(node) or module_excused):
                    out.append(f"{rel}:{node.lineno} {node.name} has {length} lines (> {MAX_FUNCTION_LINES})")
    return out


def test_no_file_or_function_over_the_limits() -> None:
    found = size_violations(ROOT)
    assert not found, (
        "break these into named steps, or say why not on a line starting with "
        f"{REASON!r} in the docstring:\n" + "\n".join(found)
    )


def _write_function(path: Path, n_body: int, doc: str | None = None) -> None:
    lines = ["def long_one(x):"]
    if doc is not None:
        lines.append(f'    """{doc}"""')
    lines += [f"    x = x + {i}" for i in range(n_body)] + ["    return x", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


@pytest.mark.parametrize("folder", ["benchtrust", "assets"])
def test_checker_flags_a_long_function_and_accepts_a_short_one(tmp_path: Path, folder: str) -> None:
    (tmp_path / folder).mkdir()
    _write_function(tmp_path / folder / "long.py", 85)  # 87 lines with def and return
    _write_function(tmp_path / folder / "short.py", 77)  # 79 lines
    found = size_violations(tmp_path, folders=(folder,))
    assert found == [f"{folder}/long.py:1 long_one has 87 lines (> 80)"]


def test_checker_counts_nested_functions_and_methods(tmp_path: Path) -> None:
    (tmp_path / "benchtrust").mkdir()
    body = "\n".join(f"            y = {i}" for i in range(85))
    (tmp_path / "benchtrust" / "m.py").write_text(
        f"class C:\n    def method(self):\n        def inner():\n{body}\n        return inner\n", encoding="utf-8"
    )
    found = size_violations(tmp_path, folders=("benchtrust",))
    assert [f.split(" ")[1] for f in found] == ["method", "inner"]


def test_a_stated_reason_excuses_a_function_but_a_bare_docstring_does_not(tmp_path: Path) -> None:
    (tmp_path / "benchtrust").mkdir()
    _write_function(tmp_path / "benchtrust" / "why.py", 90, doc="Sum.\n\n    Long because: one table of cases.\n    ")
    _write_function(tmp_path / "benchtrust" / "bare.py", 90, doc="Sum, with a docstring that gives no reason.")
    found = size_violations(tmp_path, folders=("benchtrust",))
    assert len(found) == 1 and found[0].startswith("benchtrust/bare.py:1 long_one")


def test_checker_flags_a_long_file_only_in_the_library(tmp_path: Path) -> None:
    for folder in ("benchtrust", "benchmarks"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "big.py").write_text("\n".join(f"x{i} = {i}" for i in range(501)) + "\n")
    found = size_violations(tmp_path, folders=("benchtrust", "benchmarks"))
    assert found == ["benchtrust/big.py: file has 501 lines (> 500)"]
