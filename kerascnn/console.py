"""The `kerascnn` console script: the command line without TensorFlow's C++ start-up lines.

Loading TensorFlow 2.21 on a machine without a GPU writes lines such as

    I0000 00:00:1795914861.549159   17717 port.cc:153] oneDNN custom operations are on. ...
    I0000 00:00:1795914861.549879   17717 cudart_stub.cc:31] Could not find cuda drivers ...
    E0000 00:00:1795914867.165048   17717 cuda_platform.cc:52] failed call to cuInit: ...

to stderr. The first ones come from static initializers, through absl logging before
`absl::InitializeLog()` has run, so `TF_CPP_MIN_LOG_LEVEL` does not reach them (it does reach
the later ones), and neither TensorFlow nor absl offers Python a way to set absl's level before a
library loads. So the command does both: it sets `TF_CPP_MIN_LOG_LEVEL=3` before TensorFlow is
imported, and points file descriptor 2 at a pipe read by a small forked process that drops the
lines in TensorFlow's and absl's C++ log formats (info, warning and error; fatal lines pass) and
passes everything else through unchanged: what kerascnn prints, Python warnings and tracebacks.
A separate process rather than a thread, so that what was written just before a crash (an abort,
a segmentation fault, `os._exit`) still reaches the terminal.

Ask for TensorFlow's lines with `kerascnn --verbose COMMAND ...` (before the command: the
commands' own `--verbose` sets Keras's progress output) or `KERASCNN_TF_LOGS=1`.

This has to happen before TensorFlow loads, that is before `kerascnn/__init__.py` imports it, so
`kerascnn/__init__.py` calls `quiet_if_command()` first; this module imports nothing but the
standard library at import time.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time

__all__ = ["main", "quiet_if_command", "keep_line", "ENVIRONMENT_VARIABLE"]

ENVIRONMENT_VARIABLE = "KERASCNN_TF_LOGS"  # "1": let TensorFlow's C++ log lines through.
VERBOSE_FLAG = "--verbose"

# absl: "I0000 00:00:1795914861.549159   17717 port.cc:153] ..." (MMDD hh:mm:ss.us, or raw seconds
# before absl::InitializeLog); TensorFlow's own sink before 2.16:
# "2024-01-29 12:00:00.123456: I tensorflow/core/platform/cpu_feature_guard.cc:182] ...".
_LOG_LINE = re.compile(
    rb"^(?:[IWE]\d{4} [\d:.]+\s+\d+ [^\s\]]+:\d+\] "
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] [^\s\]]+:\d+\] )"
)
_ABSL_PREAMBLE = b"WARNING: All log messages before absl::InitializeLog() is called are written"
# Lines that continue a multi-line C++ log message (cpu_feature_guard.cc's second line).
_CONTINUATIONS = (b"To enable the following instructions:",)
_WAIT_SECONDS = 2.0  # At exit, for the filter to write out what is left in the pipe.
_MAX_FD = 1 << 16

_filter = None  # (saved stderr fd, filter process id) while installed


def keep_line(line: bytes, after_dropped: bool = False) -> bool:
    """Whether a line of stderr (without its newline) reaches the terminal in quiet mode.

    Args:
        line: The line's bytes.
        after_dropped: Whether the line before it was dropped (for continuation lines).
    """
    if _LOG_LINE.match(line) or line.startswith(_ABSL_PREAMBLE):
        return False
    return not (after_dropped and line.startswith(_CONTINUATIONS))


def _may_become_log_line(partial: bytes, after_dropped: bool = False) -> bool:
    """Whether an unfinished line could still turn out to be a C++ log line, or the continuation
    of one just dropped (then it waits for the rest)."""
    if len(partial) >= 4096:
        return False
    if partial[0] in b"IWE0123456789":
        return True
    return after_dropped and any(c.startswith(partial[:len(c)]) for c in _CONTINUATIONS)


def _write(fd: int | None, data: bytes) -> int | None:
    """Writes all of `data`; returns None (write nothing more) once the terminal has gone."""
    while fd is not None and data:
        try:
            data = data[os.write(fd, data):]
        except InterruptedError:
            continue
        except OSError:  # A closed pipe (`kerascnn ... 2>&1 | head`): keep draining, quietly.
            return None
    return fd


def _filter_stream(read_fd: int, out_fd: int) -> None:
    """Copies `read_fd` to `out_fd` line by line, dropping C++ log lines, until end of file."""
    pending = b""
    passing = False  # The current line has been passed through in part already.
    dropped = False  # The last complete line was dropped.
    out: int | None = out_fd
    while True:
        try:
            chunk = os.read(read_fd, 1 << 16)
        except InterruptedError:
            continue
        if not chunk:
            break
        pending += chunk
        lines = pending.split(b"\n")
        pending = lines.pop()
        kept = []
        for line in lines:
            if passing or keep_line(line, dropped):
                kept.append(line + b"\n")
                dropped = False
            else:
                dropped = True
            passing = False
        if pending and (passing or not _may_become_log_line(pending, dropped)):
            kept.append(pending)  # Prompts and progress bars without a newline show at once.
            pending, passing = b"", True
        out = _write(out, b"".join(kept))
    if pending and (passing or keep_line(pending, dropped)):
        _write(out, pending)


def _start_filter() -> None:
    global _filter
    if _filter is not None or not hasattr(os, "fork"):
        return
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    saved = os.dup(2)  # Not inheritable: subprocesses write into the filter too.
    pid = os.fork()
    if pid == 0:  # The filter process: it outlives a crash of the command, never the pipe.
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(null, 1)  # Hold no stdout pipe open for whoever reads the command's output.
            # Nor any other descriptor the command was given (fd 2 is still the terminal here).
            os.closerange(3, read_fd)
            os.closerange(read_fd + 1, _MAX_FD)
            _filter_stream(read_fd, 2)
        finally:
            os._exit(0)
    os.close(read_fd)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    _filter = (saved, pid)


def _stop_filter() -> None:
    """Gives fd 2 back to the terminal and waits (briefly) for the filter to write out."""
    global _filter
    if _filter is None:
        return
    saved, pid = _filter
    _filter = None
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os.dup2(saved, 2)  # Closes this process's write end: the filter reads to end of file.
    os.close(saved)
    deadline = time.monotonic() + _WAIT_SECONDS
    while time.monotonic() < deadline:  # Subprocesses still holding the pipe keep it open.
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:
            return
        time.sleep(0.005)


def _asked_for_logs(argv: list[str]) -> bool:
    value = os.environ.get(ENVIRONMENT_VARIABLE, "").strip().lower()
    return value not in ("", "0", "false", "no", "off") or argv[:1] == [VERBOSE_FLAG]


def _is_command() -> bool:
    """Whether this process is the `kerascnn` console script (as named by pip's launchers)."""
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return re.sub(r"(-script\.pyw?|\.exe)$", "", script) == "kerascnn"


def quiet_if_command() -> None:
    """Called by `kerascnn/__init__.py` before TensorFlow loads: in the `kerascnn` command,
    sets TensorFlow's log level and starts the stderr filter, unless TensorFlow's lines were
    asked for."""
    if not _is_command() or "tensorflow" in sys.modules:
        return
    if _asked_for_logs(sys.argv[1:]):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _start_filter()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `kerascnn` console script: `kerascnn [--verbose] COMMAND ...`.

    Returns:
        The exit status of `kerascnn.cli.main`.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [VERBOSE_FLAG]:
        argv = argv[1:]
    from kerascnn.cli import main as cli_main

    try:
        return cli_main(argv)
    finally:
        _stop_filter()
