"""Per-run pids + memory cgroups (v1 or v2) of the sandbox: created and removed by the host, joined by the
launcher before it starts the program."""

from __future__ import annotations

import time
from pathlib import Path

from benchtrust.sandbox._procs import kill_pid


class Cgroups:
    """Per-run pids + memory cgroups (v1 or v2), created by the host, joined by the launcher."""

    ROOT = Path("/sys/fs/cgroup")

    def __init__(self, name: str, max_tasks: int, memory_bytes: int):
        self.dirs: list[Path] = []
        self.kind = ""
        self.memory_dir: Path | None = None
        self.layers: list[str] = []
        root = self.ROOT
        try:
            if (root / "pids" / "cgroup.procs").exists() or (root / "memory" / "cgroup.procs").exists():
                self.kind = "v1"
                if (root / "pids" / "cgroup.procs").exists():
                    pids = self._mk(root / "pids" / "benchtrust-sandbox" / name)
                    (pids / "pids.max").write_text(str(max_tasks))
                    self.layers.append("cgroup-pids")
                if (root / "memory" / "cgroup.procs").exists():
                    mem = self._mk(root / "memory" / "benchtrust-sandbox" / name)
                    (mem / "memory.limit_in_bytes").write_text(str(memory_bytes))
                    if (mem / "memory.memsw.limit_in_bytes").exists():
                        (mem / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
                    self.memory_dir = mem
                    self.layers.append("cgroup-memory")
            elif (root / "cgroup.controllers").exists():
                self.kind = "v2"
                parent = root / "benchtrust-sandbox"
                wanted = [c for c in ("pids", "memory") if c in (root / "cgroup.controllers").read_text().split()]
                for ctl in wanted:
                    try:
                        (root / "cgroup.subtree_control").write_text(f"+{ctl}")
                    except OSError:
                        pass
                parent.mkdir(exist_ok=True)
                for ctl in wanted:
                    try:
                        (parent / "cgroup.subtree_control").write_text(f"+{ctl}")
                    except OSError:
                        pass
                d = self._mk(parent / name)
                if (d / "pids.max").exists():
                    (d / "pids.max").write_text(str(max_tasks))
                    self.layers.append("cgroup-pids")
                if (d / "memory.max").exists():
                    (d / "memory.max").write_text(str(memory_bytes))
                    if (d / "memory.swap.max").exists():
                        (d / "memory.swap.max").write_text("0")
                    self.memory_dir = d
                    self.layers.append("cgroup-memory")
        except OSError:
            self.remove()
            self.dirs, self.layers, self.memory_dir = [], [], None

    def _mk(self, d: Path) -> Path:
        d.mkdir(parents=True, exist_ok=True)
        self.dirs.append(d)
        return d

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def oom_kills(self) -> int:
        if self.memory_dir is None:
            return 0
        for fname in ("memory.oom_control", "memory.events"):
            p = self.memory_dir / fname
            try:
                for line in p.read_text().splitlines():
                    k, _, v = line.partition(" ")
                    if k == "oom_kill":
                        return int(v)
            except (OSError, ValueError):
                continue
        return 0

    def pids(self) -> set[int]:
        out: set[int] = set()
        for d in self.dirs:
            try:
                out.update(int(x) for x in (d / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return out

    def kill_all(self) -> None:
        for d in self.dirs:
            if (d / "cgroup.kill").exists():
                try:
                    (d / "cgroup.kill").write_text("1")
                except OSError:
                    pass
        end = time.monotonic() + 10.0
        while time.monotonic() < end:
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                kill_pid(pid)
            time.sleep(0.01)

    def remove(self) -> None:
        for d in reversed(self.dirs):
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    self.kill_all()
                    time.sleep(0.01)
