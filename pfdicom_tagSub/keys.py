"""The secret key of the keyed functions (``hash``, ``uid``, ``dateshift``, ``dummy`` on a UID).

A keyed pseudonym is HMAC-SHA256 of the original under a key that only the data owner holds, so
nobody without the key can recompute it by trying every medical record number. The key comes
from ``--keyFile FILE``, else the environment variable ``PFDICOM_TAGSUB_KEY``, else a random key
created once at ``$XDG_CONFIG_HOME/pfdicom_tagSub/key`` (``~/.config/...`` by default): 32 random
bytes written as 64 hex characters, mode 0600, in a directory of mode 0700. The key is the
file's (or the variable's) bytes with trailing whitespace removed; fewer than 16 is refused.

The key travels to worker processes inside the pickled job (a ``Key`` held by the job), never
through a command line or a child's environment, and never appears in a repr, an output, a log
line, the run record or the audit.

Key components:
    - Key: the key's bytes, with HMAC-SHA256 on them and a repr that hides them
    - key_load: the key from --keyFile, the environment or the default file (created if need be)
    - keyPath_default: where the default key lives
    - key_create: the default key file written once, whole, mode 0600

Typical usage:
    key = key_load(options.keyFile, os.environ, announce=console.notice)
    key.hmac(b"MRN000123").hex()

Dependencies:
    - standard library only (hmac, secrets)
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pfdicom_tagSub.errors import UsageError

KEY_ENVIRONMENT: str = "PFDICOM_TAGSUB_KEY"
KEY_BYTES_MIN: int = 16
KEY_RANDOM_BYTES: int = 32
KEY_FILE_MODE: int = 0o600
KEY_DIR_MODE: int = 0o700
CONFIG_DIR: str = "pfdicom_tagSub"
KEY_NAME: str = "key"


@dataclass(frozen=True)
class Key:
    """The secret key. Its repr and str never show it.

    Example:
        >>> key = Key(b"0123456789abcdef")
        >>> key
        Key(<secret>)
        >>> key.hmac(b"1CT1").hex()[:16]
        'f5ddb316c77ac213'
    """

    secret: bytes = field(repr=False)

    def __repr__(self) -> str:
        return "Key(<secret>)"

    __str__ = __repr__

    def hmac(self, message: bytes) -> bytes:
        """HMAC-SHA256 of a message under this key."""
        return hmac.new(self.secret, message, hashlib.sha256).digest()


def key_fromBytes(raw: bytes, origin: str) -> Key:
    """A key from its bytes, trailing whitespace removed.

    Raises:
        UsageError: fewer than 16 bytes remain (the message says how many, never which).
    """
    secret: bytes = raw.rstrip()
    if len(secret) < KEY_BYTES_MIN:
        raise UsageError(
            f"{origin}: the key is {len(secret)} bytes; a key needs at least {KEY_BYTES_MIN} "
            f"(make one with: head -c {KEY_RANDOM_BYTES} /dev/urandom | xxd -p -c {KEY_RANDOM_BYTES})"
        )
    return Key(secret)


def keyFile_read(path: str, origin: str) -> Key:
    """The key in a file.

    Raises:
        UsageError: the file cannot be read, or holds too short a key.
    """
    try:
        with open(path, "rb") as stream:
            raw: bytes = stream.read()
    except OSError as err:
        raise UsageError(f"{origin} {path}: cannot read: {err.strerror or err}") from None
    return key_fromBytes(raw, f"{origin} {path}")


def keyPath_default(environ: Mapping[str, str]) -> str:
    """Where the generated key lives: ``$XDG_CONFIG_HOME/pfdicom_tagSub/key``, else under ``~/.config``.

    A relative ``XDG_CONFIG_HOME`` is ignored, as the XDG specification says.
    """
    config: str = environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(config):
        config = os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(config, CONFIG_DIR, KEY_NAME)


def key_create(path: str) -> bool:
    """Create the key file with a new random key, whole or not at all; True if this call created it.

    The key is written under a temporary name opened with O_EXCL and mode 0600, then linked to
    its name, which fails if another process was first: its key is then the one used.

    Raises:
        OSError: the directory or the file cannot be created.
    """
    directory: str = os.path.dirname(path)
    os.makedirs(directory, mode=KEY_DIR_MODE, exist_ok=True)
    temp: str = os.path.join(directory, f".{KEY_NAME}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    descriptor: int = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, KEY_FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(secrets.token_hex(KEY_RANDOM_BYTES).encode("ascii") + b"\n")
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)


def key_load(keyFile: str, environ: Mapping[str, str], announce: Callable[[str], None]) -> Key:
    """The run's key: ``--keyFile``, else ``PFDICOM_TAGSUB_KEY``, else the default file (made once).

    Args:
        keyFile: the ``--keyFile`` path, '' when not given.
        environ: the environment to read the variable and ``XDG_CONFIG_HOME`` from.
        announce: told, once, where a new key was created.

    Raises:
        UsageError: the key cannot be read or created, or is shorter than 16 bytes.
    """
    if keyFile:
        return keyFile_read(keyFile, "--keyFile")
    if KEY_ENVIRONMENT in environ:
        return key_fromBytes(os.fsencode(environ[KEY_ENVIRONMENT]), KEY_ENVIRONMENT)
    path: str = keyPath_default(environ)
    if not os.path.lexists(path):
        try:
            created: bool = key_create(path)
        except OSError as err:
            raise UsageError(
                f"cannot create the secret key {path}: {err.strerror or err} "
                f"(give one with --keyFile or {KEY_ENVIRONMENT})"
            ) from None
        if created:
            announce(
                f"created a new secret key in {path} (mode 0600). Keep it, and back it up: "
                "the same key gives the same pseudonyms, and nobody without it can recompute them"
            )
    return keyFile_read(path, "secret key")
