"""The data folder's registry that `benchtrust eval` writes (benchtrust.adhoc, issue 14 item 1): derived names,
reuse, refusals, merging with config/ — and config/ never written. Real files, no run (the run is
tests/integration/test_cli_adhoc.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchtrust.adhoc import Selection, model_source, readable_name, register_adhoc
from benchtrust.registry import Registry, RegistryError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    config, home = tmp_path / "config", tmp_path / "home"
    shutil.copytree(REPO / "config", config)
    home.mkdir()
    return config, home


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_names_are_derived_readably_and_stably(tmp_path: Path):
    assert readable_name("SmolLM2-135M-Instruct.Q4_1") == "smollm2-135m-instruct.q4-1"
    gguf = tmp_path / "Tiny Model.Q8_0.gguf"
    gguf.write_bytes(b"GGUF")
    assert model_source(f"gguf:{gguf}") == ("tiny-model.q8-0", {"type": "gguf", "path": str(gguf.resolve())})
    assert model_source("hf:HuggingFaceTB/SmolLM2-360M-Instruct") == (
        "smollm2-360m-instruct",
        {"type": "hf", "id": "HuggingFaceTB/SmolLM2-360M-Instruct"},
    )
    assert model_source(f"hf:{tmp_path}")[1] == {"type": "local", "path": str(tmp_path.resolve())}
    assert model_source("openai:http://127.0.0.1:8000/v1#org/Served-Model") == (
        "served-model",
        {"type": "openai", "base_url": "http://127.0.0.1:8000/v1", "model": "org/Served-Model"},
    )
    for bad in ("x:y", "gguf:/no/such.gguf", "openai:http://h:1", "openai:ftp://h#m", "hf:./missing/dir"):
        with pytest.raises(RegistryError):
            model_source(bad)


def test_register_writes_the_data_folder_only_and_reuses_entries(dirs: tuple[Path, Path], tmp_path: Path):
    config, home = dirs
    before = _snapshot(config)
    quiz = tmp_path / "My Quiz.jsonl"
    quiz.write_text(json.dumps({"question": "2+2?", "choices": ["3", "4"], "answer": 1}) + "\n")
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    e = register_adhoc(config, home, f"gguf:{gguf}", str(quiz), Selection(limit=5, seed=2, fewshot=1))
    assert (e.model, e.benchmark, e.profile) == ("m", "my-quiz", "eval-m-my-quiz-n5-seed2-k1")
    assert _snapshot(config) == before  # config/ is the user's: never written
    reg = Registry(config, home / "registry")
    assert reg.origin("models", "m") == home / "registry" / "models.yaml"
    assert reg.origin("models", "smollm2-135m-instruct") == config / "models.yaml"
    grid = reg.grid("my-quiz", e.profile)
    assert [t.id for t in grid.templates] == ["mmlu_harness"]
    assert grid.subset == {"n": 5, "seed": 2} and grid.fewshot == {"n": 1, "seeds": [2]}
    assert reg.source("my-quiz").path == str(quiz.resolve())  # type: ignore[attr-defined]
    # the same call again changes nothing; another selection adds a profile and reuses model and benchmark
    assert register_adhoc(config, home, f"gguf:{gguf}", str(quiz), Selection(limit=5, seed=2, fewshot=1)).written == ()
    again = register_adhoc(config, home, f"gguf:{gguf}", str(quiz), Selection(per_subject=2))
    assert (again.model, again.benchmark, again.profile) == ("m", "my-quiz", "eval-m-my-quiz-per2")
    assert again.written == (home / "registry" / "profiles.yaml",)
    # a name taken by another source is refused, naming the file that declares it
    other = tmp_path / "sub" / "m.gguf"
    other.parent.mkdir()
    other.write_bytes(b"GGUF2")
    with pytest.raises(RegistryError, match=r"'m' is already registered in .*models.yaml.*--name"):
        register_adhoc(config, home, f"gguf:{other}", "mmlu", Selection(limit=1))
    assert register_adhoc(config, home, f"gguf:{other}", "mmlu", Selection(limit=1), name="m2").model == "m2"
    with pytest.raises(RegistryError, match="unknown; known"):
        register_adhoc(config, home, f"gguf:{gguf}", "mmlu", Selection(template="nosuch"))
    assert _snapshot(config) == before


def test_a_name_in_both_registries_is_an_error_naming_both_files(dirs: tuple[Path, Path]):
    config, home = dirs
    (home / "registry").mkdir()
    (home / "registry" / "models.yaml").write_text("models:\n  smollm2-135m-instruct: {source: {type: hf, id: a/b}}\n")
    with pytest.raises(RegistryError, match=r"registry/models.yaml: models.smollm2-135m-instruct: .*config/models"):
        _ = Registry(config, home / "registry").models
    assert "smollm2-135m-instruct" in Registry(config, None).models  # data_registry=False reads config/ only


def test_cli_usage_errors_are_one_line_with_exit_2(dirs: tuple[Path, Path]):
    config, home = dirs
    env = dict(os.environ, BENCHTRUST_HOME=str(home), BENCHTRUST_CONFIG=str(config))
    cases = [
        (["eval", "--model", "gguf:/no/such.gguf", "--benchmark", "mmlu"], "/no/such.gguf"),
        (["eval", "--model", "nope", "--benchmark", "mmlu"], "hf:<id or folder>"),
        (["eval", "--model", "hf:a/b", "--benchmark", "no_such.jsonl"], "no_such.jsonl"),
        (["eval", "-m", "hf:a/b", "-b", "mmlu", "--limit", "2", "--per-subject", "1"], "not both"),
        (["compare", "a", "b"], "no warehouse"),
    ]
    for args, needle in cases:
        p = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert p.returncode == 2, (args, p.stderr)
        assert p.stderr.strip().count("\n") == 0 and needle in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert not (home / "registry" / "models.yaml").exists()  # a refused eval registers nothing
    listing = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "benchmarks"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listing.returncode == 0 and listing.stdout.splitlines()[0].split() == [
        "benchmark",
        "source",
        "where",
        "templates",
        "registry",
    ]
