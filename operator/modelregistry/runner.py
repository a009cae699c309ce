"""Run the Kopf operator in the foreground, stopped by SIGINT (Ctrl-C) or SIGTERM.

One Ctrl-C must stop the process at any moment, so SIGINT and SIGTERM are
ours for the whole life of the process (`StopSignals`), not Kopf's or
asyncio's. Left to them, a Ctrl-C could be lost: `asyncio.run` installs a
SIGINT handler of its own that only cancels the main task, and Kopf replaces
it only after its tasks are spawned and have run a first step (its startup
handlers begin there, which on a busy machine takes a while). A Ctrl-C in
that window cancelled `kopf.operator()` without raising Kopf's stop flag;
`asyncio.run` then waited, without limit, for all of Kopf's tasks to end on
cancellation, and while they did not, the watches kept running. Only a
second Ctrl-C (by then Python's default handler again) ended the process.
SIGTERM before Kopf's handler killed the process without any cleanup.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Final, Self

if TYPE_CHECKING:
    from sys import UnraisableHookArgs

# Kopf and the operator's modules are imported where used: the CLI enters
# `StopSignals` first thing, before anything slow to import.

STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
# Long enough for the main thread to leave the hook that reports a lost exception.
_DELIVER_AGAIN_AFTER_SECONDS: Final = 0.05
# How long the operator may take to stop gracefully once asked to.
SHUTDOWN_GRACE_SECONDS: Final = 1.0


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived before the operator ran: unwind, stopping what was started."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """SIGINT and SIGTERM, handled the same way for as long as this is entered.

    Until the operator's event loop takes over (`operate`), the first signal
    raises `Interrupted` in the main thread, so `with` blocks stop what they
    started. While the operator runs, it sets the operator's stop flag. Any
    further signal is only noted: the shutdown under way is bounded, and
    cutting it short would leave servers behind.

    Python loses an exception raised where it can only print it: in a fork
    handler (each `Popen` runs logging's), a `__del__`, a weakref callback.
    A signal handled there is delivered again, so that it is raised in the
    main thread's next ordinary line.
    """

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self._raise_on_first = True
        self._previous: dict[signal.Signals, Callable[[int, FrameType | None], object] | int] = {}
        self._previous_unraisablehook = sys.unraisablehook

    def __enter__(self) -> Self:
        for signum in STOP_SIGNALS:
            previous = signal.getsignal(signum)
            self._previous[signum] = previous if previous is not None else signal.SIG_DFL
            signal.signal(signum, self._handle)
        self._previous_unraisablehook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        sys.unraisablehook = self._previous_unraisablehook

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.note(signum)
        if self._raise_on_first:
            self._raise_on_first = False
            raise Interrupted(signum)

    def _unraisable(self, unraisable: UnraisableHookArgs) -> None:
        if not isinstance(unraisable.exc_value, Interrupted):
            self._previous_unraisablehook(unraisable)
            return
        self._raise_on_first = True
        # From another thread, once this context (where the exception would
        # be lost again) has been left: the handler runs in the main thread.
        signum = unraisable.exc_value.signum
        again = threading.Timer(_DELIVER_AGAIN_AFTER_SECONDS, os.kill, (os.getpid(), signum))
        again.daemon = True
        again.start()

    def note(self, signum: int) -> None:
        if self.received is None:
            self.received = signal.Signals(signum)

    def defer(self) -> None:
        """From now on signals are only noted; the event loop takes them from here."""
        self._raise_on_first = False

    def reinstall(self) -> None:
        """Make the process-level handlers ours again (closing an event loop resets them)."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._handle)


def configure_logging(*, verbose: bool, json_lines: bool = False) -> None:
    """Text lines, or (`json_lines`) one JSON object per line naming the object it is about."""
    level = logging.DEBUG if verbose else logging.INFO
    if json_lines:
        from modelregistry.logs import JsonFormatter, ObjectContext

        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        handler.addFilter(ObjectContext())
        logging.basicConfig(level=level, handlers=[handler])
        # Warnings too, or they would be the only lines that are not JSON.
        logging.captureWarnings(True)
    else:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Request-level logs of the S3 client say nothing a person needs and
    # print signing details; keep them quiet even when verbose.
    for noisy in ("botocore", "boto3", "s3transfer", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not verbose:
        # Kopf logs "Handler ... succeeded" for every watch event of every object:
        # three lines per event that say nothing; its warnings and errors still show.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)


def run_operator(
    *,
    namespaces: list[str] | None = None,
    verbose: bool = False,
    signals: StopSignals,
    on_watching: Callable[[], None] | None = None,
) -> int:
    """Run until SIGINT or SIGTERM; `namespaces` (else MODELREGISTRY_NAMESPACES) limits the scope.

    `signals` must be entered already, so a signal that arrives while this
    imports and starts is not lost either. `on_watching` is called once the
    informers have listed everything and watch (`make run` says so then).
    """
    from modelregistry.settings import Settings

    settings = Settings.from_environment()
    configure_logging(verbose=verbose, json_lines=settings.log_format == "json")
    # Importing registers the handlers with Kopf's default registry.
    import modelregistry.handlers  # noqa: F401

    # What the imports made lives as long as the process: keep the collector
    # from walking it again on every full collection (a large share of the
    # operator's CPU while thousands of versions are in flight).
    gc.freeze()

    scope = list(namespaces or settings.namespaces)
    # A signal from here on is the event loop's to act on; `operate` looks at
    # what arrived before it took over.
    signals.defer()
    try:
        asyncio.run(operate(scope, signals, on_watching))
    finally:
        # Closing the loop reset both signals to their defaults; what follows
        # (stopping servers) must not be cut short by a second Ctrl-C.
        signals.reinstall()
    return 0


async def operate(
    scope: list[str], signals: StopSignals, on_watching: Callable[[], None] | None = None
) -> None:
    """Kopf's `operator()`, with its stop flag raised by our signal handlers."""
    import kopf

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        signals.note(signum)
        stop.set()

    def take_signals() -> None:
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, on_signal, signum)

    take_signals()
    if signals.received is not None:
        return  # it came before the loop took over: start nothing
    stopping = asyncio.create_task(stop.wait(), name="stop signal")
    # The tasks that exist now are ours: Kopf must neither wait for nor
    # cancel them as its own when it stops.
    existing = asyncio.all_tasks()
    tasks = await kopf.spawn_tasks(
        clusterwide=not scope,
        namespaces=scope,
        standalone=True,
        liveness_endpoint=None,
        # The periodic pass looks at the same namespaces as the watches.
        memo=kopf.Memo(namespaces=scope, on_watching=on_watching),
        # Set by our handlers only: with the flag set, Kopf also skips its
        # "ultimate termination" (SIGKILL of this thread after 10 minutes).
        stop_flag=stop,
    )
    # spawn_tasks() replaced our handlers with Kopf's; no await has happened
    # since, so no signal was dispatched to Kopf's, and from here on it is ours.
    take_signals()
    operator = asyncio.create_task(kopf.run_tasks(tasks, ignored=existing), name="operator")
    try:
        await asyncio.wait({operator, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not operator.done():
            # Kopf stops its root tasks at once, then gives the tasks they
            # spawned 5 s to end: requests still waiting for credentials, or
            # retried against an API server that is stopping too (Ctrl-C
            # reaches the whole process group). Cancelling ends those at once.
            await asyncio.wait({operator}, timeout=SHUTDOWN_GRACE_SECONDS)
            operator.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await operator
        elif not operator.cancelled():
            operator.result()  # Kopf ended by itself: its error, if any, is ours
    finally:
        stopping.cancel()
