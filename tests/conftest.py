"""Shared fixtures. Every test that writes data gets its own BENCHTRUST_HOME (lake, warehouse, reports,
Dagster instance) under pytest's temp folder; the wheel resource cache (<repo>/.cache) is shared."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXTERNAL = REPO.parent / "shared" / "external-data"
BIN = Path(sys.executable).parent
os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def free_port() -> int:
    """A free TCP port on the loopback interface (servers started by tests listen there only)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    """POST a GraphQL query to a `dagster dev` on the loopback interface."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> Path:
    """A parsed dbt manifest before any Dagster definitions load (dagster issues 22326/19923)."""
    manifest = REPO / "dbt_project" / "target" / "manifest.json"
    from benchtrust.dbt_vars import dbt_vars_args

    # the same vars as every build, so that builds parse partially (scripts/setup.sh does the same)
    subprocess.run(
        ["dbt", "parse", "--profiles-dir", ".", "--quiet", *dbt_vars_args()], cwd=REPO / "dbt_project", check=True
    )
    assert manifest.exists()
    return manifest


@pytest.fixture()
def bt_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "bt_home"
    monkeypatch.setenv("BENCHTRUST_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    (home / "dagster_home").mkdir(parents=True)
    return home


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """One real `benchtrust run --profile smoke` (items → SmolLM2 predictions → dbt build → reports) on a
    temporary home, shared by the tests that inspect its outputs."""
    home = tmp_path_factory.mktemp("smoke") / "bt_home"
    saved = {k: os.environ.get(k) for k in ("BENCHTRUST_HOME", "DAGSTER_HOME", "BENCHTRUST_PROFILE")}
    os.environ["BENCHTRUST_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    (home / "dagster_home").mkdir(parents=True)
    try:
        from pipelines.run import run_profile

        summary = run_profile("smoke", log=lambda m: None)
        yield home, summary
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def external(name: str) -> Path:
    p = EXTERNAL / name
    if not p.exists():
        pytest.skip(f"external data {p} is absent (it lives in ../shared/external-data beside the repo)")
    return p
