"""Child processes that log to a file and never outlive their parent.

On Linux each child asks the kernel for SIGKILL when its parent dies
(PR_SET_PDEATHSIG), so a killed test run leaves no etcd or apiserver behind.
The kernel ties that signal to the *thread* that forked the child: start
servers from a thread that lives as long as they should (the main thread).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final

from modelregistry.localenv.errors import LocalEnvError

_PR_SET_PDEATHSIG: Final = 1
_STOP_GRACE_SECONDS: Final = 5.0
_LOG_TAIL_LINES: Final = 40


def _load_prctl() -> Callable[..., int] | None:
    # Resolved before any fork: loading a library in the forked child could
    # deadlock on a lock another thread of the parent held.
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_PRCTL: Final = _load_prctl()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ManagedProcess:
    """One server process with its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = [os.fspath(arg) for arg in argv]
        self.log_path = log_path
        self._env = dict(env) if env is not None else None
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self._popen is not None:
            raise LocalEnvError(f"{self.name} already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # The child keeps its own copy of the descriptor; ours is closed at once.
        with self.log_path.open("wb") as log_file:
            try:
                self._popen = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    env=self._env,
                    # Same session: a Ctrl-C in the terminal reaches the servers too.
                    start_new_session=False,
                    preexec_fn=_die_with_parent(os.getpid()) if _PRCTL is not None else None,
                )
            except OSError as error:
                raise LocalEnvError(
                    f"cannot start {self.name} ({self.argv[0]}): {error}"
                ) from error

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    def exit_code(self) -> int | None:
        """The exit code if the process has ended, else None."""
        return self._popen.poll() if self._popen is not None else None

    def check_running(self) -> None:
        """Raise `LocalEnvError` with the log tail if the process has ended."""
        code = self.exit_code()
        if code is not None:
            raise LocalEnvError(f"{self.name} exited with code {code}\n{self.describe_log()}")

    def describe_log(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines of the log, headed by its path, for error messages."""
        return f"--- last lines of {self.log_path} ---\n{self.log_tail(lines)}"

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "(no log)"
        return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])

    def stop(self, grace: float = _STOP_GRACE_SECONDS) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds. Safe to call more than once."""
        popen = self._popen
        if popen is not None and popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    popen.kill()
                popen.wait()


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    def preexec() -> None:
        assert _PRCTL is not None
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        # The parent may have died between fork and prctl; then nobody will
        # ever send the signal, so leave now.
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


def wait_until(
    check: Callable[[], bool],
    *,
    deadline: float,
    what: str,
    processes: Sequence[ManagedProcess],
    blame: ManagedProcess,
    interval: float = 0.1,
) -> None:
    """Poll `check` until it is true; fail fast if a process dies, or at `deadline`.

    `deadline` is a `time.monotonic()` value. On timeout the error carries the
    log tail of `blame`, the process expected to make `check` true.
    """
    while True:
        for process in processes:
            process.check_running()
        if check():
            return
        if time.monotonic() >= deadline:
            raise LocalEnvError(f"timed out waiting for {what}\n{blame.describe_log()}")
        time.sleep(interval)


class WorkDir:
    """A given directory (kept) or a fresh temporary one (removed by `cleanup`), always absolute."""

    def __init__(self, path: Path | None, prefix: str) -> None:
        # Absolute from the start: the servers get paths built from it, and a
        # relative one means something else to a server that resolves paths
        # itself (versitygw refuses a relative versions dir inside its root).
        self._given = path.resolve() if path is not None else None
        self._prefix = prefix
        self._path: Path | None = None

    def create(self) -> Path:
        if self._given is not None:
            self._given.mkdir(parents=True, exist_ok=True)
            self._path = self._given
        else:
            self._path = Path(tempfile.mkdtemp(prefix=self._prefix)).resolve()
        return self._path

    @property
    def path(self) -> Path | None:
        """The directory once created (a given directory is known from the start)."""
        return self._path if self._path is not None else self._given

    def cleanup(self) -> None:
        if self._given is None and self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)
        self._path = None
