#!/usr/bin/env bash
# Refresh requirements.lock: modebench's full dependency set (dev and ray extras included) for
# Linux x86_64, CPython 3.11, with the CPU build of torch.
#
#   bash scripts/lock.sh              # re-resolve, keeping the current pins where still allowed
#   bash scripts/lock.sh --upgrade    # newest versions pyproject.toml's ranges allow
#   bash scripts/lock.sh --upgrade-package scipy
#
# torch's CPU build (2.13.0+cpu) is found through --find-links: /opt/wheels on the project's
# machines, https://download.pytorch.org/whl/cpu/torch/ elsewhere (TORCH_FIND_LINKS). After a
# refresh, rebuild the datasets and run the tests: a new simulator or solver can change the
# demonstrations, and a task's dataset hash then says so.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q "uv==0.13.9"
python -m uv pip compile pyproject.toml --extra dev --extra ray \
  --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  --find-links "${TORCH_FIND_LINKS:-/opt/wheels}" --no-emit-find-links \
  --custom-compile-command "bash scripts/lock.sh" \
  -o requirements.lock "$@"
