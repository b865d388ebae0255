#!/usr/bin/env bash
# Copy exactly what the sandbox image holds into a fresh build context folder CTX:
# docker/sandbox.Dockerfile, docker/requirements-sandbox.txt and the in-container runner code.
# Nothing else of the repository (scorer, api, worker, tests, data) can reach the image.
#
#   scripts/stage_sandbox_context.sh CTX
set -euo pipefail
cd "$(dirname "$0")/.."
ctx=${1:?usage: stage_sandbox_context.sh CTX}
mkdir -p "$ctx/harness/sandbox"
cp docker/sandbox.Dockerfile docker/requirements-sandbox.txt "$ctx/"
cp harness/errors.py harness/models.py harness/checkpoint.py harness/protocol.py "$ctx/harness/"
cp harness/sandbox/job.py harness/sandbox/runner.py "$ctx/harness/sandbox/"
# Package markers of our own: the repository's __init__ files may import host-only modules.
printf '"""The harness modules the sandbox runner needs (copied into the image)."""\n' \
    > "$ctx/harness/__init__.py"
printf '"""In-container side of the sandbox: job folder format and runner."""\n' \
    > "$ctx/harness/sandbox/__init__.py"
