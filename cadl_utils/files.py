"""Safe output files: check where a file will go, then write it atomically.

Every writer in cadl_utils does::

    path = check_output_path(path, inputs=(source_image,))
    with atomic_write(path) as tmp:
        write_the_file(tmp)

so a crash, Ctrl-C or a full disk never leaves a half-written file at ``path``, an existing file
there stays intact until the new one is complete, and an input is not overwritten by accident.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputError

PathLike = str | os.PathLike

# errno values that mean "the disk (or the user's quota) is full".
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def check_output_path(
    path: PathLike, inputs: Iterable[object] = (), overwrite_inputs: bool = False
) -> Path:
    """Make sure a file can be written at ``path`` and create its parent folders.

    Args:
        path: the file to write.
        inputs: the files the output was made from; entries that are not paths (arrays, None) are
            ignored.
        overwrite_inputs: allow ``path`` to be one of ``inputs``.

    Returns:
        ``path`` as a Path (``~`` expanded).

    Raises:
        OutputError: ``path`` is empty or a folder, its folder cannot be created or written, or it
            is one of ``inputs`` and ``overwrite_inputs`` is False.
    """
    if path is None or str(path) == "":
        raise OutputError("no output path given: pass a file name such as 'outputs/dream.png'")
    target = Path(path).expanduser()
    if target.is_dir():
        raise OutputError(
            f"output path {target} is a folder: give a file name inside it, "
            f"e.g. {target / ('result' + (target.suffix or '.png'))}"
        )
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the folder {parent} for {target.name}: {exc.strerror or exc}. "
            "Choose an output folder you can write to (for example outputs/)."
        ) from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"cannot write {target}: the folder {parent} is not writable. "
            "Choose another output folder (for example outputs/) or fix its permissions."
        )
    if not overwrite_inputs:
        for source in inputs:
            if isinstance(source, (str, os.PathLike)) and _same_file(target, Path(source)):
                raise OutputError(
                    f"refusing to overwrite the input file {source} with an output: choose another "
                    "output path, or pass overwrite_inputs=True if you really mean to replace it."
                )
    return target


def check_output_paths(
    paths: Iterable[PathLike], inputs: Iterable[object] = (), overwrite_inputs: bool = False
) -> list[Path]:
    """``check_output_path`` for every file a command will write, before it starts working.

    Commands call this up front so that an unusable output stops them in a second, not after a
    render whose result could not be saved.

    Args:
        paths: the files to write.
        inputs: the files the outputs are made from (see ``check_output_path``).
        overwrite_inputs: allow an output to be one of ``inputs``.

    Returns:
        The paths as Paths, in order.

    Raises:
        OutputError: for the first path that cannot be written (see ``check_output_path``).
    """
    # Read once: a generator of inputs would otherwise be used up by the first path.
    sources = list(inputs)
    return [check_output_path(path, sources, overwrite_inputs) for path in paths]


@contextmanager
def atomic_write(path: PathLike) -> Iterator[Path]:
    """Write a file atomically: the body writes a temporary file that replaces ``path`` at the end.

    The temporary file sits in the same folder (so the final ``os.replace`` is atomic), is hidden
    (its name starts with a dot) and keeps the target's extension, so writers that choose the
    format from the extension still work. On success it is flushed to disk and renamed over
    ``path``; on any exception, including KeyboardInterrupt, it is removed and ``path`` is left as
    it was.

    Args:
        path: the final file. Its folder must exist (see ``check_output_path``).

    Yields:
        The temporary file's Path (it exists and is empty).

    Raises:
        OutputError: the temporary file cannot be created, or an OSError happened while writing
            (a full disk says "disk full"). Other exceptions pass through unchanged.
    """
    target = Path(path).expanduser()
    tmp = _create_temp(target)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException as exc:
        _remove_quietly(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise _output_error(exc, target) from exc
        raise
    _fsync_folder(target.parent)


def _same_file(a: Path, b: Path) -> bool:
    """True if both paths name the same file (symlinks and hard links included)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.expanduser().resolve() == b.expanduser().resolve()
    except OSError:
        return False


def _create_temp(target: Path) -> Path:
    """Create an empty, hidden temporary file next to ``target``, honouring the umask."""
    for _ in range(100):
        name = f".{target.stem}.{secrets.token_hex(4)}.tmp{target.suffix}"
        tmp = target.parent / name
        try:
            # 0o666 & ~umask, like a normal open(), rather than mkstemp's private 0o600.
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise _output_error(exc, target) from exc
        os.close(fd)
        return tmp
    raise OutputError(f"cannot create a temporary file next to {target}: clean up .*.tmp files there")


def _output_error(exc: OSError, target: Path) -> OutputError:
    """Turn a low-level OSError into an OutputError naming the file and the fix."""
    if exc.errno in _DISK_FULL:
        return OutputError(
            f"could not write {target}: disk full (no space left on the device). "
            "Free some space or write to another disk; nothing was written."
        )
    if isinstance(exc, PermissionError):
        return OutputError(
            f"could not write {target}: permission denied. Choose an output folder you can write "
            "to (for example outputs/)."
        )
    if isinstance(exc, FileNotFoundError):
        return OutputError(
            f"could not write {target}: its folder {target.parent} does not exist. "
            "Create it first (check_output_path does) or choose another path."
        )
    reason = exc.strerror or str(exc)
    return OutputError(f"could not write {target}: {reason}. Nothing was written.")


def _fsync_file(path: Path) -> None:
    """Flush a finished file's data to disk before it is renamed into place."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Persist the rename itself; best effort because not every OS or filesystem allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_quietly(path: Path) -> None:
    """Delete a temporary file if it is still there."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        # Nothing more can be done; the hidden .tmp name marks it as safe to delete.
        pass
