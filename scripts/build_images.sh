#!/usr/bin/env bash
# Build the deployment's images offline (no registry reachable) for docker-compose.yml.
#
#   scripts/build_images.sh        builds unlearn-api, unlearn-worker, unlearn-redis:offline,
#                                  unlearn-postgres:offline (and the sandbox image), then prints
#                                  the variables to give `docker compose` (also written to
#                                  .env.offline, or $UNLEARN_ENV_FILE:
#                                  `docker compose --env-file .env.offline up`)
# In production, skip this: `docker compose build` uses the official bases named in the
# Dockerfiles and compose pulls redis and postgres.
#
# Layers, each cached by the hash of its inputs (the sandbox helper's approach):
#   1. scripts/build_sandbox_image.sh   debootstrap base + /opt/venv with torch (shared)
#   2. unlearn-app-deps:<hash>          + every other pinned dependency of pyproject.toml,
#                                       from wheels downloaded on the host, `docker commit`
#   3. unlearn-api / unlearn-worker     docker/{api,worker}.Dockerfile FROM layer 2, no index
#   4. unlearn-redis/postgres:offline   the debootstrap root + Debian's redis-server and
#                                       postgresql, installed by chroot on the host
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${UNLEARN_SANDBOX_CACHE:-/var/cache/unlearn-sandbox}
PYTHON=${PYTHON:-$( [[ -x .venv/bin/python ]] && echo .venv/bin/python || echo python3 )}
log() { echo "build_images: $*" >&2; }
has_image() { docker image inspect "$1" >/dev/null 2>&1; }

if [[ -z "${SANDBOX_DEPS:-}" ]]; then  # set it to reuse a deps image built elsewhere
    log "sandbox image and its base"
    # Its last line is "unlearn-sandbox:<content hash> <image id>".
    SANDBOX_IMAGE=$(scripts/build_sandbox_image.sh | tail -n 1 | cut -d" " -f1)
    SANDBOX_DEPS=unlearn-sandbox-deps:$(sha256sum docker/requirements-sandbox.txt | cut -c1-16)
fi
has_image "$SANDBOX_DEPS" || { log "missing $SANDBOX_DEPS after the sandbox build"; exit 1; }

# 2. The app's other dependencies: pyproject's list minus what the sandbox layer holds.
# Written under a name of its own, then named by its hash: builds sharing $CACHE never read
# each other's half-written list.
requirements=$(mktemp "$CACHE/requirements-app.XXXXXX")
"$PYTHON" - "$requirements" <<'PY'
import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
# The participant's dependencies plus the server's and the workers' extras (the app images
# run both); the extras' references to the project itself are not wheels to download.
deps = project["dependencies"] + [
    d for extra in ("common", "server", "worker") for d in project["optional-dependencies"][extra]
    if not d.startswith("unlearning-harness")
]
skip = ("torch", "torchvision")
keep = list(dict.fromkeys(d for d in deps if d.split("=")[0].split(">")[0].strip() not in skip))
# async-timeout: redis needs it on Python < 3.11.3 (Debian's 3.11.2), which a download run
# by a newer host Python would skip.
extra = ["setuptools>=69", "wheel", "async-timeout>=4.0.3"]
open(sys.argv[1], "w").write("\n".join(keep + extra) + "\n")
PY
app_hash=$( (cat "$requirements"; echo "$SANDBOX_DEPS") | sha256sum | cut -c1-16)
APP_DEPS=unlearn-app-deps:$app_hash
mv "$requirements" "$CACHE/requirements-app-$app_hash.txt"
requirements="$CACHE/requirements-app-$app_hash.txt"; chmod 644 "$requirements"
if ! has_image "$APP_DEPS"; then
    wheels="$CACHE/wheels-app-$app_hash"
    if [[ ! -f "$wheels/.complete" ]]; then
        log "pip download the app's wheels into $wheels"
        "$PYTHON" -m pip download -q --disable-pip-version-check --only-binary=:all: \
            -d "$wheels" -r "$requirements" 2>"$CACHE/pip-download-app.log" \
            || { tail -n 20 "$CACHE/pip-download-app.log" >&2; exit 1; }
        touch "$wheels/.complete"
    fi
    log "install them into $APP_DEPS"
    builder="unlearn-app-deps-build-$$"
    docker rm -f "$builder" >/dev/null 2>&1 || true
    docker run --name "$builder" --network none -v "$(realpath "$wheels")":/wheels:ro \
        -v "$(realpath "$requirements")":/requirements.txt:ro "$SANDBOX_DEPS" \
        /opt/venv/bin/pip install -q --no-cache-dir --disable-pip-version-check --no-index \
            --find-links /wheels -r /requirements.txt >&2
    docker commit "$builder" "$APP_DEPS" >/dev/null
    docker rm "$builder" >/dev/null
