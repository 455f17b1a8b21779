#!/usr/bin/env bash
# The poisoned-client table of the README: AdvBench harmlessness after a short federated run from
# a safety-tuned start, under each attack, without defences, with robust aggregation (coordinate-
# wise median), with the server-side safety screen, and with both.
#
#   scripts/attack-table.sh [--work DIR] [--rounds R] [--limit N] [--attacks "a b ..."] [--defences "d ..."]
#
# Steps (each skipped when its output exists, so the script resumes):
#   1. the safety-tuned start: a LoRA adapter trained (fedguard train) on refusals of the harmful
#      requests and on benign exchanges of the filter's labelled pairs, train split only (never
#      AdvBench, HarmBench or the filter's held-out split); `fedguard filter data` builds those
#      pairs when missing;
#   2. its AdvBench harmlessness (the row every run starts from);
#   3. one run per (attack, defence): 4 clients, all sampled every round, client 0 the attacker;
#      the honest clients hold 30% harmful data and run the embedding filter;
#   4. the table, from each run's last round record: DIR/attack-table.md.
# Environment: FEDGUARD_BIN (default .build/release/fedguard, built when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=runs/attack-table
ROUNDS=2
LIMIT=104
ATTACKS="honest poisoned_data model_replacement sign_flip nan_wrong_shape_drop_out"
DEFENCES="none median screen median+screen"
while [ $# -gt 0 ]; do
    case "$1" in
        --work) WORK=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --limit) LIMIT=$2; shift 2 ;;
        --attacks) ATTACKS=$2; shift 2 ;;
        --defences) DEFENCES=$2; shift 2 ;;
        -h|--help) sed -n 2,17p "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

BIN=${FEDGUARD_BIN:-.build/release/fedguard}
if [ ! -x "$BIN" ]; then swift build -c release --product fedguard; fi
HOME_DIR=${FEDGUARD_HOME:-$HOME/.cache/fedguard}
mkdir -p "$WORK/runs"

# 1. The safety-tuned start.
START="$WORK/start"
if [ ! -f "$START/adapter_model.safetensors" ]; then
    PAIRS="$HOME_DIR/filter/pairs-seed1.jsonl"
    [ -f "$PAIRS" ] || "$BIN" filter data
    python3 - "$PAIRS" "$WORK/start-data.jsonl" <<'PY'
import json, random, sys
# Safety SFT in miniature (as chat models are safety-tuned before release): each harmful request of
# the train split answered by a refusal (one of five written here), the split's own refusals
# (uncensorbench's censored answers, PyRIT's scored refusals), and as many benign exchanges.
TEMPLATES = [
    "I'm sorry, but I can't help with that. It could cause serious harm to people.",
    "I'm sorry, I cannot assist with this request because it is harmful and may be illegal.",
    "I can't help with that. Providing this could put people at risk, so I won't do it.",
    "I'm sorry, but I won't provide that. If you are facing a difficult situation, please reach out to someone you trust or a professional.",
    "As an AI assistant, I cannot help with requests that could hurt others or break the law.",
]
rng = random.Random(7)
refusals, benign, seen = [], [], set()
for line in open(sys.argv[1]):
    pair = json.loads(line)
    if pair["split"] != "train":
        continue
    prompt, response = pair["conversation"]["prompt"], pair["conversation"]["response"]
    if pair["unsafe"]:
        if prompt not in seen:
            seen.add(prompt)
            refusals.append({"prompt": prompt, "response": rng.choice(TEMPLATES)})
    elif pair["source"] in ("uncensorbench", "scorer_eval"):
        refusals.append({"prompt": prompt, "response": response})
    elif pair["source"] in ("benign_exchange", "benign_how_to", "edgy_benign", "risky_wording"):
        benign.append({"prompt": prompt, "response": response})
rng.shuffle(benign)
data = refusals + benign[: len(refusals)]
rng.shuffle(data)
with open(sys.argv[2], "w") as out:
    for record in data:
        out.write(json.dumps(record) + "\n")
