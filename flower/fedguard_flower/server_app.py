"""The ServerApp: FedGuard's server round (sampling, screening, aggregation, constitutional AI,
evaluation, checkpoint) through `fedguard server ...`, with the clients' work on the SuperNodes.

Every phase runs the fedguard binary against one run directory, so a ServerApp or SuperLink that
is restarted continues the run from its last checkpoint, and the run directory is the same as
`fedguard run` leaves (`fedguard report RUN_DIR` reads it).
"""

import json
import shutil
import subprocess
import time
from pathlib import Path

from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.common import log
from flwr.serverapp import Grid, ServerApp

from .pull_backoff import shorten_pull_backoff
from .tensors import from_record, to_record

from logging import INFO, WARNING

app = ServerApp()


def _fedguard(binary: str, *arguments: str) -> dict:
    """Runs `fedguard ARGUMENTS`, returns its JSON output (stderr goes to the ServerApp's log)."""
    result = subprocess.run([binary, *arguments], check=True, stdout=subprocess.PIPE, text=True)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return json.loads("\n".join(lines)) if lines else {}


def _exchange(grid: Grid, messages: list, timeout: float) -> tuple:
    """Sends `messages` and collects their replies until all arrived or `timeout` passed.

    Grid.send_and_receive sleeps 3 s between pulls; a round's replies arrive within 0.25 s here.
    A SuperNode that stops heartbeating yields an error reply from the SuperLink ("node unavailable").
    """
    ids = list(grid.push_messages(messages))
    pending = set(ids)
    replies: list = []
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        arrived = list(grid.pull_messages(pending))
        replies.extend(arrived)
        pending.difference_update(reply.metadata.reply_to_message_id for reply in arrived)
        if pending:
            time.sleep(0.25)
    return replies, ids


def _write_failure(round_dir: Path, round_number: int, client: int, reason: str) -> None:
    """A reply folder saying why a client has no result (recorded as `failed: <reason>`)."""
    folder = round_dir / "replies" / f"client-{client:03d}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    reply = {"format": 1, "client": client, "round": round_number, "failure": reason, "num_examples": 0, "metrics": {},
             "hook_metrics": {}, "seconds": 0.0, "has_control_delta": False}
    (folder / "reply.json").write_text(json.dumps(reply))


def _refresh(grid: Grid, nodes: dict, model: str) -> None:
    """Updates client index → node id: asks every SuperNode not yet known which client it holds (and
    names the run's base model, "" for SmolLM2, which the node's worker loads meanwhile), and forgets
    nodes that left (a SuperNode that restarts comes back under a new node id)."""
    connected = set(grid.get_node_ids())
    for client in [c for c, n in nodes.items() if n not in connected]:
        log(WARNING, "client-%03d's SuperNode (node %s) left", client, nodes.pop(client))
    unknown = [n for n in connected if n not in nodes.values()]
    if not unknown:
        return
    queries = [Message(RecordDict({"run": ConfigRecord({"model": model})}), dst_node_id=n, message_type="query") for n in unknown]
    for reply in _exchange(grid, queries, timeout=60)[0]:
        node = reply.metadata.src_node_id
        if reply.has_error():
            log(WARNING, "node %s did not say which client it holds: %s", node, reply.error.reason)
            continue
        client = int(reply.content["node"]["client"])
        if client in nodes and nodes[client] != node:
            log(WARNING, "client-%03d is claimed by nodes %s and %s; keeping the first", client, nodes[client], node)
            continue
        nodes[client] = node
        log(INFO, "client-%03d on node %s", client, node)


