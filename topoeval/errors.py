"""Exceptions raised by topoeval.

Every exception derives from :class:`TopoevalError` and from the builtin that
best describes it (``ValueError``, ``TypeError``, ``OSError`` ...), so callers
may catch either.  Messages say what was wrong *and* how to fix it.

The command-line interface maps :class:`UsageError`-like errors (bad options)
to exit status 2 and every other :class:`TopoevalError` (bad data, unreadable
files) to exit status 1.
"""

from __future__ import annotations

__all__ = [
    "TopoevalError",
    "InvalidInputError",
    "InvalidDTypeError",
    "ShapeMismatchError",
    "NonFiniteError",
    "InvalidOptionError",
    "FileFormatError",
    "DatasetNotFoundError",
    "TopoevalIOError",
    "OutputExistsError",
    "MissingDependencyError",
    "InsufficientMemoryError",
]


class TopoevalError(Exception):
    """Base class of every error topoeval raises on purpose."""

    #: CLI exit status for this error: 1 = bad data, 2 = bad usage.
    exit_code = 1


class InvalidInputError(TopoevalError, ValueError):
    """An input array (or diagram) has a value, shape or size topoeval cannot use."""


class InvalidDTypeError(TopoevalError, TypeError):
    """An input array has a dtype topoeval cannot use (complex, object, string ...)."""


class ShapeMismatchError(InvalidInputError):
    """Two arrays that must have the same shape do not."""


class NonFiniteError(InvalidInputError):
    """An array holds NaN or +-inf where finite values are required."""


class InvalidOptionError(TopoevalError, ValueError):
    """A keyword argument / command-line option has an invalid value."""

    exit_code = 2


class FileFormatError(TopoevalError, ValueError):
    """A file is of an unknown kind, corrupt, truncated, or holds pickled objects."""


class DatasetNotFoundError(FileFormatError, KeyError):
    """A dataset / key named in ``file.h5:/path`` or ``file.npz:key`` does not exist."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class TopoevalIOError(TopoevalError, OSError):
    """A file cannot be read or written (missing, permissions, disk ...)."""


class OutputExistsError(TopoevalIOError, FileExistsError):
    """An output file exists already; pass ``force=True`` / ``--force`` to replace it."""

    exit_code = 2


class MissingDependencyError(TopoevalError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    exit_code = 2


class InsufficientMemoryError(TopoevalError, MemoryError):
    """A computation needs more memory than this machine has; the message says how much it held."""


def missing_dependency(module: str, extra: str, what: str) -> MissingDependencyError:
    """Build the error for a missing optional package ``module`` of extra ``extra``."""
    return MissingDependencyError(
        f"{what} needs the optional package {module!r}, which is not installed; "
        f"install it with: python -m pip install 'topoeval[{extra}]'"
    )
