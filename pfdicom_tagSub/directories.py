"""Output directories: created by the parent as outputs need them, each once, and the ones a run
created known, so that a run that writes nothing leaves no empty directory behind.

The run's parent process creates every output directory, just before it places the first output
there (workers write into the run's temporary directory only). What stands in the way of one is
named: "output directory out/a is a file", "... is a dangling link (to /gone)".

Key components:
    - OutputDirs: ``prepare(directory)``, ``created_remove()``
    - dir_obstacle: what stands where a directory should be

Typical usage:
    dirs = OutputDirs()
    dirs.prepare("/out/a/b")
    dirs.created_remove()  # nothing was written: /out/a/b and /out/a go, if empty and created here

Dependencies:
    - pfdicom_tagSub.errors
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

from pfdicom_tagSub.errors import OutputError


def dir_obstacle(path: str) -> str:
    """What stands where a directory should be, said of it: '' when nothing does.

    Example:
        >>> dir_obstacle("/"), dir_obstacle(__file__)
        ('', 'is a file')
    """
    if os.path.isdir(path) or not os.path.lexists(path):
        return ""
    if os.path.islink(path):
        return f"is a dangling link (to {os.readlink(path)})"
    return "is a file" if os.path.isfile(path) else "is not a directory"


@dataclass
class OutputDirs:
    """The output directories of a run, created by the parent as outputs need them, each once.

    The ones this run created are remembered, so that a run that writes nothing can remove them
    again (and nothing else).

    Attributes:
        prepared: the directories known to exist.
        created: the directories this run created, each after its parent.
    """

    prepared: set[str] = field(default_factory=set)
    created: list[str] = field(default_factory=list)

    def prepare(self, directory: str) -> None:
        """Create a directory and any missing parents, noting each one created.

        Raises:
            OutputError: a file or a dangling link stands in the way, or it cannot be created.
        """
        if directory in self.prepared:
            return
        missing: list[str] = []
        current: str = directory
        while not os.path.isdir(current) and os.path.dirname(current) != current:
            missing.append(current)
            current = os.path.dirname(current)
        for path in reversed(missing):
            try:
                os.mkdir(path)
            except FileExistsError:
                obstacle: str = dir_obstacle(path)
                if not obstacle:
                    continue  # created a moment ago by another process
                where: str = "" if path == directory else f": {path}"
                raise OutputError(f"output directory {directory}{where} {obstacle}") from None
            except OSError as err:
                raise OutputError(
                    f"cannot create output directory {directory}: {err.strerror or err}"
                ) from None
            self.created.append(path)
        self.prepared.add(directory)

    def created_remove(self) -> None:
        """Remove the directories this run created, deepest first, each only if it is empty."""
        for path in reversed(self.created):
            with contextlib.suppress(OSError):
                os.rmdir(path)
        self.created.clear()
        self.prepared.clear()
