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
    - interruption_of, interrupt_check: the interrupt received, also when a library swallowed or
      changed the exception it raised

Typical usage:
    with signals_raised():
        try:
            run()
        except (KeyboardInterrupt, Terminated) as interruption:
            return exitCode_of(interruption)

Dependencies:
    - signal, threading (standard library)
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType, TracebackType

INTERRUPT_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
EXIT_SIGNAL_BASE: int = 128
# the signal that ended the run, once one has: signal handlers are the process's, and so is this
_received: list[int] = []


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
    raise interruption_make(number)


def interruption_make(number: int) -> BaseException:
    """The exception a signal raises."""
    return Terminated() if number == signal.SIGTERM else KeyboardInterrupt()


def interruption_of(error: BaseException) -> BaseException | None:
    """What ended the run, when an interrupt did: the interrupt itself, or the one received while
    this other error unwound (library code may turn an exception raised inside it into another).

    Example:
        >>> interruption_of(ValueError("x")) is None, type(interruption_of(Terminated())).__name__
        (True, 'Terminated')
    """
    if isinstance(error, KeyboardInterrupt | Terminated):
        return error
    return interruption_make(_received[0]) if _received else None


def interrupt_check() -> None:
    """Raise the interrupt received, if one was and a library swallowed what it raised.

    Raises:
        KeyboardInterrupt, Terminated: a signal ended the run.
    """
    if _received:
        raise interruption_make(_received[0])


@contextlib.contextmanager
def signals_raised() -> Iterator[None]:
    """Within the block, SIGINT raises KeyboardInterrupt and SIGTERM raises Terminated, the first one only.

    A signal this process was started with ignored (``nohup``, a background job of a script) stays
    ignored. Outside the main thread, where handlers cannot be set, nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[signal.Signals, object] = {
        number: signal.getsignal(number) for number in INTERRUPT_SIGNALS
    }
    for number, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(number, signal_raise)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]  # what getsignal gave
        _received.clear()


class SignalsHeld:
    """Delays SIGINT and SIGTERM until the block ends (where the system can block signals).

    A class rather than a generator: it wraps every committed file, so it is kept cheap.
    """

    def __init__(self) -> None:
        self.previous: set[int | signal.Signals] | None = None

    def __enter__(self) -> SignalsHeld:
        if hasattr(signal, "pthread_sigmask"):
            self.previous = signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPT_SIGNALS)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.previous)  # a held signal is handled here
            self.previous = None


def signals_unblock() -> None:
    """Let SIGINT and SIGTERM in again (a worker process starts with them held by its parent)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, INTERRUPT_SIGNALS)
