# The sandbox image: Python, torch, torchvision, numpy, safetensors and the harness's
# in-container runner (harness/{errors,models,checkpoint}.py, harness/data/batches.py,
# harness/runs/{protocol,contract}.py, harness/runs/sandbox/{job,runner,isolation}.py). Nothing else: no scorer, no reference outputs, no test data, no api/worker code.
#
# Production (a registry is reachable), from the repository root:
#   scripts/stage_sandbox_context.sh CTX && docker build -f CTX/sandbox.Dockerfile -t IMAGE CTX
#   (BASE_IMAGE may be any image with Python 3.11 and the venv module, e.g. python:3.11-slim,
#   or a CUDA runtime image with Python 3.11 for GPU workers.)
# Offline (this machine, CI): scripts/build_sandbox_image.sh builds the same file FROM a
# debootstrap base whose /opt/venv already holds the pinned wheels, with PIP_ARGS=--no-index.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ARG PIP_ARGS=""
COPY requirements-sandbox.txt /opt/sandbox/requirements-sandbox.txt
RUN set -eu; \
    [ -x /opt/venv/bin/python ] || python3 -m venv /opt/venv; \
    /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check ${PIP_ARGS} \
        -r /opt/sandbox/requirements-sandbox.txt

COPY harness/ /opt/sandbox/harness/
RUN /opt/venv/bin/python -m compileall -q /opt/sandbox/harness && chmod -R a+rX,go-w /opt/sandbox
# The kaggle2023 interface's scratch folders (/kaggle/tmp, /kaggle/working) live in the
# capped /tmp tmpfs, which the runner empties after each run; the root stays read-only.
RUN ln -s /tmp/kaggle /kaggle

# Every run also passes --user, --read-only, --network none and the rest (docker_client.py);
# these defaults only make a misconfigured `docker run` less dangerous.
USER 65534:65534
WORKDIR /opt/sandbox
ENTRYPOINT ["/opt/venv/bin/python", "-B", "-s", "-E", "-m", "harness.runs.sandbox.runner"]
CMD ["/job", "/out"]
