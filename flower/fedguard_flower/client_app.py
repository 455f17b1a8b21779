"""The ClientApp: each SuperNode runs `fedguard client fit` on its own data partition.

Node configuration (`flower-supernode --node-config "..."`):
  partition-id  the client's index in the run's population (required)
  data          this client's chat JSONL (required; it never leaves the node)
  state         a directory for what the client keeps between rounds (SCAFFOLD's control variates)
  fedguard      the fedguard binary on this node (default: the run configuration's `fedguard`)
  model         the base model file on this node (default: the run's model, or SmolLM2 from the asset cache)
  worker        true (default): rounds run in a `fedguard client serve` process this node keeps, which loads
                the model once (worker.py); false: a fresh `fedguard client fit` process every round
  worker-idle-seconds  how long that process stays without a round before it exits (default 900)
  worker-dir    where its socket, log and pid file go (default $TMPDIR/fedguard-<uid>, owner-only)
"""

import json
import os
import subprocess
import time
import tempfile
from pathlib import Path

from flwr.app import ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.common import log
from logging import WARNING

from . import worker
from .tensors import from_record, to_record

app = ClientApp()


def _node_setting(context: Context, key: str, default=None):
    value = context.node_config.get(key, default)
    if value is None:
        raise ValueError(f"SuperNode setting '{key}' is missing: start it with --node-config \"{key}=...\"")
    return value


def _flag(value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0"):
        raise ValueError(f"SuperNode setting 'worker' is {value!r}: give true or false")
    return text in ("true", "1")


def _fedguard(context: Context) -> str:
    return str(context.node_config.get("fedguard", context.run_config.get("fedguard", "fedguard")))


def _node_files(context: Context) -> dict:
    """The node's own files, as absolute paths: its data, state directory and base model."""
    files = {"data": os.path.abspath(str(_node_setting(context, "data")))}
    for key in ("state", "model"):
        if key in context.node_config:
            files[key] = os.path.abspath(str(context.node_config[key]))
    return files


def _worker_settings(context: Context) -> "tuple[float, str | None] | None":
    """(idle seconds, socket directory) of this node's worker, or None when the node runs without one."""
    if not _flag(context.node_config.get("worker", True)):
        return None
    return float(context.node_config.get("worker-idle-seconds", 900)), context.node_config.get("worker-dir")


@app.query()
def query(msg: Message, context: Context) -> Message:
    """Tells the ServerApp which client of the population this node holds, and has the node's worker
    load the run's base model meanwhile (the ServerApp names it in the query)."""
    client = int(_node_setting(context, "partition-id"))
    settings = _worker_settings(context)
    if settings is not None and "run" in msg.content:
        files = _node_files(context)
        model = files.get("model") or str(msg.content["run"].get("model", "")) or None
        try:
            worker.preload(_fedguard(context), files, model, *settings)
        except Exception as error:  # the round will start the worker itself (and report what fails)
            log(WARNING, "could not start this node's fedguard worker ahead of the first round: %s", error)
    return Message(RecordDict({"node": ConfigRecord({"client": client})}), reply_to=msg)


@app.train()
def train(msg: Message, context: Context) -> Message:
    """One round of local work: safety filter, local LoRA training, the reply."""
    entered = time.monotonic()
    entered_at = time.time()
    fedguard = _fedguard(context)
    files = _node_files(context)
    with tempfile.TemporaryDirectory(prefix="fedguard-client-") as scratch:
        work = Path(scratch)
        task_text = str(msg.content["task"]["task"])
        task = json.loads(task_text)
        (work / "task.json").write_text(task_text)
        from_record(msg.content["global"], work / "global.safetensors")
        request = {"task": str(work / "task.json"), "global": str(work / "global.safetensors"), "out": str(work / "reply"), **files}
        if "server_control" in msg.content:
            from_record(msg.content["server_control"], work / "server_control.safetensors")
            request["server_control"] = str(work / "server_control.safetensors")
        settings = _worker_settings(context)
        if settings is not None:
            worker.fit(fedguard, request, *settings)
        else:
            command = [fedguard, "client", "fit"]
            for key, value in request.items():
                command += ["--" + key.replace("_", "-"), value]
            # stderr (progress) goes to the SuperNode's log; stdout is the reply JSON.
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        reply_text = (work / "reply" / "reply.json").read_text()
        reply = json.loads(reply_text)
        if reply["client"] != task["client"]:
            raise RuntimeError(f"fedguard replied for client {reply['client']}, the task was for {task['client']}")
        reply_record = ConfigRecord({"reply": reply_text})
        content = RecordDict()
        metrics = {"num-examples": int(reply["num_examples"])}
        for key, value in reply["metrics"].items():
            if isinstance(value, (int, float)):
                metrics[key] = float(value)
        # The client data hooks' counts (the safety filter's seen / removed per category), never examples.
        for hook, values in reply["hook_metrics"].items():
            for key, value in values.items():
                if isinstance(value, (int, float)):
                    metrics[f"{hook}.{key}"] = float(value)
        content["metrics"] = MetricRecord(metrics)
        if reply.get("failure") is None:
            # The reply takes the form the ServerApp sent (one packed array, or one array per tensor).
            per_tensor = bool(msg.content["task"].get("per-tensor-arrays", False))
            content["adapter"] = to_record(work / "reply" / "adapter.safetensors", per_tensor)
            if reply.get("has_control_delta"):
                content["control_delta"] = to_record(work / "reply" / "control_delta.safetensors", per_tensor)
        # The ClientApp's own wall time (files, the fedguard process, model load, training), so the
        # ServerApp can tell Flower's transport and scheduling apart from the client's work.
        reply_record["clientapp-seconds"] = time.monotonic() - entered
        # Wall-clock entry and exit, so that on one machine (one clock) the ServerApp can tell the
        # delivery to the ClientApp from the reply's way back.
        reply_record["clientapp-entered-at"] = entered_at
        reply_record["clientapp-left-at"] = time.time()
        content["reply"] = reply_record
        return Message(content, reply_to=msg)
