#!/usr/bin/env bash
# FedGuard on a real Flower deployment on this machine: a SuperLink, one SuperNode per client
# (each with only its own data file and state directory), and `flwr run` of the Flower App in
# flower/. Leaves an ordinary run directory (fedguard report reads it) and, with --compare, runs
# `fedguard run` with the same configuration and checks that the adapters are bit-identical.
#
#   scripts/flower-local.sh [--out RUN_DIR] [--compare] [--tls] [--auth] [--netns] [--rounds-per-invocation N]
#                           [--stock-supernode] [--no-worker] [CONFIG.yaml] [--set key=value ...]
#
# --tls uses TLS between the SuperNodes, the flwr CLI and the SuperLink (a CA and a server certificate
# made for the run with openssl); --auth adds SuperNode authentication (implies --tls: each node gets
# an ECDSA P-384 key pair, registered with `flwr supernode register`, and the SuperLink admits only
# registered nodes); --netns (root) puts the SuperLink and every SuperNode in its own network
# namespace, joined by veth pairs on a bridge: separate hosts on one machine.
# --rounds-per-invocation N stops the ServerApp after N rounds and starts `flwr run` again until the
# run is done (each restart continues from the run's checkpoint: what a crashed ServerApp does).
# The SuperNodes run as `python -m fedguard_flower.supernode`: Flower's SuperNode with its idle waits
# capped at FEDGUARD_SUPERNODE_POLL_SECONDS (0.2 s; see flower/fedguard_flower/supernode.py);
# --stock-supernode runs `flower-supernode` itself (3 s polls), to compare. Each node's ClientApp trains
# in a resident `fedguard client serve` (flower/fedguard_flower/worker.py; it loads the model when the
# node joins); --no-worker starts `fedguard client fit` afresh every round instead, to compare.
#
# Environment: FEDGUARD_BIN (default: builds .build/release/fedguard), FEDGUARD_FLOWER_VENV (default:
# .flower-venv, created with flwr==1.42.0), FEDGUARD_FLOWER_PORT_BASE (default 9100: the SuperLink's
# HTTP API, which serves Fleet, Control and ServerAppIo; +1.. the SuperNodes' own runtime APIs),
# FEDGUARD_FLOWER_WORK (scratch; default a temporary directory, removed at the end),
# FEDGUARD_FLOWER_SKIP_NODES (client indices whose SuperNode is not started, e.g. "2": a lost client),
# FEDGUARD_FLOWER_CONNECT_TIMEOUT (seconds the ServerApp waits for all SuperNodes; default 300).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="" compare=0 per_invocation=0 tls=0 auth=0 netns=0 stock_supernode=0 use_worker=true args=() nets=() namespaces=()
while (($#)); do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --compare) compare=1; shift ;;
    --rounds-per-invocation) per_invocation="$2"; shift 2 ;;
    --tls) tls=1; shift ;;
    --auth) auth=1; tls=1; shift ;;
    --netns) netns=1; shift ;;
    --stock-supernode) stock_supernode=1; shift ;;
    --no-worker) use_worker=false; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | cut -c3-; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done
out="${out:-$root/runs/flower-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

bin="${FEDGUARD_BIN:-}"
if [[ -z "$bin" ]]; then
  echo "== building fedguard (release)" >&2
  (cd "$root" && swift build -c release --product fedguard >&2)
  bin="$root/.build/release/fedguard"
fi
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

venv="${FEDGUARD_FLOWER_VENV:-$root/.flower-venv}"
if [[ ! -x "$venv/bin/flwr" ]]; then
  echo "== creating $venv with flwr==1.42.0 (about a minute)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "flwr==1.42.0" numpy >&2
fi
py="$venv/bin/python"
export PATH="$venv/bin:$PATH"  # the SuperLink and SuperNodes start flower-superexec from PATH