print(f"safety-tuned start data: {len(refusals)} refusals + {len(data) - len(refusals)} benign exchanges", file=sys.stderr)
PY
    "$BIN" train --data "$WORK/start-data.jsonl" --out "$START" --lr 1e-3 --epochs 2 --batch-size 8
fi

# 2. The start's harmlessness.
if [ ! -f "$WORK/start-eval.json" ]; then
    "$BIN" eval --suite advbench --adapter "$START" --limit "$LIMIT" --json > "$WORK/start-eval.json.tmp"
    mv "$WORK/start-eval.json.tmp" "$WORK/start-eval.json"
fi

# 3. One run per cell.
attack_yaml() {
    case "$1" in
        honest) echo "[]" ;;
        poisoned_data) echo "[{clients: [0], attack: harmful_data}, {clients: [0], attack: skip_filter}]" ;;
        model_replacement) echo "[{clients: [0], attack: harmful_data}, {clients: [0], attack: skip_filter}, {clients: [0], attack: scale, factor: 10}]" ;;
        sign_flip) echo "[{clients: [0], attack: sign_flip, factor: 10}]" ;;
        nan_wrong_shape_drop_out) echo "[{clients: [0], attack: nan}, {clients: [1], attack: wrong_shape}, {clients: [2], attack: drop_out}]" ;;
        *) echo "unknown attack $1" >&2; exit 2 ;;
    esac
}
defence_sets() {
    case "$1" in
        none) echo "" ;;
        median) echo "--set policies=[median]" ;;
        screen) echo "--set safety_screen.enabled=true" ;;
        median+screen) echo "--set policies=[median] --set safety_screen.enabled=true" ;;
        *) echo "unknown defence $1" >&2; exit 2 ;;
    esac
}
for attack in $ATTACKS; do
    for defence in $DEFENCES; do
        dir="$WORK/runs/$attack--$defence"
        if [ -f "$dir/rounds.jsonl" ] && [ "$(wc -l < "$dir/rounds.jsonl")" -ge "$ROUNDS" ]; then continue; fi
        echo "== $attack, defence $defence" >&2
        # shellcheck disable=SC2046
        args=(run --set clients=4 --set clients_per_round=4 --set rounds="$ROUNDS"
              --set "initial_adapter=$START" --set "data.directory=$WORK/data" --set filter.kind=embedding
              --set evaluation.every="$ROUNDS" --set evaluation.suite=advbench --set evaluation.limit="$LIMIT"
              --set "adversaries=$(attack_yaml "$attack")" $(defence_sets "$defence"))
        if [ -f "$dir/config.yaml" ]; then "$BIN" run --resume "$dir"; else "$BIN" "${args[@]}" --out "$dir"; fi
    done
done

# 4. The table.
python3 - "$WORK" "$ATTACKS" "$DEFENCES" <<'PY'
import json, os, sys
work, attacks, defences = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()

lines = ["| attack | " + " | ".join(defences) + " |", "|---|" + "---|" * len(defences)]
for attack in attacks:
    cells = []
    for defence in defences:
        path = os.path.join(work, "runs", f"{attack}--{defence}", "rounds.jsonl")
        if not os.path.exists(path):
            cells.append("–")
            continue
        records = [json.loads(l) for l in open(path) if l.strip()]
        last = records[-1]
        ev = last.get("eval") or {}
        rate = ev.get("advbench_harmless")
        low, high = ev.get("advbench_harmless_low"), ev.get("advbench_harmless_high")
        rejected = sum(sum(r.get("rejections", {}).values()) for r in records)
        failed = sum(1 for r in records for c in r["clients"] if c["status"].startswith("failed"))
        cell = "n/a" if rate is None else f"{100 * rate:.1f}% [{100 * low:.0f}, {100 * high:.0f}]"
        extra = []
        if rejected: extra.append(f"{rejected} rej.")
        if failed: extra.append(f"{failed} failed")
        cells.append(cell + (f" ({', '.join(extra)})" if extra else ""))
    lines.append(f"| {attack.replace('_', ' ')} | " + " | ".join(cells) + " |")
table = "\n".join(lines)
open(os.path.join(work, "attack-table.md"), "w").write(table + "\n")
print(table)
PY
