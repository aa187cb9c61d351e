"""Output files written atomically: a temporary file in the same folder, then ``os.replace``.

A crash never leaves half a file, and an existing file is replaced only with ``force=True``.
:func:`check_output_path` says before any work is done that a path cannot be written.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from ..errors import OutputExistsError, TopoevalIOError


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, force: bool = False) -> Iterator[Path]:
    """Write a file atomically: yield a temporary path in the same folder, then rename it.

    The temporary file has the same suffix as ``path`` (so writers that pick the format
    from the extension, like matplotlib, work) and is removed if the block raises; on
    success it replaces ``path`` with ``os.replace`` (atomic on POSIX), so a crash never
    leaves half a file.  The final file gets the usual permissions (``0666 & ~umask``).

    Parameters
    ----------
    path : str or path-like
        The output file.
    force : bool, default False
        Replace ``path`` if it exists; otherwise an existing file raises OutputExistsError.

    Yields
    ------
    pathlib.Path
        The temporary file to write (it exists, empty; open it with mode ``"w"``/``"wb"``).

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``force`` is False.
    TopoevalIOError
        The folder does not exist or is not writable, or ``path`` is a folder.

    Examples
    --------
    >>> import os, tempfile
    >>> from topoeval.io import atomic_output
    >>> out = os.path.join(tempfile.mkdtemp(), "result.csv")
    >>> with atomic_output(out) as tmp:
    ...     _ = tmp.write_text("a,b\\n1,2\\n")
    >>> open(out).read()
    'a,b\\n1,2\\n'
    """
    path = Path(path)
    check_output_path(path, force=force)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=parent)
    except OSError as exc:
        raise TopoevalIOError(f"cannot write {path}: {exc.strerror or exc}; choose a writable folder") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not force and path.exists():
            raise OutputExistsError(f"{path} appeared while it was being written; pass --force / force=True")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def check_output_path(path: str | os.PathLike, *, force: bool = False) -> None:
    """Raise before any work is done if ``path`` cannot be written (exists without force,
    missing or unwritable folder, a folder itself)."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise TopoevalIOError(f"cannot write {path}: it is a folder; name a file")
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists already; pass --force (force=True) to replace it")
    if parent.exists() and not parent.is_dir():
        raise TopoevalIOError(f"cannot write {path}: {parent} is a file, not a folder")
    if not parent.is_dir():
        raise TopoevalIOError(f"cannot write {path}: the folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise TopoevalIOError(f"cannot write {path}: the folder {parent} is not writable (permission denied)")
    # a real probe: access() says yes to root on read-only or special file systems
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=parent)
    except OSError as exc:
        raise TopoevalIOError(
            f"cannot write {path}: {exc.strerror or exc} in the folder {parent}; choose a writable folder"
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
