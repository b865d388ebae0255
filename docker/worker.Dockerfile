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
COPY api/ api/
COPY worker/ worker/
RUN set -eu; \
    [ -x /opt/venv/bin/python ] || python3 -m venv /opt/venv; \
    /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check ${PIP_ARGS} . ; \
    mkdir -p /srv/unlearn/data /srv/unlearn/artifacts

# Root in the worker container: it drives the host's dockerd (root-equivalent anyway) and
# mounts the sandbox's size-capped output tmpfs.
CMD ["celery", "-A", "worker.celery_app", "worker", "-Q", "control,cpu", "-c", "1", \
     "--prefetch-multiplier", "1", "-O", "fair", "-l", "info"]
