#!/usr/bin/env bash
# Install the harness from nothing on a fresh Debian machine, as root.
#
#   scripts/setup.sh            the harness alone in .venv (`pip install -e .`, no extras):
#                               what `unlearn dry-run` and `unlearn score` need and no more
#   scripts/setup.sh --services also the test extras (server, worker, pytest) and the system
#                               packages and services the full test suite needs: dockerd
#                               (+ gVisor runsc), redis-server, PostgreSQL 15, chromium +
#                               chromedriver (+ axe-core from npm, for the pages' accessibility
#                               check), and the offline sandbox image.
# Idempotent: rerunning skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

with_services=0
[[ "${1:-}" == "--services" ]] && with_services=1

if (( with_services )); then
    export DEBIAN_FRONTEND=noninteractive
    packages=(docker.io docker-compose redis-server postgresql debootstrap chromium chromium-driver runsc)
    missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    # npm for axe-core; machines that already have Node.js keep theirs (Debian's would clash).
    command -v npm >/dev/null || missing+=(npm)
    if (( ${#missing[@]} )); then
        echo "setup: apt-get install ${missing[*]}"
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi

if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
# A first dry-run needs none of the server's packages: the extras (FastAPI, Celery, psycopg,
# SQLAlchemy, pytest, selenium, jupyter) doubled the install's time, so they come with
# --services, the mode that runs the tests.
target=.
(( with_services )) && target='.[test]'
echo "setup: pip install -e $target (torch comes from this machine's disk)"
.venv/bin/pip install -q --disable-pip-version-check -e "$target" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }

if (( with_services )) && [[ ! -f node_modules/axe-core/axe.min.js ]]; then
    echo "setup: npm install axe-core (the browser tests' accessibility check)"
    npm install --no-save --no-package-lock --silent axe-core
fi

if (( with_services )); then
    for script in start_docker start_redis start_postgres build_sandbox_image; do
        if [[ -x scripts/$script.sh ]]; then
            echo "setup: scripts/$script.sh"
            "scripts/$script.sh"
        fi
    done
fi
echo "setup: done"
