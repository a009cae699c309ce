"""The lifecycle both local servers share: start, stop, context manager."""

from __future__ import annotations

import abc
import atexit
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from modelregistry.localenv.errors import LocalEnvError
from modelregistry.localenv.process import WorkDir


class LocalService(abc.ABC):
    """A server made of child processes and a work dir.

    `start()` cleans up after itself when it fails, and `stop()` (idempotent)
    also runs at interpreter exit, so no server outlives the tests or
    `make run`. Without a `workdir` a temporary directory is used and removed
    by `stop()`; a given one is kept.
    """

    name: str  # for messages: "control plane", "S3 server"

    def __init__(self, workdir: Path | None, *, prefix: str, start_timeout: float) -> None:
        self._workdir = WorkDir(workdir, prefix=prefix)
        self._start_timeout = start_timeout

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def workdir(self) -> Path:
        path = self._workdir.path
        if path is None:
            raise LocalEnvError(f"{self.name} not started")
        return path

    def start(self) -> None:
        if self._running():
            raise LocalEnvError(f"{self.name} already started")
        try:
            self._start(self._workdir.create(), deadline=time.monotonic() + self._start_timeout)
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)

    def stop(self) -> None:
        atexit.unregister(self.stop)
        self._stop()
        self._workdir.cleanup()

    @abc.abstractmethod
    def _running(self) -> bool: ...

    @abc.abstractmethod
    def _start(self, workdir: Path, deadline: float) -> None: ...

    @abc.abstractmethod
    def _stop(self) -> None: ...
