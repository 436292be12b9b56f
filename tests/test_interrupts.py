"""Interrupts: SIGINT and SIGTERM raise once, later ones wait or are ignored, a swallowed one comes back.

The signals are real, sent to this process; the handlers are set and put back by the code under
test, and every test checks that they were put back.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from pfdicom_tagSub.interrupts import (
    SignalsHeld,
    Terminated,
    exitCode_of,
    interrupt_check,
    interruption_take,
    signals_raised,
)


def signal_send(number: int) -> None:
    """Send a signal to this process and give Python the moment to run its handler."""
    os.kill(os.getpid(), number)
    time.sleep(0.01)


@pytest.fixture(autouse=True)
def handlersKept() -> Iterator[None]:
    """Every test starts with Python's own SIGINT handler (as in a terminal: under a script's
    background job or nohup the suite inherits SIGINT ignored, which the code under test keeps
    ignored), and leaves the handlers of SIGINT and SIGTERM as it found them."""
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    try:
        yield
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    finally:
        signal.signal(signal.SIGINT, inherited)


@pytest.mark.parametrize(
    ("number", "kind", "code"), [(signal.SIGINT, KeyboardInterrupt, 130), (signal.SIGTERM, Terminated, 143)]
)
def test_a_signal_raises_its_exception_and_gives_its_exit_code(
    number: int, kind: type[BaseException], code: int
) -> None:
    with pytest.raises(kind) as raised, signals_raised():
        signal_send(number)
    assert exitCode_of(raised.value) == code


def test_only_the_first_interrupt_raises_the_next_are_ignored_while_the_run_ends() -> None:
    with signals_raised():
        with pytest.raises(KeyboardInterrupt):
            signal_send(signal.SIGINT)
        signal_send(signal.SIGTERM)  # the run is already ending
        signal_send(signal.SIGINT)
    interruption_take(KeyboardInterrupt())


def test_a_signal_ignored_when_the_process_started_stays_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as nohup or a script's background job
    try:
        with signals_raised():
            signal_send(signal.SIGINT)
            with pytest.raises(Terminated):
                signal_send(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGINT, previous)
    interruption_take(Terminated())


def test_held_signals_are_raised_when_the_step_is_done_whichever_thread_the_kernel_chose() -> None:
    steps: list[str] = []
    bystander = threading.Thread(target=time.sleep, args=(0.5,))  # a thread the signal may be delivered to
    bystander.start()
    with pytest.raises(KeyboardInterrupt), signals_raised():
        with SignalsHeld():
            signal_send(signal.SIGINT)
            steps.append("placed")
            steps.append("counted")
        steps.append("never")
    bystander.join()
    assert steps == ["placed", "counted"]
    interruption_take(KeyboardInterrupt())


def test_an_interrupt_a_library_swallowed_is_raised_again_and_taken_once() -> None:
    with signals_raised():
        with contextlib.suppress(Terminated):  # as code that catches everything would
            signal_send(signal.SIGTERM)
        with pytest.raises(Terminated):
            interrupt_check()
        assert isinstance(interruption_take(RuntimeError("what the library raised instead")), Terminated)
        assert interruption_take(RuntimeError("later")) is None
        interrupt_check()


class Finalized:
    """Raises in its finalizer what a signal arriving there would raise."""

    def __init__(self, error: BaseException) -> None:
        self.error: BaseException = error

    def __del__(self) -> None:
        raise self.error


def test_an_interrupt_python_drops_in_a_finalizer_is_not_reported_other_errors_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reported: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: reported.append(repr(unraisable.exc_value)))
    with signals_raised():
        Finalized(KeyboardInterrupt())
        Finalized(ValueError("a real problem"))
        gc.collect()
    assert reported == ["ValueError('a real problem')"]


def test_at_the_program_s_end_later_interrupts_are_ignored() -> None:
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    try:
        with signals_raised(restore=False):
            pass
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == (
            signal.SIG_IGN,
            signal.SIG_IGN,
        )
        signal_send(signal.SIGTERM)  # would have killed the process without its exit status
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])
