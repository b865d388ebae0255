# An evaluation worker: the harness, Celery, and the Docker CLI to start sandbox containers
# through the host's Docker socket (mounted by docker-compose.yml). The worker is trusted;
# the sandboxes it starts never get the socket.
#
# Production: docker build -f docker/worker.Dockerfile -t unlearn-worker .
#   (DOCKER_CLI_IMAGE: any image holding a static docker client at /usr/local/bin/docker.)
# Offline: scripts/build_images.sh passes a local base and a local docker CLI image.
ARG BASE_IMAGE=python:3.11-slim-bookworm
ARG DOCKER_CLI_IMAGE=docker:27-cli
FROM ${DOCKER_CLI_IMAGE} AS docker-cli

FROM ${BASE_IMAGE}
ARG PIP_ARGS=""
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 UNLEARN_DATA_DIR=/srv/unlearn/data
COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker
WORKDIR /opt/unlearn
COPY pyproject.toml README.md ./
COPY harness/ harness/
COPY competition/ competition/
COPY api/ api/
COPY worker/ worker/
COPY unlearn/ unlearn/
RUN set -eu; \
    [ -x /opt/venv/bin/python ] || python3 -m venv /opt/venv; \
    /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check ${PIP_ARGS} ".[worker]" ; \
    groupadd --system --gid 10001 unlearn 2>/dev/null || true; \
    useradd --system --uid 10001 --gid 10001 --home-dir /srv/unlearn unlearn 2>/dev/null || true; \
    mkdir -p /srv/unlearn/data /srv/unlearn/artifacts /srv/unlearn/work \
    && chown -R 10001:10001 /srv/unlearn

# Not root: the worker reaches the host's Docker socket through the socket's group, which
# docker-compose.yml adds (group_add: DOCKER_GID). Without root it cannot mount a tmpfs, so
# each sandbox's output folder is a plain folder, capped by the shard's time limit.
USER 10001:10001
CMD ["celery", "-A", "worker.celery_app", "worker", "-Q", "control,cpu", "-c", "1", \
     "--prefetch-multiplier", "1", "-O", "fair", "-l", "info"]
