#!/usr/bin/env bash
# Contract test of the Flower deployment (run by scripts/test.sh and so by CI): a real SuperLink and
# SuperNodes on loopback from a venv with flwr==1.42.0, the tiny test model, two scenarios.
#   A. SCAFFOLD, 4 clients, 2 per round, 3 rounds, client 3's data malformed, the ServerApp stopped
#      after every 2 rounds and restarted: the final adapter must equal `fedguard run`'s bit for bit,
#      and client 3 must be recorded as failed with the reason.
#      The ClientApps train in each node's resident `fedguard client serve` (worker.py): A also checks
#      that every node's worker loaded the model once, at the query, and served every round.
#   B. FedAvg, 3 clients all sampled, client 2's SuperNode never starts: the round completes with
#      the other two (min_replies=1) and client 2 is recorded as failed.
#   C. A SuperNode killed during round 1 and started again; its clients run `fedguard client fit`
#      afresh every round (--no-worker, so that path is covered too).
#   D. The SuperLink killed during round 2 and started again on its database: the script's next
#      `flwr run` continues the run from its checkpoint, and the final adapter equals the simulation's.
# FEDGUARD_BIN: the fedguard binary (default: the debug build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export FEDGUARD_BIN="${FEDGUARD_BIN:-$root/.build/debug/fedguard}"
work="$(mktemp -d /tmp/fedguard-flower-contract.XXXXXX)"
trap 'rm -rf "$work"' EXIT
model="$root/Tests/EngineTests/Fixtures/tiny_llama.f32.gguf"

write_clients() {  # write_clients DIR COUNT
  mkdir -p "$1"
  for ((c = 0; c < $2; c++)); do
    for ((j = 0; j < 5 + c % 2; j++)); do
      printf '{"messages":[{"role":"user","content":"question %d from client %d about the weather"},' "$j" "$c"
      printf '{"role":"assistant","content":"answer %d: client %d says it is sunny today"}]}\n' "$j" "$c"
    done >"$1/client-00$c.jsonl"
  done
}
tiny=(--set "model=$model" --set local.steps=2 --set local.tokens_per_batch=256 --set data.max_sequence_length=256
      --set evaluation.every=0 --set threads=1)

echo "== contract A: SCAFFOLD, a client with malformed data, the ServerApp restarted every 2 rounds" >&2
write_clients "$work/a-data" 4
echo '{"messages": [{"role": "user"' >"$work/a-data/client-003.jsonl"
FEDGUARD_FLOWER_WORK="$work/a" bash "$root/scripts/flower-local.sh" --out "$work/a-run" --compare --rounds-per-invocation 2 \
  "${tiny[@]}" --set "data.directory=$work/a-data" --set clients=4 --set clients_per_round=2 --set rounds=3 \
  --set strategy=scaffold --set min_replies=1
grep -q '"status":"failed: ' "$work/a-run/rounds.jsonl" || { echo "error: client 3's failure is not recorded" >&2; exit 1; }
grep -q 'malformed line' "$work/a-run/rounds.jsonl" || { echo "error: the failure does not say what is wrong with the data" >&2; exit 1; }
python3 - "$work/a" "$work/a-run/rounds.jsonl" <<'PY'
import glob, json, os, re, sys
work, rounds = sys.argv[1], sys.argv[2]
trained = {}  # client -> rounds it trained in (ok), from the run's own record
for line in open(rounds):
    record = json.loads(line)
    for client in record["clients"]:
        if client["status"] == "ok":
            trained.setdefault(int(client["id"].split("-")[1]), []).append(record["round"])
for client, rounds_trained in sorted(trained.items()):
    logs = glob.glob(os.path.join(work, f"node-{client}", "worker", "worker-*.log"))
    assert len(logs) == 1, (client, logs)
    text = open(logs[0]).read()
    assert text.count("listening on") == 1, f"client {client}: its worker started {text.count('listening on')} times"
    served = re.findall(rf"^client-{client:03d} round \d+: \d+ examples", text, re.M)
    assert len(served) == len(rounds_trained), (client, served, rounds_trained)
print(f"contract A: each node's worker started once and served its rounds: {trained}")
PY

echo "== contract B: a client whose SuperNode never connects" >&2
write_clients "$work/b-data" 3
FEDGUARD_FLOWER_WORK="$work/b" FEDGUARD_FLOWER_SKIP_NODES=2 FEDGUARD_FLOWER_CONNECT_TIMEOUT=10 \
  bash "$root/scripts/flower-local.sh" --out "$work/b-run" \
  "${tiny[@]}" --set "data.directory=$work/b-data" --set clients=3 --set clients_per_round=3 --set rounds=1 --set min_replies=1
