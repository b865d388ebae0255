#!/usr/bin/env bash
# The participant's install: `pip install .` with no extras must give a working
# `unlearn score` and `unlearn dry-run` without Celery, Redis, psycopg, SQLAlchemy or FastAPI.
#
#   scripts/check_bare_install.sh [VENV_DIR]     (default: a temporary folder, removed after)
# Run by .ci/run beside the test suite. Measured here (2 cores): about 1.6 min, most of it
# pip copying torch. It installs from a copy of the tree, so that setuptools' in-tree build
# folder never appears in the checkout the tests are reading.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-$(mktemp -d)/bare-venv}
work=$(mktemp -d)
trap 'rm -rf "$work" "$venv"' EXIT

mkdir "$work/src"
tar --exclude=./.venv --exclude=./.git --exclude=./node_modules --exclude=./runs \
    --exclude=./build -cf - . | tar -xf - -C "$work/src"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "$work/src" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }

for module in celery kombu redis psycopg sqlalchemy fastapi alembic; do
    if "$venv/bin/python" -c "import $module" 2>/dev/null; then
        echo "check_bare_install: $module is installed without extras" >&2
        exit 1
    fi
done

"$venv/bin/python" - "$work" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(0)
np.save(f"{sys.argv[1]}/u.npy", rng.normal(size=(16, 20)))
np.save(f"{sys.argv[1]}/r.npy", rng.normal(size=(16, 20)))
PY
(cd "$work" && "$venv/bin/unlearn" score --unlearned u.npy --retrained r.npy --json >score.json)
"$venv/bin/unlearn" dry-run starting_kit/examples/finetune.py --replicas 16 --epochs 2 \
    --cache-dir "$work/cache" --out "$work/out" >"$work/dry-run.log" 2>&1 \
    || { tail -n 30 "$work/dry-run.log" >&2; exit 1; }
test -s "$work/out/report.json"
echo "check_bare_install: unlearn score and unlearn dry-run work without the server's packages"
