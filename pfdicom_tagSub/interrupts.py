"""Interrupts: Ctrl-C (SIGINT) and ``docker stop`` (SIGTERM) end a run cleanly, at any moment.

The command turns both signals into exceptions that unwind the run: workers are stopped, the
run's temporary directory removed, and one line says how far the run got. The first signal
wins; later ones are ignored while the run ends, so that a second Ctrl-C cannot cut the clean-up
short. Short steps that must not be cut in two (giving an output its final name and counting it,
starting a worker process) hold the signals until they are done.

Key components:
    - Terminated: what SIGTERM raises (SIGINT raises Python's KeyboardInterrupt)
    - signals_raised: in ``main``, SIGINT and SIGTERM raise, once
    - SignalsHeld: a context manager that delays SIGINT and SIGTERM until its end
    - exitCode_of: 130 for SIGINT, 143 for SIGTERM
    - interruption_take, interrupt_check: the interrupt received, also when a library swallowed
      or changed the exception it raised

Typical usage:
    try:
        with signals_raised():
            run()
    except (KeyboardInterrupt, Terminated) as interruption:
        return exitCode_of(interruption)

Dependencies:
    - signal, threading (standard library)
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType
from typing import Any

INTERRUPT_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
EXIT_SIGNAL_BASE: int = 128
# the signal that ended the run, once one has, and one that waits for a held step to end: signal
# handlers are the process's, and so is this
_received: list[int] = []
_deferred: list[int] = []
_holding: list[int] = [0]


class Terminated(BaseException):
    """SIGTERM arrived: the run ends as it does on Ctrl-C (a BaseException, like KeyboardInterrupt,
    so that no per-file ``except Exception`` takes it for a problem with a file)."""


def exitCode_of(interruption: BaseException) -> int:
    """The exit status of a run ended by a signal: 128 plus the signal's number.

    Example:
        >>> exitCode_of(KeyboardInterrupt()), exitCode_of(Terminated())
        (130, 143)
    """
    number: int = signal.SIGTERM if isinstance(interruption, Terminated) else signal.SIGINT
    return EXIT_SIGNAL_BASE + number


def signal_raise(number: int, frame: FrameType | None) -> None:
    """The handler: ignore further interrupts while the run ends, and unwind it."""
    for other in INTERRUPT_SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    _received.append(number)
    if _holding[0]:  # raised when the held step is done
        _deferred.append(number)
        return
    raise interruption_make(number)


def interruption_make(number: int) -> BaseException:
    """The exception a signal raises."""
    return Terminated() if number == signal.SIGTERM else KeyboardInterrupt()


def interruption_take(error: BaseException) -> BaseException | None:
    """What ended the run, when an interrupt did (and then forget it): the interrupt itself, or the
    one received while this other error unwound (library code may turn an exception raised inside
    it into another).

    Example:
        >>> interruption_take(ValueError("x")) is None, type(interruption_take(Terminated())).__name__
        (True, 'Terminated')
    """
    received: list[int] = _received[:1]
    _received.clear()
    if isinstance(error, KeyboardInterrupt | Terminated):
        return error
    return interruption_make(received[0]) if received else None


def interrupt_check() -> None:
    """Raise the interrupt received, if one was and a library swallowed what it raised.

    Raises:
        KeyboardInterrupt, Terminated: a signal ended the run.
    """
    if _received:
        raise interruption_make(_received[0])


@contextlib.contextmanager
def signals_raised(restore: bool = True) -> Iterator[None]:
    """Within the block, SIGINT raises KeyboardInterrupt and SIGTERM raises Terminated, the first one only.

    A signal this process was started with ignored (``nohup``, a background job of a script) stays
    ignored. Outside the main thread, where handlers cannot be set, nothing changes.

    Args:
        restore: put the handlers back at the end; else ignore both signals from then on (the
            process is ending: a late Ctrl-C would kill it without its exit status).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[signal.Signals, object] = {
        number: signal.getsignal(number) for number in INTERRUPT_SIGNALS
    }
    _received.clear()
    _deferred.clear()
    unraisable: Callable[[Any], object] = sys.unraisablehook
    sys.unraisablehook = unraisable_quiet(unraisable)
    for number, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(number, signal_raise)
    try:
        yield
    finally:
        with SignalsHeld():  # one arriving now is for the handlers that follow
            for number, handler in previous.items():
                signal.signal(number, handler if restore else signal.SIG_IGN)  # type: ignore[arg-type]
        sys.unraisablehook = unraisable


def unraisable_quiet(report: Callable[[Any], object]) -> Callable[[Any], None]:
    """Python's report of an exception it had to drop (raised in a finalizer or a weakref callback),
    but for an interrupt: that one is raised again at the next ``interrupt_check``."""

    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt | Terminated):
            report(unraisable)

    return hook


class SignalsHeld:
    """Delays SIGINT and SIGTERM until the block ends.

    The signals are blocked in this thread, so that a process started within inherits them
    blocked; and the handler defers the exception to the block's end, for the kernel may deliver a
    signal to another thread of this process, whose handler then runs here all the same. A class
    rather than a generator: it wraps every committed file, so it is kept cheap.
    """

    def __init__(self) -> None:
        self.previous: set[int | signal.Signals] | None = None

    def __enter__(self) -> SignalsHeld:
        _holding[0] += 1
        if hasattr(signal, "pthread_sigmask"):
            self.previous = signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPT_SIGNALS)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.previous)  # a held signal is handled here
            self.previous = None
        _holding[0] -= 1
        if _deferred and not _holding[0]:
            number: int = _deferred.pop()
            if kind is None:
                raise interruption_make(number)


def signals_unblock() -> None:
    """Let SIGINT and SIGTERM in again (a worker process starts with them held by its parent)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, INTERRUPT_SIGNALS)
