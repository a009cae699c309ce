"""SIGINT and SIGTERM stop `make run` at any moment: the handling in `modelregistry.runner`."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from modelregistry.runner import Interrupted, StopSignals, operate


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_first_signal_during_start_up_unwinds_and_later_ones_do_not(signum: int) -> None:
    with StopSignals() as signals:
        with pytest.raises(Interrupted) as raised:
            os.kill(os.getpid(), signum)
            time.sleep(1)  # the handler runs as soon as the signal arrives
        assert raised.value.signum == signum
        # Stopping what was started must not be cut short by a second Ctrl-C.
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        assert signals.received == signum


def test_the_previous_handlers_are_back_after_leaving() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with StopSignals():
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, before[1])
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_signal_that_came_before_the_event_loop_took_over_starts_nothing() -> None:
    with StopSignals() as signals:
        signals.defer()
        os.kill(os.getpid(), signal.SIGTERM)  # only noted now
        assert signals.received == signal.SIGTERM
        # Kopf is never started: no cluster is needed for this to return.
        asyncio.run(asyncio.wait_for(operate([], signals), timeout=5))
        signals.reinstall()
        # Still ours after the loop closed (closing it resets both to the defaults).
        os.kill(os.getpid(), signal.SIGTERM)


class SignalledWhileCollected:
    """An object whose `__del__` gets the signal: an exception raised there is lost."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)


def test_a_signal_handled_where_python_loses_exceptions_is_raised_again() -> None:
    with StopSignals() as signals, pytest.raises(Interrupted):
        SignalledWhileCollected()  # collected at once: __del__ runs here
        assert signals.received == signal.SIGTERM
        time.sleep(5)  # the second delivery ends this at once
