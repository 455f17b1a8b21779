"""Flower's own SuperNode (flwr 1.42.0), polling the SuperLink more often when idle.

    python -m fedguard_flower.supernode [flower-supernode arguments]

Flower 1.42's SuperNode asks the SuperLink for a message, and when there is none sleeps a fixed 3 s
(`flwr/supernode/start_client_internal.py`, no setting), then waits for the ClientApp's reply in
0.5 s steps; its SuperExec looks for a ClientApp to start every second
(`FLWR_SUPEREXEC_TASK_POLL_INTERVAL`). In a FedGuard round that is up to 4.5 s of waiting per message
hop, a fifth of a default round. This runs the same SuperNode, same arguments, same protocol, with
those waits capped at FEDGUARD_SUPERNODE_POLL_SECONDS (default 0.2 s; the SuperLink then answers 5
pulls a second per idle node instead of one every 3 s) and Flower's SuperExec interval at the same
value unless set. Nothing else changes; `flower-supernode` works in its place, only slower.
"""

import math
import os
import subprocess
import sys
import time

import flwr
import flwr.supernode.start_client_internal as _internal
from flwr.supernode.cli import flower_supernode

from .module_proxy import module_with
from .pull_backoff import shorten_pull_backoff

_TESTED_FLOWER = "1.42.0"
_POLL_ENV = "FEDGUARD_SUPERNODE_POLL_SECONDS"
_PRESTART_ENV = "FEDGUARD_SUPERNODE_PRESTART"


def _poll_seconds() -> float:
    raw = os.environ.get(_POLL_ENV, "0.2")
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (0.01 <= value <= 3.0):
        sys.exit(f"error: {_POLL_ENV}={raw!r}: give seconds between 0.01 and 3")
    return value


def _capped_sleep(cap: float):
    """`time.sleep` as start_client_internal sees it: every sleep at most `cap` seconds."""
    return lambda seconds: time.sleep(min(seconds, cap))


def _prestarting_popen(command, *args, **kwargs):
    """`subprocess.Popen` as start_client_internal sees it: its SuperExec is FedGuard's."""
    if isinstance(command, list) and command[:1] == ["flower-superexec"]:
        command = [sys.executable, "-m", "fedguard_flower.superexec", *command[1:]]
    return subprocess.Popen(command, *args, **kwargs)


def main() -> None:
    if flwr.__version__ != _TESTED_FLOWER:
        sys.exit(f"error: fedguard_flower.supernode is made for flwr {_TESTED_FLOWER} (its SuperNode loop); "
                 f"this is flwr {flwr.__version__}: run flower-supernode instead")
    poll = _poll_seconds()
    # The loop's module reads `time.sleep` at call time; the rest of Flower keeps the real module.
    _internal.time = module_with(time, sleep=_capped_sleep(poll))
    shorten_pull_backoff()  # the SuperNode's pulls of a message's objects from the SuperLink
    prestart = os.environ.get(_PRESTART_ENV, "1")
    if prestart not in ("0", "1"):
        sys.exit(f"error: {_PRESTART_ENV}={prestart!r}: give 1 (start ClientApps from a prepared process) or 0")
    if prestart == "1":
        _internal.subprocess = module_with(subprocess, Popen=_prestarting_popen)
    # Inherited by the SuperExec process the SuperNode starts.
    os.environ.setdefault("FLWR_SUPEREXEC_TASK_POLL_INTERVAL", str(poll))
    sys.argv[0] = "flower-supernode"
    flower_supernode()


if __name__ == "__main__":
    main()
