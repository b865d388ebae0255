#!/usr/bin/env bash
# Start redis-server on loopback for the tests and the single-machine setup, idempotently.
#
#   scripts/start_redis.sh            port 6379 (REDIS_PORT to change), data in /var/lib/redis
# It starts a server only when none answers on the port, with append-only persistence so a
# restart keeps queued messages. Prints the broker URL on success.
set -euo pipefail

REDIS_PORT="${REDIS_PORT:-6379}"
REDIS_DIR="${REDIS_DIR:-/var/lib/redis}"

if ! command -v redis-server >/dev/null; then
    echo "redis-server is missing: apt-get install redis-server" >&2
    exit 1
fi
if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
    mkdir -p "$REDIS_DIR"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" \
        --appendonly yes --daemonize yes --logfile "$REDIS_DIR/redis-$REDIS_PORT.log"
    for _ in $(seq 1 50); do
        redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
        sleep 0.1
    done
fi
redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping | grep -q PONG || { echo "Redis did not come up" >&2; exit 1; }
echo "redis://127.0.0.1:${REDIS_PORT}/0"
