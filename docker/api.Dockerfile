# The competition server, and the image beat and Flower run from too.
#
# Production (a registry is reachable), from the repository root:
#   docker build -f docker/api.Dockerfile -t unlearn-api .
# Offline (this machine, CI): scripts/build_images.sh builds this same file FROM a local
# base whose /opt/venv already holds every pinned wheel, with PIP_ARGS="--no-index --no-deps".
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ARG PIP_ARGS=""
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 UNLEARN_DATA_DIR=/srv/unlearn/data
WORKDIR /opt/unlearn
COPY pyproject.toml README.md ./
COPY harness/ harness/
COPY competition/ competition/
COPY api/ api/
COPY worker/ worker/
COPY unlearn/ unlearn/
# The phases' starting-kit zips are built from this checkout (api/pages/kit.py).
COPY starting_kit/ starting_kit/
ENV UNLEARN_SOURCE_DIR=/opt/unlearn
RUN set -eu; \
    [ -x /opt/venv/bin/python ] || python3 -m venv /opt/venv; \
    /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check ${PIP_ARGS} ".[server,worker]" ; \
    groupadd --system --gid 10001 unlearn 2>/dev/null || true; \
    useradd --system --uid 10001 --gid 10001 --home-dir /srv/unlearn unlearn 2>/dev/null || true; \
    mkdir -p /srv/unlearn/data /srv/unlearn/artifacts && chown -R 10001:10001 /srv/unlearn

# The same uid as the worker image: named volumes start owned by it, whichever service
# mounts them first, so the API and the workers can both write the artifact store.
USER 10001:10001
EXPOSE 8000
# Ready, not just alive: the database answers and the artifact store takes a write.
HEALTHCHECK --interval=5s --timeout=5s --start-period=30s --retries=24 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/v1/ready', timeout=4)"]
CMD ["python", "-m", "uvicorn", "--factory", "unlearn.server:create_app", "--host", "0.0.0.0", "--port", "8000"]