fi

# The worker's docker client: the host's static binary as a one-file image.
if ! has_image unlearn-docker-cli:local; then
    cli=$(command -v docker)
    file -L "$cli" | grep -q "statically linked" || { log "$cli is not a static binary"; exit 1; }
    tmp=$(mktemp -d); mkdir -p "$tmp/usr/local/bin"; cp -L "$cli" "$tmp/usr/local/bin/docker"
    tar -C "$tmp" -c . | docker import - unlearn-docker-cli:local >/dev/null
    rm -rf "$tmp"
fi

# 3. The application images, from the same Dockerfiles production uses, tagged by the hash
# of everything they copy (and of their base): an unchanged tree builds nothing, and engineers
# sharing one dockerd never run each other's code. `:latest` follows the newest build.
src_hash=$( (echo "$APP_DEPS"; find pyproject.toml README.md harness competition api worker unlearn \
                 docker/api.Dockerfile docker/worker.Dockerfile -type f \
                 ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 \
             | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)
API_IMAGE=unlearn-api:$src_hash
WORKER_IMAGE=unlearn-worker:$src_hash
offline_args=(--build-arg BASE_IMAGE="$APP_DEPS"
              --build-arg PIP_ARGS="--no-index --no-deps --no-build-isolation")
if ! has_image "$API_IMAGE"; then
    log "docker build $API_IMAGE"
    DOCKER_BUILDKIT=0 docker build -q -f docker/api.Dockerfile "${offline_args[@]}" -t "$API_IMAGE" . >/dev/null
fi
if ! has_image "$WORKER_IMAGE"; then
    log "docker build $WORKER_IMAGE"
    DOCKER_BUILDKIT=0 docker build -q -f docker/worker.Dockerfile "${offline_args[@]}" \
        --build-arg DOCKER_CLI_IMAGE=unlearn-docker-cli:local -t "$WORKER_IMAGE" . >/dev/null
fi
docker tag "$API_IMAGE" unlearn-api:latest
docker tag "$WORKER_IMAGE" unlearn-worker:latest

# 4. Redis and PostgreSQL from Debian, for machines that cannot pull the official images.
services_root="$CACHE/rootfs-services"
if ! has_image unlearn-services:offline; then
    if [[ ! -f "$services_root/.complete" ]]; then
        log "install redis-server and postgresql into a copy of the debootstrap root"
        rm -rf "$services_root"
        cp -a "$CACHE/rootfs" "$services_root"
        rm -f "$services_root/.complete"
        cp /etc/resolv.conf "$services_root/etc/resolv.conf"
        chroot "$services_root" sh -euc 'export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq && apt-get install -y -qq --no-install-recommends \
                redis-server postgresql-15 >/dev/null && apt-get clean
            rm -rf /var/lib/apt/lists/* /var/lib/postgresql/15/main /etc/postgresql/15/main'
        touch "$services_root/.complete"
    fi
    tar -C "$services_root" --exclude=./.complete -c . | docker import - unlearn-services:offline >/dev/null
fi
# Always run (Docker's layer cache makes it a second): an older unlearn-redis:offline ran as root.
for service in postgres redis; do
    DOCKER_BUILDKIT=0 docker build -q -f "docker/$service-offline.Dockerfile" \
        -t "unlearn-$service:offline" docker >/dev/null 2>&1
done

# The worker reaches the Docker socket through its group (docker-compose.yml: group_add).
env_file=${UNLEARN_ENV_FILE:-.env.offline}
cat > "$env_file" <<ENV
API_IMAGE=$API_IMAGE
WORKER_IMAGE=$WORKER_IMAGE
SANDBOX_IMAGE=${SANDBOX_IMAGE:-unlearn-sandbox:latest}
REDIS_IMAGE=unlearn-redis:offline
POSTGRES_IMAGE=unlearn-postgres:offline
DOCKER_GID=$(stat -c %g /var/run/docker.sock)
ENV
cat "$env_file"
