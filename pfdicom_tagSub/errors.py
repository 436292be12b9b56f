"""The exceptions of pfdicom_tagSub, one hierarchy mapped to exit codes in one place.

Every user mistake is one of these, carrying a one-line message that names what was wrong;
``__main__`` turns them into that line on stderr and an exit code, never a traceback.

Key components:
    - TagSubError: the base; ``exitCode`` says how the command ends
    - UsageError, RuleError: bad arguments or bad rules, found before any file is touched (exit 2)
    - RunError: the run could not start, e.g. a missing input directory (exit 1)
    - FileError and its kinds: one file failed; the run records it and goes on

Dependencies:
    - standard library only
"""

from __future__ import annotations

EXIT_OK: int = 0
EXIT_FAILED: int = 1
EXIT_USAGE: int = 2


class TagSubError(Exception):
    """Base of every error this project raises on purpose.

    Attributes:
        exitCode: the command's exit status when this error ends a run.
    """

    exitCode: int = EXIT_FAILED


class UsageError(TagSubError, ValueError):
    """Bad or conflicting command-line arguments or API options."""

    exitCode = EXIT_USAGE


class RuleError(TagSubError, ValueError):
    """A rule that cannot be used: unknown keyword, bad regex, unknown function, bad JSON."""

    exitCode = EXIT_USAGE


class RunError(TagSubError):
    """The run cannot start: missing input directory, unwritable output directory."""

    exitCode = EXIT_FAILED


class FileError(TagSubError):
    """One file could not be processed; its neighbours carry on.

    Attributes:
        what: a short phrase for what happened to the file, e.g. ``"not written"``.
        message: the reason, for the terminal; may quote a rule's result.
        safe: the reason without any element value, for the run record that may be logged.
    """

    what: str = "failed"

    def __init__(self, message: str, safe: str | None = None) -> None:
        super().__init__(message)
        self.message: str = message
        self.safe: str = message if safe is None else safe


class NotDicomError(FileError):
    """The file is not DICOM: it is skipped and counted, not a failure."""

    what = "not DICOM"


class DicomReadError(FileError):
    """The file claims to be DICOM but cannot be parsed (truncated, corrupt)."""

    what = "cannot be read"


class ValueInvalidError(FileError):
    """A rule's result is not valid for the element's VR, VM or character set."""

    what = "not written"


class OutputError(FileError):
    """The output file cannot be named or written."""

    what = "not written"


class VerifyError(FileError):
    """``--verify`` found an original value in the output, which is therefore not written."""

    what = "not written"


def line_first(err: BaseException) -> str:
    """The first line of an exception's message (pydicom appends tracebacks to some).

    Example:
        >>> line_first(ValueError("bad value\\nTraceback ...")), line_first(KeyError())
        ('bad value', 'KeyError')
    """
    text: str = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def oserror_reason(err: OSError) -> str:
    """The system's reason for an I/O error, also when pydicom re-raised it with a traceback inside.

    Example:
        >>> oserror_reason(OSError(27, "File too large"))
        'File too large'
    """
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        cause = cause.__cause__
    return line_first(err)
