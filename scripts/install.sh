#!/usr/bin/env bash
# Install modebench exactly as locked (requirements.lock), then the project itself.
#
# On the project's machines pip finds torch's CPU build (2.13.0+cpu) in its configured
# find-links; elsewhere set PIP_FIND_LINKS=https://download.pytorch.org/whl/cpu/torch/ (or
# PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu) so that pip does not pull a CUDA
# build. Use a fresh virtual environment: the lock pins every package.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
python -m pip install -q -r requirements.lock
python -m pip install -q --no-deps -e .
