#!/usr/bin/env bash
# Copy exactly what the sandbox image holds into a fresh build context folder CTX:
# docker/sandbox.Dockerfile, docker/requirements-sandbox.txt and the in-container runner code.
# Nothing else of the repository (scorer, api, worker, tests, data) can reach the image.
#
#   scripts/stage_sandbox_context.sh CTX
set -euo pipefail
cd "$(dirname "$0")/.."
ctx=${1:?usage: stage_sandbox_context.sh CTX}
mkdir -p "$ctx/harness/runs/sandbox" "$ctx/harness/data"
cp docker/sandbox.Dockerfile docker/requirements-sandbox.txt "$ctx/"
cp harness/errors.py harness/registry.py harness/models.py harness/checkpoint.py "$ctx/harness/"
cp harness/data/batches.py harness/data/interfaces.py "$ctx/harness/data/"
cp harness/runs/protocol.py harness/runs/contract.py "$ctx/harness/runs/"
cp harness/runs/sandbox/job.py harness/runs/sandbox/runner.py harness/runs/sandbox/isolation.py \
    "$ctx/harness/runs/sandbox/"
# Package markers of our own: the repository's __init__ files may import host-only modules.
printf '"""The harness modules the sandbox runner needs (copied into the image)."""\n' \
    > "$ctx/harness/__init__.py"
printf '"""The batch interfaces, as the sandbox runner uses them."""\n' \
    > "$ctx/harness/data/__init__.py"
printf '"""The submission protocol, as the sandbox runner uses it."""\n' \
    > "$ctx/harness/runs/__init__.py"
printf '"""In-container side of the sandbox: job folder format and runner."""\n' \
    > "$ctx/harness/runs/sandbox/__init__.py"
