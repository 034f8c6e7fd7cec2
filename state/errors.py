"""Every error the state store raises, in one place.

Each subclasses the matching built-in so callers can catch broadly, and carries
the data a caller needs to say what went wrong and where. ``exit_code`` is how
the CLI ends when one is not handled: 2 when the user's input is at fault (a
state URL, a store that cannot be opened or is not ours to write), 1 when a run
failed (``orchestrator.errors`` has the numbers).

A class that takes arguments of its own rebuilds from them when unpickled
(``__reduce__``): the default would call it with the finished message alone.
"""

from __future__ import annotations

from typing import Any, ClassVar


class StateError(Exception):
    """Base class for state store errors: a run failure unless a subclass says otherwise."""

    exit_code: ClassVar[int] = 1


class StateURLError(StateError, ValueError):
    """A state URL that names no backend we have, or is malformed."""

    exit_code = 2

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"state URL {url!r}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.url, self.reason), self.__dict__


class StateOpenError(StateError, OSError):
    """The store's path cannot be opened or created."""

    exit_code = 2

    def __init__(self, location: str, reason: str) -> None:
        self.location = location
        self.reason = reason
        super().__init__(f"cannot open state store at {location}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.location, self.reason), self.__dict__


class CorruptStateError(StateError, ValueError):
    """The store exists but its content is unreadable; it is never replaced silently."""

    exit_code = 2

    def __init__(self, location: str, reason: str) -> None:
        self.location = location
        self.reason = reason
        super().__init__(
            f"state store at {location} is corrupt: {reason}. It was left untouched; "
            "restore it from a backup or run `orchestrator doctor` on it"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.location, self.reason), self.__dict__


class SchemaVersionError(StateError, ValueError):
    """The store was written by a newer (or unknown) schema version."""

    exit_code = 2

    def __init__(self, location: str, found: object, expected: int) -> None:
        self.location = location
        self.found = found
        self.expected = expected
        super().__init__(
            f"state store at {location} has schema version {found!r}; "
            f"this program reads version {expected}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.location, self.found, self.expected), self.__dict__


class LockTimeoutError(StateError, TimeoutError):
    """The write lock could not be had in time; carries the path and the wait."""

    def __init__(self, path: str, waited_s: float) -> None:
        self.path = path
        self.waited_s = waited_s
        super().__init__(f"timed out after {waited_s:.1f}s waiting for the write lock {path}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.path, self.waited_s), self.__dict__


class StoreClosedError(StateError, RuntimeError):
    """An operation on a store that was closed."""


class StateWriteError(StateError, OSError):
    """A write failed (disk full, I/O error); the previous state is intact."""

    def __init__(self, location: str, cause: OSError) -> None:
        self.location = location
        self.errno = cause.errno
        self.cause = cause
        super().__init__(
            f"could not write the state store at {location}: {cause.strerror or cause}. "
            "Nothing was committed; the previous state is intact"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.location, self.cause), self.__dict__


class NetworkFilesystemError(StateError, OSError):
    """File locks and WAL are unreliable on network file systems."""

    def __init__(self, path: str, fstype: str) -> None:
        self.path = path
        self.fstype = fstype
        super().__init__(
            f"{path} is on a network file system ({fstype}); file locks and SQLite WAL "
            "are not reliable there. Put the store on a local disk, or use a redis:// store"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.path, self.fstype), self.__dict__


class StoreMigratedError(StateError, PermissionError):
    """The store was migrated elsewhere: it is kept as a read-only backup."""

    exit_code = 2

    def __init__(self, location: str, moved_to: str) -> None:
        self.location = location
        self.moved_to = moved_to
        super().__init__(
            f"the state store at {location} was migrated to {moved_to} and is kept as a "
            "read-only backup; write to the new store"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.location, self.moved_to), self.__dict__


class MigrationError(StateError):
    """A migration was refused or failed; the source store is unchanged and still in use."""

    exit_code = 2

    def __init__(self, source: str, destination: str, reason: str) -> None:
        self.source = source
        self.destination = destination
        self.reason = reason
        super().__init__(f"cannot migrate {source} to {destination}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.source, self.destination, self.reason), self.__dict__


class StoreUnreachableError(StateError, ConnectionError):
    """A store on a server (Redis) could not be reached within the retry budget.

    Every commit acknowledged before is kept (as far as the server's own
    persistence keeps it); the operation that failed was not acknowledged, and
    repeating it is safe (``apply`` is idempotent).
    """

    def __init__(self, location: str, reason: str, tries: int, waited_s: float) -> None:
        self.location = location
        self.reason = reason
        self.tries = tries
        self.waited_s = waited_s
        super().__init__(
            f"lost the state store at {location}: {reason} "
            f"({tries} tries over {waited_s:.1f}s). The last operation was not "
            "acknowledged; everything acknowledged before it is kept. Start the server "
            "again and resume"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.location, self.reason, self.tries, self.waited_s), self.__dict__


class StoreLostError(StateError, RuntimeError):
    """The store's data vanished from its server (a restart without persistence, a delete)."""

    def __init__(self, location: str) -> None:
        self.location = location
        super().__init__(
            f"the state store at {location} is gone: its keys are no longer on the server "
            "(restarted without persistence, evicted, or deleted). Restore it from a backup; "
            "`orchestrator doctor` shows the server's persistence setting"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.location,), self.__dict__