@app.main()
def main(grid: Grid, context: Context) -> None:
    shorten_pull_backoff()  # the replies' adapters, pulled from the SuperLink while a SuperNode still pushes them
    config = context.run_config
    binary = str(config["fedguard"])
    run_dir = str(Path(str(config["run-dir"])).expanduser().resolve())
    arguments = ["server", "init", "--run", run_dir]
    if str(config.get("run-config", "")):
        arguments.append(str(config["run-config"]))
    for override in filter(None, (part.strip() for part in str(config.get("overrides", "")).split(";"))):
        arguments += ["--set", override]
    info = _fedguard(binary, *arguments)
    log(INFO, "FedGuard run %s: %d rounds, %d clients (%d done)", run_dir, info["rounds"], info["clients"], info["completed"])

    nodes: dict = {}
    deadline = time.monotonic() + float(config.get("connect-timeout", 300))
    while True:
        _refresh(grid, nodes, info.get("model") or "")
        if len(nodes) >= info["clients"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    log(INFO, "%d of %d clients connected", len(nodes), info["clients"])
    deployment = Path(run_dir) / "deployment"
    deployment.mkdir(parents=True, exist_ok=True)
    round_dir = deployment / "round"
    timings_file = deployment / "timings.json"
    timings = json.loads(timings_file.read_text()) if timings_file.exists() else []
    budget = int(config.get("rounds-per-invocation", 0))
    done_here = 0
    (deployment / "FINISHED").unlink(missing_ok=True)
    while budget <= 0 or done_here < budget:
        started = time.monotonic()
        plan = _fedguard(binary, "server", "configure", "--run", run_dir, "--round-dir", str(round_dir))
        if plan.get("finished"):
            (deployment / "FINISHED").write_text(run_dir + "\n")
            break
        _refresh(grid, nodes, info.get("model") or "")
        clients_of_node = {node: client for client, node in nodes.items()}
        configured = time.monotonic()
        per_tensor = bool(config.get("per-tensor-arrays", False))
        global_record = to_record(round_dir / "global.safetensors", per_tensor)
        control_record = to_record(round_dir / "server_control.safetensors", per_tensor) if plan["has_server_control"] else None
        messages, addressed = [], []
        for client in plan["clients"]:
            if client not in nodes:
                log(WARNING, "round %d: no SuperNode holds client-%03d; it counts as failed", plan["round"], client)
                continue
            content = RecordDict({"global": global_record,
                                  "task": ConfigRecord({"task": (round_dir / f"client-{client:03d}.json").read_text(),
                                                        "per-tensor-arrays": per_tensor})})
            if control_record is not None:
                content["server_control"] = control_record
            messages.append(Message(content, dst_node_id=nodes[client], message_type="train", group_id=str(plan["round"])))
            addressed.append(client)
        pushed_at = time.time()
        replies, ids = _exchange(grid, messages, timeout=float(config.get("reply-timeout", 3600)))
        received_at = time.time()
        client_of_message = dict(zip(ids, addressed))
        received = time.monotonic()
        clientapp_seconds, delivery_in, last_left_at = 0.0, 0.0, None
        for reply in replies:
            node = reply.metadata.src_node_id
            client = client_of_message.get(reply.metadata.reply_to_message_id)
            if client is None:
                log(WARNING, "round %d: a reply to no message of this round (node %s) ignored", plan["round"], node)
                continue
            if reply.has_error():
                log(WARNING, "round %d: client-%03d failed: %s", plan["round"], client, reply.error.reason)
                _write_failure(round_dir, plan["round"], client, f"Flower: {reply.error.reason}")
                continue
            if clients_of_node.get(node) != client:
                log(WARNING, "round %d: client-%03d's reply came from node %s, not its node; rejected", plan["round"], client, node)
                continue
            text = str(reply.content["reply"]["reply"])
            clientapp_seconds = max(clientapp_seconds, float(reply.content["reply"].get("clientapp-seconds", 0.0)))
            if "clientapp-entered-at" in reply.content["reply"]:
                delivery_in = max(delivery_in, float(reply.content["reply"]["clientapp-entered-at"]) - pushed_at)
                left_at = float(reply.content["reply"]["clientapp-left-at"])
                last_left_at = left_at if last_left_at is None else max(last_left_at, left_at)
            if json.loads(text).get("client") != client:
                log(WARNING, "round %d: node %s replied for another client; rejected", plan["round"], node)
                continue
            folder = round_dir / "replies" / f"client-{client:03d}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            if "adapter" in reply.content:
                from_record(reply.content["adapter"], folder / "adapter.safetensors")
            if "control_delta" in reply.content:
                from_record(reply.content["control_delta"], folder / "control_delta.safetensors")
            (folder / "reply.json").write_text(text)  # last: the server reads a reply once this exists
        record = _fedguard(binary, "server", "aggregate", "--run", run_dir, "--round-dir", str(round_dir))
        finished = time.monotonic()
        client_seconds = max((c["seconds"] for c in record["clients"]), default=0.0)
        done_here += 1
        timings = [t for t in timings if t["round"] != plan["round"]]
        timings.append({"round": plan["round"], "seconds": finished - started, "configure": configured - started,
                        "clients": received - configured, "slowest_clientapp": clientapp_seconds,
                        "slowest_client": client_seconds, "aggregate": finished - received,
                        "delivery_in": delivery_in,
                        "delivery_out": received_at - last_left_at if last_left_at is not None else 0.0})
        log(INFO, "round %d/%d: %s; %.1f s: configure %.1f, clients %.1f (slowest ClientApp %.1f, of which training %.1f), "
            "aggregate %.1f", plan["round"], plan["rounds"],
            ", ".join(f"{c['id']} {c['status']}" for c in record["clients"]), finished - started, configured - started,
            received - configured, clientapp_seconds, client_seconds, finished - received)
        timings_file.write_text(json.dumps(timings, indent=1))
        if plan["round"] == plan["rounds"]:
            (deployment / "FINISHED").write_text(run_dir + "\n")
            break
    if (deployment / "FINISHED").exists():
        log(INFO, "FedGuard run finished: %s", run_dir)
    else:
        log(INFO, "stopping after %d rounds (rounds-per-invocation); `flwr run` again continues the run", done_here)
