#!/usr/bin/env bash
# Build the sandbox image offline (no registry reachable) and print "TAG IMAGE_ID".
#
#   scripts/build_sandbox_image.sh            build if needed; tags unlearn-sandbox:<hash>
#                                             and unlearn-sandbox:latest
# Environment: UNLEARN_SANDBOX_CACHE (default /var/cache/unlearn-sandbox) keeps the
# debootstrap root and the downloaded wheels between builds; PYTHON (default .venv/bin/python,
# else python3) runs `pip download`, which takes torch from this machine's disk.
#
# Three cached layers, each rebuilt only when its inputs change:
#   1. unlearn-sandbox-base:bookworm  debootstrap --variant=minbase bookworm + python3-venv,
#                                     `docker import`ed (about 1 min)
#   2. unlearn-sandbox-deps:<hash>    /opt/venv with docker/requirements-sandbox.txt installed
#                                     from host-downloaded wheels bind-mounted read-only, then
#                                     `docker commit` (about 2 min; hash = the pins)
#   3. unlearn-sandbox:<hash>         docker/sandbox.Dockerfile FROM layer 2 with PIP_ARGS=
#                                     --no-index: adds the runner code (seconds; hash = the
#                                     staged build context, so any runner change rebuilds)
# Measured here (2-core CPU): about 4 min from nothing, under 1 s when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${UNLEARN_SANDBOX_CACHE:-/var/cache/unlearn-sandbox}
PYTHON=${PYTHON:-$( [[ -x .venv/bin/python ]] && echo .venv/bin/python || echo python3 )}
BASE=unlearn-sandbox-base:bookworm
REQUIREMENTS=docker/requirements-sandbox.txt
log() { echo "build_sandbox_image: $*" >&2; }
has_image() { docker image inspect "$1" >/dev/null 2>&1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
scripts/stage_sandbox_context.sh "$ctx"
context_hash=$( (cd "$ctx" && find . -type f | LC_ALL=C sort | xargs sha256sum) \
                | sha256sum | cut -c1-16)
deps_hash=$(sha256sum "$REQUIREMENTS" | cut -c1-16)
TAG=unlearn-sandbox:$context_hash
DEPS=unlearn-sandbox-deps:$deps_hash

if ! has_image "$TAG"; then
    mkdir -p "$CACHE"
    if ! has_image "$BASE"; then
        if [[ ! -f "$CACHE/rootfs/.complete" ]]; then
            log "debootstrap bookworm into $CACHE/rootfs"
            rm -rf "$CACHE/rootfs"
            debootstrap --variant=minbase --include=python3,python3-venv bookworm \
                "$CACHE/rootfs" >"$CACHE/debootstrap.log" 2>&1 \
                || { tail -n 20 "$CACHE/debootstrap.log" >&2; exit 1; }
            touch "$CACHE/rootfs/.complete"
        fi
        log "docker import $BASE"
        tar -C "$CACHE/rootfs" --exclude=./.complete -c . | docker import - "$BASE" >/dev/null
    fi
    if ! has_image "$DEPS"; then
        wheels="$CACHE/wheels-$deps_hash"
        if [[ ! -f "$wheels/.complete" ]]; then
            log "pip download the pinned wheels into $wheels"
            "$PYTHON" -m pip download -q --disable-pip-version-check --only-binary=:all: \
                -d "$wheels" -r "$REQUIREMENTS" 2>"$CACHE/pip-download.log" \
                || { tail -n 20 "$CACHE/pip-download.log" >&2; exit 1; }
            touch "$wheels/.complete"
        fi
        log "install the wheels into $DEPS"
        builder="unlearn-sandbox-deps-build-$$"
        docker rm -f "$builder" >/dev/null 2>&1 || true
        docker run --name "$builder" --network none \
            -v "$(realpath "$wheels")":/wheels:ro -v "$(realpath "$REQUIREMENTS")":/requirements.txt:ro \
            "$BASE" sh -euc 'python3 -m venv /opt/venv
                /opt/venv/bin/pip install -q --no-cache-dir --disable-pip-version-check \
                    --no-index --find-links /wheels -r /requirements.txt' >&2
        docker commit "$builder" "$DEPS" >/dev/null
        docker rm "$builder" >/dev/null
    fi
    log "docker build $TAG FROM $DEPS"
    DOCKER_BUILDKIT=0 docker build -q -f "$ctx/sandbox.Dockerfile" \
        --build-arg BASE_IMAGE="$DEPS" --build-arg PIP_ARGS=--no-index \
        --label unlearn.sandbox.context="$context_hash" -t "$TAG" "$ctx" >/dev/null
fi
docker tag "$TAG" unlearn-sandbox:latest
echo "$TAG $(docker image inspect --format '{{.Id}}' "$TAG")"
