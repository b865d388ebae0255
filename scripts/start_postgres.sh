#!/usr/bin/env bash
# Start the local PostgreSQL 15 cluster and create the test role and database, idempotently.
#
# Used by .ci/run and by developers before `pytest -m postgres`. Safe to run many times:
# it starts the cluster only if it is down, and creates the role/database only if missing.
# Result: postgresql+psycopg://unlearn:unlearn@127.0.0.1:5432/unlearn_test is reachable
# (override with PG_USER, PG_PASSWORD, PG_DB).
set -euo pipefail

PG_VERSION="${PG_VERSION:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"
PG_USER="${PG_USER:-unlearn}"
PG_PASSWORD="${PG_PASSWORD:-unlearn}"
PG_DB="${PG_DB:-unlearn_test}"

if ! pg_lsclusters --no-header | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {print $4}' | grep -q online; then
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start
fi

# Wait until the server accepts connections (at most ~10 s).
for _ in $(seq 1 50); do
    if pg_isready -h 127.0.0.1 -p 5432 -q; then break; fi
    sleep 0.2
done
pg_isready -h 127.0.0.1 -p 5432 -q || { echo "PostgreSQL did not come up" >&2; exit 1; }

as_postgres() {
    if [ "$(id -un)" = postgres ]; then "$@"; else su postgres -c "$(printf '%q ' "$@")"; fi
}

as_postgres psql -v ON_ERROR_STOP=1 -qtA -d postgres -c \
    "DO \$\$ BEGIN
       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${PG_USER}') THEN
         CREATE ROLE ${PG_USER} LOGIN PASSWORD '${PG_PASSWORD}' CREATEDB;
       END IF;
     END \$\$;"
if ! as_postgres psql -qtA -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '${PG_DB}'" | grep -q 1; then
    as_postgres createdb -O "$PG_USER" "$PG_DB"
fi
echo "postgresql+psycopg://${PG_USER}:${PG_PASSWORD}@127.0.0.1:5432/${PG_DB}"
