"""The ClientApp: each SuperNode runs `fedguard client fit` on its own data partition.

Node configuration (`flower-supernode --node-config "..."`):
  partition-id  the client's index in the run's population (required)
  data          this client's chat JSONL (required; it never leaves the node)
  state         a directory for what the client keeps between rounds (SCAFFOLD's control variates)
  fedguard      the fedguard binary on this node (default: the run configuration's `fedguard`)
  model         the base model file on this node (default: the run's model, or SmolLM2 from the asset cache)
"""

import json
import subprocess
import time
import tempfile
from pathlib import Path

from flwr.app import ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from .tensors import from_record, to_record

app = ClientApp()


def _node_setting(context: Context, key: str, default=None):
    value = context.node_config.get(key, default)
    if value is None:
        raise ValueError(f"SuperNode setting '{key}' is missing: start it with --node-config \"{key}=...\"")
    return value


@app.query()
def query(msg: Message, context: Context) -> Message:
    """Tells the ServerApp which client of the population this node holds."""
    client = int(_node_setting(context, "partition-id"))
    return Message(RecordDict({"node": ConfigRecord({"client": client})}), reply_to=msg)


@app.train()
def train(msg: Message, context: Context) -> Message:
    """One round of local work: safety filter, local LoRA training, the reply."""
    entered = time.monotonic()
    fedguard = str(context.node_config.get("fedguard", context.run_config.get("fedguard", "fedguard")))
    data = str(_node_setting(context, "data"))
    with tempfile.TemporaryDirectory(prefix="fedguard-client-") as scratch:
        work = Path(scratch)
        task_text = str(msg.content["task"]["task"])
        task = json.loads(task_text)
        (work / "task.json").write_text(task_text)
        from_record(msg.content["global"], work / "global.safetensors")
        command = [fedguard, "client", "fit", "--task", str(work / "task.json"), "--global", str(work / "global.safetensors"),
                   "--data", data, "--out", str(work / "reply")]
        if "server_control" in msg.content:
            from_record(msg.content["server_control"], work / "server_control.safetensors")
            command += ["--server-control", str(work / "server_control.safetensors")]
        if "state" in context.node_config:
            command += ["--state", str(context.node_config["state"])]
        if "model" in context.node_config:
            command += ["--model", str(context.node_config["model"])]
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
        content["reply"] = reply_record
        return Message(content, reply_to=msg)
