"""One run at a time in a run directory: a lock file naming the process that holds it.

Two processes writing the same run directory (the same command started twice, a resumed run
while the first is still alive) would interleave their checkpoints and history. So a run holds
`RUN_DIR/run.lock` from start to finish: created exclusively, holding the pid, host and command
line of its owner. A second run is refused with a message naming that process. A lock left by a
process that no longer exists (killed with -9, a crashed machine restarted) is taken over: on the
same host, `os.kill(pid, 0)` says whether the pid is alive; a lock written on another host cannot
be checked from here, so the message says to delete it once that process is known to be gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time

__all__ = ["LOCK_FILE", "RunDirectoryLocked", "holding", "holder"]

LOCK_FILE = "run.lock"


class RunDirectoryLocked(FileExistsError):
    """Another live process holds the run directory; the message names it."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # Another user's process: alive.
        return True
    return True


def holder(run_dir: str) -> dict | None:
    """The lock's content (`pid`, `host`, `command`, `since`), {} for an unreadable lock, None
    when there is no lock."""
    try:
        with open(os.path.join(run_dir, LOCK_FILE)) as handle:
            content = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


def _is_stale(content: dict) -> bool:
    """A lock whose owner is gone: unreadable (its writer died mid-write), or a dead pid here."""
    if not content or not isinstance(content.get("pid"), int):
        return True
    return content.get("host") == socket.gethostname() and not _alive(content["pid"])


def _refusal(run_dir: str, content: dict) -> RunDirectoryLocked:
    pid, host = content.get("pid"), content.get("host")
    elsewhere = host != socket.gethostname()
    advice = (f"if that process is gone, delete {os.path.join(run_dir, LOCK_FILE)}" if elsewhere
              else "stop it first, or choose another run directory")
    return RunDirectoryLocked(
        f"run_dir is in use by process {pid} on {host} ({content.get('command', '?')}, since "
        f"{content.get('since', '?')}); {advice}. Received: run_dir={run_dir!r}")


def _acquire(run_dir: str, content: dict) -> str:
    path = os.path.join(run_dir, LOCK_FILE)
    for _ in range(3):
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            existing = holder(run_dir)
            if existing is None:
                continue  # Released meanwhile.
            if not _is_stale(existing):
                raise _refusal(run_dir, existing) from None
            # Rename rather than delete: of two processes taking over, one wins the rename.
            aside = f"{path}.stale-{os.getpid()}"
            with contextlib.suppress(FileNotFoundError):
                os.replace(path, aside)
                os.remove(aside)
            continue
        with os.fdopen(descriptor, "w") as handle:
            json.dump(content, handle)
        return path
    raise _refusal(run_dir, holder(run_dir) or {})


def _command() -> str:
    """This process's command line as its user typed it (`python -m kerascnn.cli` is kerascnn)."""
    if not sys.argv or not sys.argv[0]:
        return "python"
    program = sys.argv[0]
    program = "kerascnn" if program.endswith(os.path.join("kerascnn", "cli.py")) \
        else os.path.basename(program)
    return " ".join([program, *sys.argv[1:]])


@contextlib.contextmanager
def holding(run_dir: str | None):
    """Holds `run_dir`'s lock while the block runs (nothing for None).

    Raises:
        RunDirectoryLocked: If a live process holds it.
    """
    if run_dir is None:
        yield
        return
    os.makedirs(run_dir, exist_ok=True)
    content = {"pid": os.getpid(), "host": socket.gethostname(), "command": _command(),
               "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
    path = _acquire(run_dir, content)
    try:
        yield
    finally:
        if holder(run_dir) == content:
            with contextlib.suppress(OSError):
                os.remove(path)
