"""A node's resident `fedguard client serve` process, so that rounds after the first skip loading the model.

Flower starts a new ClientApp process for every message, and a fresh `fedguard client fit` in it
loads the base model and makes its float copies again every round (~0.7 s for SmolLM2 on 2 cores).
The ClientApp instead asks a worker that this node keeps: `fedguard client serve` on a Unix socket
in an owner-only directory (node config `worker-dir`, default `$TMPDIR/fedguard-<uid>/`; the
worker's log and pid file beside it), one per node (the socket's name hashes the
binary, its modification time and the node's data, state and model paths, so a rebuilt binary or
another node on the same machine gets its own). The node's `query` (when it joins a run) starts it
and has it load the run's model; the first round starts it if that did not; it exits after
`worker-idle-seconds` (node config, default 900) without a round. It trains with the same code as
`fedguard client fit`, so the reply folder is the same bit for bit. Node config `worker=false`
runs `fedguard client fit` in a fresh process every round instead.
"""

import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_TIMEOUT_SECONDS = 60.0


def _private_directory(chosen: "str | None") -> Path:
    directory = Path(chosen) if chosen else Path(tempfile.gettempdir()) / f"fedguard-{os.getuid()}"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    status = directory.stat()
    if status.st_uid != os.getuid() or status.st_mode & 0o077:
        raise RuntimeError(f"{directory} must be owned by this user and closed to others (mode 0700) to hold the worker's socket")
    return directory


def socket_path(fedguard: str, request: dict, directory: "str | None" = None) -> Path:
    """The socket of this node's worker for this binary, in `directory` (default: $TMPDIR/fedguard-<uid>)."""
    binary = shutil.which(fedguard) or fedguard
    binary = os.path.realpath(binary)
    status = os.stat(binary)
    identity = json.dumps([binary, status.st_mtime_ns, status.st_size, request.get("data"), request.get("state"),
                           request.get("model")])
    path = _private_directory(directory) / f"worker-{hashlib.sha256(identity.encode()).hexdigest()[:16]}.sock"
    if len(os.fsencode(path)) >= 108:  # sockaddr_un's limit
        raise RuntimeError(f"the worker's socket path {path} is too long for a Unix socket: give a shorter worker-dir")
    return path


def _connect(path: Path) -> "socket.socket | None":
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(path))
        return connection
    except (FileNotFoundError, ConnectionRefusedError):
        connection.close()
        return None


def _start(fedguard: str, path: Path, idle_seconds: float) -> "socket.socket":
    """Connects to the worker at `path`, starting it first if none answers (one starter at a time)."""
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        connection = _connect(path)
        if connection is not None:
            return connection
        log = path.with_suffix(".log")
        with open(log, "ab") as output:
            worker = subprocess.Popen([fedguard, "client", "serve", "--socket", str(path), "--idle-exit", str(idle_seconds)],
                                      stdin=subprocess.DEVNULL, stdout=output, stderr=output, start_new_session=True)
        path.with_suffix(".pid").write_text(f"{worker.pid}\n")  # for whoever stops the node's processes
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                raise RuntimeError(f"fedguard client serve exited with status {worker.returncode} at start (see {log})")
            connection = _connect(path)
            if connection is not None:
                return connection
            time.sleep(0.02)
        worker.kill()
        raise RuntimeError(f"fedguard client serve did not listen on {path} within {START_TIMEOUT_SECONDS:.0f} s (see {log})")


def _worker(fedguard: str, node: dict, idle_seconds: float, directory: "str | None") -> "tuple[Path, socket.socket]":
    """This node's worker's socket path and a connection to it (the worker started if none answers)."""
    path = socket_path(fedguard, node, directory)
    return path, _connect(path) or _start(fedguard, path, idle_seconds)


def preload(fedguard: str, node: dict, model: "str | None", idle_seconds: float, directory: "str | None" = None) -> None:
    """Has this node's worker (started if need be) load `model` (None: SmolLM2 from its asset cache)
    with its float copies, without waiting: sent when the node joins, so the first round trains at once."""
    _, connection = _worker(fedguard, node, idle_seconds, directory)
    with connection:
        connection.sendall(json.dumps({"preload": True, "model": model}).encode() + b"\n")


def fit(fedguard: str, request: dict, idle_seconds: float, directory: "str | None" = None) -> None:
    """Runs one client round (`fedguard client fit`'s arguments in `request`) on this node's worker.

    Progress lines go to this process's stderr (the SuperNode's log); raises RuntimeError with the
    worker's message when the round fails, or when the worker ends without finishing it.
    """
    path, connection = _worker(fedguard, request, idle_seconds, directory)
    with connection, connection.makefile("rwb") as stream:
        stream.write(json.dumps(request).encode() + b"\n")
        stream.flush()
        for line in stream:
            message = json.loads(line)
            if "progress" in message:
                print(message["progress"], file=sys.stderr, flush=True)
            elif "error" in message:
                raise RuntimeError(f"fedguard client fit: {message['error']}")
            elif "done" in message:
                return
    raise RuntimeError(f"fedguard client serve ({path}) ended before the round's reply (see {path.with_suffix('.log')})")
