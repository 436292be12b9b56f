"""A small ``dp.qprint``-compatible console for the pf* API callers, without pfmisc.

Existing callers (the ChRIS wrapper among them) print through ``app.dp.qprint(message)``; this is
that object. Status lines go to stdout (to stderr when stdout carries JSON) and only up to the
run's verbosity; error lines always go to stderr. Lines are written through tqdm so that a
progress bar on the terminal is not torn.

Every line is one line: control characters in it (a file name may hold a newline) and bytes of
file names that are not UTF-8 are shown escaped (``text_escape``).

Key components:
    - Console: ``qprint(message, level=1, comms="status")``, ``error(message)``, ``notice(message)``
    - text_escape: text made one printable line
    - surrogates_escape, json_clean: text made valid Unicode (for JSON, SQLite); a value so made

Typical usage:
    dp = Console(verbosity=1)
    dp.qprint("Elapsed time = 0.5 seconds")

Dependencies:
    - tqdm, for bar-safe writing
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sys
import time
from typing import TextIO

from tqdm import tqdm

PROGRAM: str = "pfdicom_tagSub"
# what could end a line, move the cursor or reorder the text on a terminal, and the stand-ins of
# bytes that are not UTF-8 in a file name
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
SURROGATE = re.compile("[\ud800-\udfff]")
SHORT_ESCAPES: dict[str, str] = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def char_escape(match: re.Match[str]) -> str:
    """One character as an escape: ``\\n``, ``\\x1b``, ``\\u2028``; a byte of a name that is not
    UTF-8 (which Python holds as a surrogate) as that byte, ``\\xff``."""
    char: str = match.group()
    code: int = ord(char)
    if char in SHORT_ESCAPES:
        return SHORT_ESCAPES[char]
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def text_escape(text: str) -> str:
    r"""Text made one line that shows as it is: control characters and bytes that are not UTF-8 escaped.

    A file name may hold a newline: printed as is, it would start a line of its own, which could
    pass for one of this program's.

    Example:
        >>> print(text_escape("IM1\npfdicom_tagSub: error: x\udcff.dcm"))
        IM1\npfdicom_tagSub: error: x\xff.dcm
    """
    return UNPRINTABLE.sub(char_escape, text)


def surrogates_escape(text: str) -> str:
    r"""Text that is valid Unicode: the bytes of a file name that are not UTF-8 as ``\xNN``.

    Example:
        >>> surrogates_escape("caf\udce9.dcm")
        'caf\\xe9.dcm'
    """
    return SURROGATE.sub(char_escape, text)


def json_clean(value: object) -> object:
    r"""A value for ``json.dumps`` whose every text is valid Unicode: bytes of file names that are not
    UTF-8 escaped as ``text_escape`` does (JSON escapes control characters itself).

    Example:
        >>> json_clean({"file": "x\udcff.dcm", "n": [1, "a\nb"]})
        {'file': 'x\\xff.dcm', 'n': [1, 'a\nb']}
    """
    if isinstance(value, str):
        return surrogates_escape(value)
    if isinstance(value, dict):
        return {json_clean(key): json_clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_clean(item) for item in value]
    return value


class Console:
    """Where a run's human-readable lines go.

    Attributes:
        verbosity: status lines of a higher level are dropped; errors never are.
        syslog: prefix each line syslog-style (time, host, program[pid]).
        statusToStderr: send status lines to stderr, keeping stdout for JSON.
        within: the program name used in prefixes.
    """

    def __init__(
        self, verbosity: int = 1, syslog: bool = False, statusToStderr: bool = False, within: str = PROGRAM
    ) -> None:
        self.verbosity: int = verbosity
        self.syslog: bool = syslog
        self.statusToStderr: bool = statusToStderr
        self.within: str = within

    def prefix(self) -> str:
        """The syslog-style prefix, or '' when syslog is off."""
        if not self.syslog:
            return ""
        stamp: str = time.strftime("%b %d %H:%M:%S")
        return f"{stamp} {socket.gethostname()} {self.within}[{os.getpid()}]: "

    def write(self, message: str, stream: TextIO) -> None:
        """Write one line without tearing a progress bar."""
        encoding: str = getattr(stream, "encoding", None) or "utf-8"
        # a file name that is not valid in the terminal's encoding is shown escaped rather than
        # ending the run
        line: str = text_escape(self.prefix() + message).encode(encoding, "backslashreplace").decode(encoding)
        try:
            tqdm.write(line, file=stream)
            stream.flush()  # stdout and stderr lines keep their order in a log
        except BrokenPipeError:
            stream_silence(stream)

    def qprint(self, message: object, level: int = 1, comms: str = "status", **_ignored: object) -> None:
        """Print a status line when the verbosity reaches ``level``; an error line always.

        Args:
            message: the text.
            level: the lowest verbosity that shows it.
            comms: ``"status"`` or ``"error"``, as pfmisc spelled it.
        """
        if comms == "error":
            self.write(str(message), sys.stderr)
        elif self.verbosity >= level:
            self.write(str(message), sys.stderr if self.statusToStderr else sys.stdout)

    def out(self, message: str) -> None:
        """A line of what the run was asked to show (a dry run's plan), on stdout at every verbosity."""
        self.write(message, sys.stdout)

    def error(self, message: str) -> None:
        """An error line, ``pfdicom_tagSub: error: ...``, on stderr at every verbosity."""
        self.qprint(f"{self.within}: error: {message}", comms="error")

    def notice(self, message: str) -> None:
        """A line the user must see once whatever the verbosity (a secret key created), on stderr."""
        self.write(f"{self.within}: {message}", sys.stderr)

    def warning(self, message: str, level: int = 1) -> None:
        """A warning line on stderr, from verbosity ``level`` up."""
        if self.verbosity >= level:
            self.write(f"{self.within}: warning: {message}", sys.stderr)


def stream_silence(stream: TextIO) -> None:
    """A reader went away (``| head``): drop what would go to it; the run itself carries on."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
