"""Flower's own SuperExec (flwr 1.42.0), starting each ClientApp from a process that has Flower imported.

    python -m fedguard_flower.superexec [flower-superexec arguments]

Flower 1.42's SuperNode runs every message in a new `flwr-clientapp` process (one token per
message, started by its SuperExec with `subprocess.Popen`), and that process spends ~1.2 s
importing flwr before it asks for its message: on a default FedGuard round, a third of Flower's
share. This runs the same SuperExec and the same `flwr-clientapp` entry point with the same
arguments, but the ClientApp process is a fork of a *starter*: a process forked from this one once
Flower's ClientApp modules are imported and before any thread exists. The starter takes each launch
(the argument list Flower would have started) over a pipe, forks, and the child runs
`flwr-clientapp`'s main with those arguments, as the fresh process would. What differs from a fresh
process: the modules are already imported (the app's own module is not: Flower imports it from the
installed FAB as before), its first wait for a message object its SuperNode does not hold yet
is 0.05 s instead of 1 s (pull_backoff.py), and the process's parent is the starter rather than the SuperExec (the
ClientApp watches the `--parent-pid` it is given, as before).

Started by `fedguard_flower.supernode` in place of `flower-superexec` unless
FEDGUARD_SUPERNODE_PRESTART=0. The starter receives the command line Flower's SubprocessExecutor
builds (its `subprocess.Popen` is intercepted for `flwr-clientapp` only); other task types (a
SuperExec on a SuperLink) launch as before.
"""

import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading

import flwr
import flwr.clientapp  # noqa: F401  (imported for the ClientApps the starter forks)
import flwr.app  # noqa: F401
from flwr.supercore.cli import flower_superexec
from flwr.supercore.constant import TaskType
from flwr.supercore.superexec.executor import subprocess_executor
from flwr.supernode.cli.flwr_clientapp import flwr_clientapp

from .module_proxy import module_with
from .pull_backoff import shorten_pull_backoff

_TESTED_FLOWER = "1.42.0"


def _run_child(argv: list, quiet: bool) -> None:
    """In a forked child: run `flwr-clientapp` with `argv`, as a fresh process would, then exit."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if quiet:
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 1)
            os.dup2(null, 2)
        sys.argv = list(argv)
        flwr_clientapp()
        code = 0
    except SystemExit as ending:
        code = ending.code if isinstance(ending.code, int) else (0 if ending.code is None else 1)
    except BaseException as error:  # noqa: BLE001  (reported, then the child exits with 1)
        print(f"fedguard_flower.superexec: ClientApp failed to start: {error!r}", file=sys.stderr)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _read_exactly(fd: int, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = os.read(fd, count - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _starter_loop(requests: int) -> None:
    """The starter: forks one ClientApp per request until the SuperExec closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the SuperExec's Ctrl-C is for the SuperExec
    while True:
        ready, _, _ = select.select([requests], [], [], 1.0)
        _reap()
        if not ready:
            continue
        header = _read_exactly(requests, 4)
        if not header:
            os._exit(0)
        (length,) = struct.unpack("<I", header)
        launch = json.loads(_read_exactly(requests, length))
        if os.fork() == 0:
            os.close(requests)
            _run_child(launch["argv"], launch["quiet"])


class _Starter:
    """The SuperExec's end of the pipe to the starter process."""

    def __init__(self) -> None:
        if threading.active_count() != 1:
            raise RuntimeError("the ClientApp starter must be forked before any thread starts")
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(write_end)
            try:
                _starter_loop(read_end)
            finally:
                os._exit(1)
        os.close(read_end)
        self.pid = pid
        self.pipe = write_end
        self.lock = threading.Lock()

    def launch(self, argv: list, quiet: bool) -> None:
        payload = json.dumps({"argv": argv, "quiet": quiet}).encode()
        message = memoryview(struct.pack("<I", len(payload)) + payload)
        with self.lock:
            while message:
                message = message[os.write(self.pipe, message):]


def main() -> None:
    if flwr.__version__ != _TESTED_FLOWER:
        sys.exit(f"error: fedguard_flower.superexec is made for flwr {_TESTED_FLOWER} (its SuperExec's "
                 f"launcher); this is flwr {flwr.__version__}: run flower-superexec instead")
    shorten_pull_backoff()  # inherited by the ClientApps: their pulls of the message from the SuperNode
    sys.argv[0] = "flower-superexec"
    try:
        starter = _Starter()
    except (RuntimeError, OSError) as error:
        print(f"fedguard_flower.superexec: ClientApps start as fresh processes ({error})", file=sys.stderr)
        flower_superexec()
        return
    clientapp = subprocess_executor.TASK_TYPE_TO_COMMAND[TaskType.CLIENT_APP]

    def popen(args, *rest, **options):
        """`subprocess.Popen` as Flower's SubprocessExecutor sees it: a ClientApp's command line (built
        by Flower, unchanged) goes to the starter; anything else, or a starter that is gone, starts
        as Flower starts it. The executor does not keep what Popen returns."""
        if isinstance(args, list) and args[:1] == [clientapp]:
            try:
                starter.launch(args, options.get("stdout") == subprocess.DEVNULL)
                return None
            except OSError:
                pass
        return subprocess.Popen(args, *rest, **options)

    subprocess_executor.subprocess = module_with(subprocess, Popen=popen)
    flower_superexec()


if __name__ == "__main__":
    main()