work="${FEDGUARD_FLOWER_WORK:-$(mktemp -d /tmp/fedguard-flower.XXXXXX)}"
mkdir -p "$work"
base="${FEDGUARD_FLOWER_PORT_BASE:-9100}"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # Each node's resident `fedguard client serve` (flower/fedguard_flower/worker.py) runs in its own session.
  for pidfile in "$work"/node-*/worker/*.pid; do [[ -f "$pidfile" ]] && kill "$(cat "$pidfile")" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for namespace in "${namespaces[@]}"; do ip netns del "$namespace" 2>/dev/null || true; done
  for link in "${nets[@]}"; do ip link del "$link" 2>/dev/null || true; done
  [[ -n "${FEDGUARD_FLOWER_WORK:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT

echo "== run directory $out" >&2
summary="$("$bin" server init --run "$out" --build-data "${args[@]}")"
clients="$(echo "$summary" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["clients"])')"
mapfile -t files < <(echo "$summary" | "$py" -c 'import json,sys; print("\n".join(json.load(sys.stdin).get("data_files") or []))')
if ((${#files[@]} < clients)); then
  echo "error: the run's client data directory does not hold $clients client files" >&2; exit 1
fi

# Flower's state (installed apps, connections) stays in the scratch directory. The app runs in this
# venv (flwr and numpy are all it needs), not in per-run environments that Flower would install.
export FLWR_HOME="$work/flwr-home"
mkdir -p "$FLWR_HOME"

# Where each process runs: one machine (loopback), or with --netns one network namespace per host
# (SuperLink, each SuperNode) joined by veth pairs on a bridge, so every byte crosses a network.
link_host=127.0.0.1 link_listen=127.0.0.1 link_exec=() tag="fg$$"
node_exec() { :; }
if ((netns)); then
  [[ "$(id -u)" == 0 ]] || { echo "error: --netns needs root (ip netns)" >&2; exit 1; }
  subnet="10.77.$(($$ % 250))"
  ip link add "${tag}br" type bridge && ip addr add "$subnet.254/24" dev "${tag}br" && ip link set "${tag}br" up
  nets+=("${tag}br")
  add_host() {  # add_host NAME ADDRESS
    ip netns add "$tag-$1"; namespaces+=("$tag-$1")
    ip link add "${tag}v$2" type veth peer name "${tag}p$2"
    ip link set "${tag}p$2" netns "$tag-$1"
    ip link set "${tag}v$2" master "${tag}br" up
    ip netns exec "$tag-$1" ip addr add "$subnet.$2/24" dev "${tag}p$2"
    ip netns exec "$tag-$1" ip link set "${tag}p$2" up
    ip netns exec "$tag-$1" ip link set lo up
  }
  add_host link 1
  link_host="$subnet.1" link_listen=0.0.0.0 link_exec=(ip netns exec "$tag-link")
  echo "== network namespaces: SuperLink $tag-link at $link_host, SuperNodes $tag-node-<i> at $subnet.<10+i>" >&2
fi

link_tls=(--insecure) node_tls=(--insecure) cli_tls="insecure = true"
need() { command -v "$1" >/dev/null || { echo "error: $2 needs $1 (apt-get install -y $3)" >&2; exit 1; }; }
((tls)) && need openssl --tls openssl
((auth)) && need ssh-keygen --auth openssh-client
((netns)) && need ip --netns iproute2
if ((tls)); then
  certs="$work/certs"; mkdir -p "$certs"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=FedGuard local CA" \
    -keyout "$certs/ca.key" -out "$certs/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$link_host" -keyout "$certs/server.key" -out "$certs/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,IP:%s,DNS:localhost\n' "$link_host" >"$certs/san.ext"
  openssl x509 -req -in "$certs/server.csr" -CA "$certs/ca.crt" -CAkey "$certs/ca.key" -CAcreateserial -days 2 \
    -extfile "$certs/san.ext" -out "$certs/server.pem" 2>/dev/null
  link_tls=(--ssl-ca-certfile "$certs/ca.crt" --ssl-certfile "$certs/server.pem" --ssl-keyfile "$certs/server.key")
  node_tls=(--root-certificates "$certs/ca.crt")
  cli_tls="root-certificates = \"$certs/ca.crt\""
  echo "== TLS: certificates for $link_host signed by a CA made for this run ($certs)" >&2
fi
((auth)) && link_tls+=(--enable-supernode-auth)

if ((!netns)); then
  # Another deployment on these ports would be joined silently (its SuperLink answers ours' clients).
  "$py" - "$base" "$clients" <<'PY' || exit 1
import socket, sys
base, clients = int(sys.argv[1]), int(sys.argv[2])
for port in range(base, base + clients + 1):
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            sys.exit(f"error: port {port} is in use (another Flower deployment on this machine?): set "
                     f"FEDGUARD_FLOWER_PORT_BASE to the first of {clients + 1} free ports")
PY
fi
echo "== SuperLink on $link_host:$base" >&2
"${link_exec[@]}" "$venv/bin/flower-superlink" "${link_tls[@]}" --database "$work/superlink.db" \
  --host "$link_listen" --port "$base" --disable-runtime-dependency-installation >"$work/superlink.log" 2>&1 &
pids+=($!)
wait_port() {  # wait_port HOST PORT WHAT: until something listens there (60 s at most)
  "$py" - "$1" "$2" "$3" <<'PY'
import socket, sys, time
deadline = time.time() + 60
while time.time() < deadline:
    try:
        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.5)
sys.exit(f"error: {sys.argv[3]} did not start listening on {sys.argv[1]}:{sys.argv[2]} within 60 s")
PY
}
wait_port "$link_host" "$base" "the SuperLink" || { cat "$work/superlink.log" >&2; exit 1; }

cat >"$FLWR_HOME/config.toml" <<EOF
[superlink]
default = "fedguard-local"

[superlink.fedguard-local]
address = "$link_host:$base"
$cli_tls
EOF

skip=" ${FEDGUARD_FLOWER_SKIP_NODES:-} "
for i in $(seq 0 $((clients - 1))); do
  [[ "$skip" == *" $i "* ]] && { echo "   (no SuperNode for client $i)" >&2; continue; }
  # Each SuperNode sees only its own client's data file and state directory.
  mkdir -p "$work/node-$i"
  cp "${files[$i]}" "$work/node-$i/data.jsonl"
  exec_prefix=() node_auth=() port=$((base + 1 + i))
  if ((netns)); then add_host "node-$i" $((10 + i)); exec_prefix=(ip netns exec "$tag-node-$i"); fi
  if ((auth)); then
    # The node's key pair; the SuperLink admits it only after `flwr supernode register`.
    ssh-keygen -q -t ecdsa -b 384 -N "" -f "$work/node-$i/auth-key" -C "fedguard-node-$i"
    "$venv/bin/flwr" supernode register "$work/node-$i/auth-key.pub" fedguard-local >"$work/node-$i/register.log" 2>&1 \
      || { cat "$work/node-$i/register.log" >&2; exit 1; }
    node_auth=(--auth-supernode-private-key "$work/node-$i/auth-key")
  fi
  supernode=(env PYTHONPATH="$root/flower" "$py" -m fedguard_flower.supernode)
  ((stock_supernode)) && supernode=("$venv/bin/flower-supernode")
  "${exec_prefix[@]}" "${supernode[@]}" "${node_tls[@]}" "${node_auth[@]}" --superlink "$link_host:$base" \
    --port "$port" \
    --node-config "partition-id=$i data=\"$work/node-$i/data.jsonl\" state=\"$work/node-$i/state\" fedguard=\"$bin\" worker=$use_worker worker-dir=\"$work/node-$i/worker\"" \
    >"$work/supernode-$i.log" 2>&1 &
  pids+=($!)
done
echo "== SuperNodes started for $clients clients (logs in $work)" >&2

started=$(date +%s)
invocations=0
while [[ ! -f "$out/deployment/FINISHED" ]]; do
  invocations=$((invocations + 1))
  if ((invocations > 1)); then echo "== flwr run again (invocation $invocations): the run continues from its checkpoint" >&2; fi
  failed=0
  "$venv/bin/flwr" run "$root/flower" fedguard-local --stream --run-config "fedguard=\"$bin\" run-dir=\"$out\" \
rounds-per-invocation=$per_invocation connect-timeout=${FEDGUARD_FLOWER_CONNECT_TIMEOUT:-300}" >&2 || failed=1
  if ((invocations > 1000)); then echo "error: the Flower run did not finish after 1000 invocations" >&2; exit 1; fi
  last_round=0
  [[ -f "$out/deployment/timings.json" ]] && last_round="$("$py" -c 'import json,sys; print(max([t["round"] for t in json.load(open(sys.argv[1]))] or [0]))' "$out/deployment/timings.json")"
  if [[ ! -f "$out/deployment/FINISHED" && "${last_progress:-}" == "$last_round" ]] || ((failed && last_round == 0)); then
    # No round committed by this invocation: retry while the SuperLink comes back (a SuperLink that was
    # restarted keeps its state in superlink.db; the ServerApp continues from the run's checkpoint).
    stalled=$((${stalled:-0} + 1))
    if ((stalled > 3)); then
      echo "error: the Flower run made no progress (stuck at round $last_round; ServerApp log above; FEDGUARD_FLOWER_WORK=DIR keeps the other logs)" >&2
      exit 1
    fi
    echo "== no round committed by that invocation; waiting for the SuperLink, then flwr run again ($stalled of 3)" >&2
    wait_port "$link_host" "$base" "the SuperLink" || exit 1
  else
    stalled=0
  fi
  last_progress="$last_round"
done
seconds=$(( $(date +%s) - started ))

rounds="$("$py" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$out/deployment/timings.json")"
echo "== Flower run finished in ${seconds} s ($rounds rounds, $invocations flwr run invocation(s))" >&2
"$bin" report "$out" >&2 || true

if ((compare)); then
  echo "== the same configuration with fedguard run (in-process simulation)" >&2
  "$bin" run --out "$work/simulation" "${args[@]}" --set "threads=$(grep -E '^threads:' "$out/config.yaml" | awk '{print $2}')" >&2
  last="$(printf 'round-%04d' "$rounds")"
  if cmp -s "$out/adapters/$last/adapter_model.safetensors" "$work/simulation/adapters/$last/adapter_model.safetensors"; then
    echo "== final adapters identical (bit for bit): Flower deployment = simulation" >&2
  else
    echo "error: the Flower deployment's final adapter differs from the simulation's" >&2; exit 1
  fi
fi

# Where each round's time went. Flower's share: the clients phase minus the slowest ClientApp's own
# wall time (message delivery, its SuperNodes' 3 s polling loop, starting the ClientApp process),
# plus the ClientApp's time outside training (the fedguard process starting, loading the model, files).
echo "== time per round (Flower deployment; with --compare, the simulation beside it)" >&2
"$py" - "$out/deployment/timings.json" "$work/simulation/rounds.jsonl" <<'PY' >&2
import json, os, sys
timings = json.load(open(sys.argv[1]))
simulated = {}
if os.path.exists(sys.argv[2]):
    for line in open(sys.argv[2]):
        record = json.loads(line)
        simulated[record["round"]] = record["seconds"]
for t in timings:
    transport = t["clients"] - t["slowest_clientapp"]
    startup = t["slowest_clientapp"] - t["slowest_client"]
    line = (f"  round {t['round']}: {t['seconds']:.1f} s = configure {t['configure']:.1f} + clients {t['clients']:.1f} "
            f"(Flower delivery and scheduling {transport:.1f} [to the ClientApp {t.get('delivery_in', 0):.1f}, back {t.get('delivery_out', 0):.1f}], ClientApp process and model load {startup:.1f}, "
            f"slowest client's training {t['slowest_client']:.1f}) + aggregate, hooks and evaluation {t['aggregate']:.1f}")
    if t["round"] in simulated:
        sim = simulated[t["round"]]
        line += f"; simulation {sim:.1f} s, ratio {t['seconds'] / sim:.2f}x"
    # Flower's overhead: what the deployment adds to the round's own work (configure's process,
    # delivery and scheduling, the ClientApp's time outside training); the issue's bound is 10%.
    overhead = t["configure"] + transport + startup
    share = overhead / t["seconds"] if t["seconds"] > 0 else 0.0
    line += f"; Flower's overhead {overhead:.1f} s = {100 * share:.1f}% of the round"
    print(line)
PY
echo "$out"
