"""Real servers for tests, started from Debian's packages (scripts/setup.sh installs them) in a temporary folder on
a free loopback port, and stopped afterwards. Nothing needs to run beforehand."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.skip(f"PostgreSQL's {name} is not installed (scripts/setup.sh installs Debian's postgresql package)")
    return found[-1]


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root; run them as Debian's `postgres` user when we are root."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@dataclass
class Postgres:
    host: str
    port: int
    user: str
    db: str

    def env(self) -> dict[str, str]:
        return {
            "BENCHTRUST_PG_HOST": self.host,
            "BENCHTRUST_PG_PORT": str(self.port),
            "BENCHTRUST_PG_USER": self.user,
            "BENCHTRUST_PG_PASSWORD": "",
            "BENCHTRUST_PG_DB": self.db,
        }


@contextmanager
def postgres(tmp: Path) -> Iterator[Postgres]:
    initdb, pg_ctl, createdb = _pg_bin("initdb"), _pg_bin("pg_ctl"), _pg_bin("createdb")
    # its own folder: pytest's temporary folders are private to root, and the server runs as `postgres`
    root = Path(tempfile.mkdtemp(prefix="benchtrust-pg-"))
    data, sock = root / "pgdata", root / "pgsock"
    data.mkdir()
    sock.mkdir()
    tmp.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        for p in (root, data, sock):
            shutil.chown(p, "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    subprocess.run(
        _as_postgres(
            [
                pg_ctl,
                "-D",
                str(data),
                "-l",
                str(root / "pg.log"),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        subprocess.run(
            _as_postgres([createdb, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "dagster"]),
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield Postgres("127.0.0.1", port, "postgres", "dagster")
    finally:
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]), capture_output=True, timeout=60
        )
        if (root / "pg.log").exists():
            shutil.copy(root / "pg.log", tmp / "pg.log")
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def redis(tmp: Path) -> Iterator[str]:
    exe = shutil.which("redis-server")
    if not exe:
        pytest.skip("redis-server is not installed (scripts/setup.sh installs Debian's redis-server package)")
    port = free_port()
    (tmp / "redis").mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(tmp / "redis"),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ],
        stdout=open(tmp / "redis.log", "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        import socket

        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError(
                        f"redis-server did not start: {(tmp / 'redis.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(0.2)
        yield f"redis://127.0.0.1:{port}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
