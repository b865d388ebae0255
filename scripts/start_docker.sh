#!/usr/bin/env bash
# Start dockerd in the background if it is not running, and wait until `docker info` answers.
#
# Idempotent; installs nothing. It merges into /etc/docker/daemon.json, keeping any other key
# an operator has set:
#   - the daemon hardening that docker-bench-security's daemon checks ask for and the worker
#     host can take: "live-restore" (containers survive a dockerd restart or upgrade),
#     "no-new-privileges" (the default for every container, not only sandboxes), "icc":
#     false (no traffic between containers on the default bridge; compose services use
#     their own network, sandboxes have none). User namespaces ("userns-remap") are not
#     set: see docs/deploy.md for why.
#   - where Debian's gVisor package is installed (/usr/bin/runsc), the Docker runtime
#     "runsc", with --network=none (without it a `--network none` container fails to start
#     under runsc). Workers then run sandboxes under gVisor by default.
# A running daemon reloads runtimes and live-restore on SIGHUP (no restart, no lost
# containers); no-new-privileges and icc apply from its next start.
# Log: /tmp/dockerd.log. Used by scripts/setup.sh --services (and so by .ci/run).
set -euo pipefail

RUNSC=/usr/bin/runsc
DAEMON_JSON=${DAEMON_JSON:-/etc/docker/daemon.json}

runsc_registered() { docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; }

configure_daemon() {
    # Merge our keys into daemon.json; print "changed" when the file was rewritten.
    mkdir -p "$(dirname "$DAEMON_JSON")"
    python3 - "$DAEMON_JSON" "$RUNSC" <<'PY'
import json, os, sys
from pathlib import Path
path, runsc = Path(sys.argv[1]), sys.argv[2]
config = json.loads(path.read_text()) if path.exists() and path.read_text().strip() else {}
before = json.dumps(config, sort_keys=True)
for key, value in {"live-restore": True, "no-new-privileges": True, "icc": False}.items():
    config.setdefault(key, value)  # an operator's own choice stays
if os.access(runsc, os.X_OK):
    config.setdefault("runtimes", {})["runsc"] = {"path": runsc, "runtimeArgs": ["--network=none"]}
if json.dumps(config, sort_keys=True) != before:
    path.write_text(json.dumps(config, indent=2) + "\n")
    print("changed")
PY
}

wait_for_daemon() {
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    echo "start_docker: dockerd did not answer within 30 s; see /tmp/dockerd.log" >&2
    tail -n 20 /tmp/dockerd.log >&2 || true
    return 1
}

changed=$(configure_daemon)

if docker info >/dev/null 2>&1; then
    if [[ -n "$changed" ]] || { [[ -x "$RUNSC" ]] && ! runsc_registered; }; then
        # The daemon reloads `runtimes` and `live-restore` on SIGHUP; no restart needed.
        kill -HUP "$(cat /var/run/docker.pid)" || true
        sleep 1
    fi
    if [[ -n "$changed" ]]; then
        echo "start_docker: $DAEMON_JSON updated; no-new-privileges and icc apply from" \
             "dockerd's next start (live-restore keeps containers running through it)" >&2
    fi
else
    dockerd > /tmp/dockerd.log 2>&1 &
    wait_for_daemon
fi

if [[ -x "$RUNSC" ]] && ! runsc_registered; then
    echo "start_docker: warning: runsc is installed but not registered; see /tmp/dockerd.log" >&2
fi
echo "start_docker: docker $(docker info --format '{{.ServerVersion}}') ready;" \
     "runtimes: $(docker info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}')" \
     "live-restore: $(docker info --format '{{.LiveRestoreEnabled}}')"
