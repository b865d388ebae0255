#!/usr/bin/env bash
# Start dockerd in the background if it is not running, and wait until `docker info` answers.
#
# Idempotent; installs nothing. Where Debian's gVisor package is installed (/usr/bin/runsc) it
# is registered as the Docker runtime "runsc" in /etc/docker/daemon.json, with
# --network=none (without it a `--network none` container fails to start under runsc), and a
# running daemon is restarted once to pick the runtime up.
# Log: /tmp/dockerd.log. Used by scripts/setup.sh --services (and so by .ci/run).
set -euo pipefail

RUNSC=/usr/bin/runsc
DAEMON_JSON=/etc/docker/daemon.json

runsc_registered() { docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; }

configure_runsc() {
    # Merge the runtime into daemon.json, keeping any other keys an operator has set.
    mkdir -p "$(dirname "$DAEMON_JSON")"
    python3 - "$DAEMON_JSON" "$RUNSC" <<'PY'
import json, sys
from pathlib import Path
path, runsc = Path(sys.argv[1]), sys.argv[2]
config = json.loads(path.read_text()) if path.exists() and path.read_text().strip() else {}
wanted = {"path": runsc, "runtimeArgs": ["--network=none"]}
if config.get("runtimes", {}).get("runsc") != wanted:
    config.setdefault("runtimes", {})["runsc"] = wanted
    path.write_text(json.dumps(config, indent=2) + "\n")
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

[[ -x "$RUNSC" ]] && configure_runsc

if docker info >/dev/null 2>&1; then
    if [[ -x "$RUNSC" ]] && ! runsc_registered; then
        # The daemon reloads `runtimes` on SIGHUP; no restart (and no lost containers) needed.
        kill -HUP "$(cat /var/run/docker.pid)" || true
        sleep 1
    fi
else
    dockerd > /tmp/dockerd.log 2>&1 &
    wait_for_daemon
fi

if [[ -x "$RUNSC" ]] && ! runsc_registered; then
    echo "start_docker: warning: runsc is installed but not registered; see /tmp/dockerd.log" >&2
fi
echo "start_docker: docker $(docker info --format '{{.ServerVersion}}') ready;" \
     "runtimes: $(docker info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}')"
