"""Encoding a data set into bytes with pydicom's writer, the file's own encoding kept.

Whatever the destination (a temporary file, a dry run's ``NullStream`` that keeps nothing, or
memory for ``--verify`` in a dry run), a data set is encoded the same way, so a dry run fails a
file exactly where a real run would.

Key components:
    - dataset_encode: a data set into a binary stream, OutputError when pydicom cannot encode it
    - NullStream: a stream that only counts what it is given

Typical usage:
    dataset_encode(dataset, NullStream())

Dependencies:
    - pydicom, to write
"""

from __future__ import annotations

import os
from typing import IO

from pydicom.dataset import Dataset

from pfdicom_tagSub.errors import OutputError, line_first


class NullStream:
    """A binary stream that keeps nothing: what a dry run encodes into."""

    def __init__(self) -> None:
        self.position: int = 0

    def write(self, data: bytes) -> int:
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self.position = offset + (self.position if whence == os.SEEK_CUR else 0)
        return self.position

    def flush(self) -> None:
        pass


def dataset_encode(dataset: Dataset, stream: IO[bytes] | NullStream) -> None:
    """Encode a data set into a stream, the file's own encoding kept.

    Raises:
        OutputError: pydicom cannot encode it.
        OSError: the stream cannot be written.
    """
    try:
        try:
            dataset.save_as(stream, enforce_file_format=False)  # type: ignore[arg-type]
        except (TypeError, ValueError, KeyError):
            # a data set encoded otherwise than its transfer syntax says (implicit VR under an
            # explicit syntax): give every element its dictionary VR and encode it as the syntax says
            for _element in dataset.iterall():
                pass
            if isinstance(stream, NullStream):
                stream.position = 0
            else:
                stream.seek(0)
                stream.truncate()
            dataset.save_as(stream, enforce_file_format=False)  # type: ignore[arg-type]
    except OSError:
        raise
    except Exception as err:  # pydicom's reason may quote a value: only at verbosity 5
        raise OutputError(
            f"pydicom cannot encode the data set: {line_first(err)}",
            f"pydicom cannot encode the data set ({type(err).__name__})",
        ) from None