python3 - "$work/b-run/rounds.jsonl" <<'PY'
import json, sys
record = json.loads(open(sys.argv[1]).readline())
status = {c["id"]: c["status"] for c in record["clients"]}
assert status == {"client-000": "ok", "client-001": "ok", "client-002": "failed: no reply"}, status
assert not record["kept_previous"], record
print("contract B: client-002 failed: no reply; the round aggregated the other two")
PY
echo "== contract C: a SuperNode killed in the middle of a round, then restarted" >&2
write_clients "$work/c-data" 3
# Clients take 12 s (a wrapper sleeps before fedguard), so the kill lands inside round 1's training.
printf '#!/bin/sh\n[ "$1" = client ] && sleep 12\nexec "%s" "$@"\n' "$FEDGUARD_BIN" >"$work/slow-fedguard"
chmod +x "$work/slow-fedguard"
FEDGUARD_BIN="$work/slow-fedguard" FEDGUARD_FLOWER_WORK="$work/c" bash "$root/scripts/flower-local.sh" --out "$work/c-run" --no-worker \
  "${tiny[@]}" --set "data.directory=$work/c-data" --set clients=3 --set clients_per_round=2 --set rounds=2 \
  --set min_replies=1 >"$work/c.log" 2>&1 &
runner=$!
for _ in $(seq 1 120); do grep -q "clients connected" "$work/c.log" && break; sleep 1; done
sleep 4
victim="$(pgrep -f "supernode.*$work/c/node-0/data.jsonl" | head -1)"
[[ -n "$victim" ]] || { cat "$work/c.log" >&2; echo "error: no SuperNode for client 0 to kill" >&2; exit 1; }
mapfile -d '' command </proc/"$victim"/cmdline
kill -9 "$victim"
echo "   killed client 0's SuperNode (pid $victim) during round 1; restarting it" >&2
(cd "$work/c" && FLWR_HOME="$work/c/flwr-home" PATH="$(dirname "${command[0]}"):$PATH" PYTHONPATH="$root/flower" \
  "${command[@]}" >"$work/c/supernode-0-again.log" 2>&1) &
restarted=$!
wait "$runner" || { cat "$work/c.log" >&2; kill "$restarted" 2>/dev/null; exit 1; }
pkill -f "supernode.*$work/c/node-0/data.jsonl" 2>/dev/null || true
python3 - "$work/c-run/rounds.jsonl" <<'PY'
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
first = {c["id"]: c["status"] for c in records[0]["clients"]}
assert first.get("client-000", "").startswith("failed: Flower:") and "Unavailable" in first["client-000"], first
assert not records[0]["kept_previous"], records[0]
assert len(records) == 2, records
second = {c["id"]: c["status"] for c in records[1]["clients"]}
assert second.get("client-000", "ok") == "ok", second  # the restarted node rejoined
print(f"contract C: round 1 {first}; round 2 " + str({c["id"]: c["status"] for c in records[1]["clients"]}))
PY
echo "== contract D: the SuperLink killed during round 2, then restarted" >&2
write_clients "$work/d-data" 2
FEDGUARD_BIN="$work/slow-fedguard" FEDGUARD_FLOWER_WORK="$work/d" bash "$root/scripts/flower-local.sh" --out "$work/d-run" --compare \
  --no-worker "${tiny[@]}" --set "data.directory=$work/d-data" --set clients=2 --set clients_per_round=2 --set rounds=3 \
  >"$work/d.log" 2>&1 &
runner=$!
for _ in $(seq 1 180); do [[ -f "$work/d-run/deployment/timings.json" ]] && break; sleep 1; done
sleep 4  # inside round 2's clients (each takes 12 s)
link="$(pgrep -f "flower-superlink.*$work/d/superlink.db" | head -1)"
[[ -n "$link" ]] || { cat "$work/d.log" >&2; echo "error: no SuperLink to kill" >&2; exit 1; }
mapfile -d '' command </proc/"$link"/cmdline
kill -9 "$link"
echo "   killed the SuperLink (pid $link) during round 2; restarting it on its database" >&2
sleep 2
(cd "$work/d" && FLWR_HOME="$work/d/flwr-home" PATH="$(dirname "${command[0]}"):$PATH" "${command[@]}" \
  >"$work/d/superlink-again.log" 2>&1) &
wait "$runner" || { cat "$work/d.log" >&2; pkill -f "flower-superlink.*$work/d/superlink.db"; exit 1; }
pkill -f "flower-superlink.*$work/d/superlink.db" 2>/dev/null || true
grep -q "final adapters identical" "$work/d.log" || { cat "$work/d.log" >&2; echo "error: no bit-identical result after the restart" >&2; exit 1; }
grep -q "flwr run again" "$work/d.log" || { echo "error: the run finished without needing the restarted SuperLink" >&2; exit 1; }
echo "contract D: the run continued on the restarted SuperLink; final adapter = the simulation's"

echo "== Flower contract test passed" >&2
