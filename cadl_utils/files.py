"""Safe output files: ``path = check_output_path(path, inputs)``, then ``with atomic_write(path) as tmp:``,
so no crash, Ctrl-C or full disk leaves a half-written file, and no input is overwritten by accident."""

import errno
import glob
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from .errors import OutputError

PathLike = str | os.PathLike

_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}  # the disk, or the user's quota, is full


def check_output_path(path: PathLike, inputs: Iterable[object] = (), overwrite_inputs: bool = False) -> Path:
    """``path`` as a Path after checking it can be written (OutputError) and creating its folders; it may
    be one of ``inputs`` (the files the output is made from; non-paths are ignored) only if ``overwrite_inputs``."""
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise OutputError(f"no output path given ({path!r}): pass a file name such as 'outputs/dream.png'")
    if "\0" in str(path):
        raise OutputError(f"output path {str(path)!r} contains a NUL byte: give an ordinary file name")
    target = Path(os.path.expanduser(path))
    try:
        target.exists()  # raises for names the system cannot take (too long, a loop of links)
    except OSError as exc:
        raise OutputError(f"cannot use the output path {target}: {exc.strerror or exc}; give a shorter, ordinary file name") from exc
    if target.exists() and not target.is_dir() and not target.is_file():
        # Devices, FIFOs and sockets: "replacing" one would destroy it or write into something else.
        raise OutputError(f"output path {target} is not a regular file (a device, pipe or socket): "
                          "give the name of a new or ordinary file")
    if target.is_dir():
        raise OutputError(f"output path {target} is a folder: give a file name inside it, "
                          f"e.g. {target / ('result' + (target.suffix or '.png'))}")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder {parent} for {target.name}: {exc.strerror or exc}. "
                          "Choose an output folder you can write to (for example outputs/).") from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {target}: the folder {parent} is not writable. "
                          "Choose another output folder (for example outputs/) or fix its permissions.")
    for source in () if overwrite_inputs else inputs:
        if isinstance(source, (str, os.PathLike)) and _same_file(target, Path(os.path.expanduser(source))):
            raise OutputError(f"refusing to overwrite the input file {source} with an output: choose another "
                              "output path, or pass overwrite_inputs=True if you really mean to replace it.")
    return target


def check_output_paths(paths: Iterable[PathLike], inputs: Iterable[object] = (),
                       overwrite_inputs: bool = False) -> list[Path]:
    """``check_output_path`` for every file a command will write, before it starts working."""
    sources = list(inputs)  # a generator of inputs would be used up by the first path
    return [check_output_path(path, sources, overwrite_inputs) for path in paths]


@contextmanager
def atomic_write(path: PathLike) -> Iterator[Path]:
    """Yield a new, empty, hidden temporary file next to ``path`` (same extension) that replaces ``path``
    when the body finishes and is deleted on any exception (an OSError becomes an OutputError). Its name
    holds the writer's PID, so temporaries of killed writers (SIGKILL) are removed by the next write."""
    target = Path(os.path.expanduser(path))
    stale = target.parent.glob(f".{glob.escape(target.stem)}.*-*.tmp{glob.escape(target.suffix)}")
    for old in stale if os.name == "posix" else ():  # os.kill(pid, 0) only probes on POSIX
        pid = old.name[len(target.stem) + 2:].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            with suppress(OSError):
                old.unlink()
    tmp = target.parent / f".{target.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{target.suffix}"
    try:  # one try from creation on: an interrupt at any point removes the temporary file
        # Mode 0o666 & ~umask like a normal open(), not mkstemp's private 0o600.
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise _output_error(exc, target) from exc
        raise
    with suppress(OSError):  # persist the rename too, where the OS lets a folder be fsynced
        _fsync(target.parent)


def _fsync(path: Path) -> None:
    """Flush a file's (or folder's) data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    """True if a process with this PID exists (or may: it is another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True
    return True


def _same_file(a: Path, b: Path) -> bool:
    """True if both paths name the same file (symlinks and hard links included)."""
    try:
        return os.path.samefile(a, b) if a.exists() and b.exists() else a.resolve() == b.resolve()
    except OSError:
        return False


def _output_error(exc: OSError, target: Path) -> OutputError:
    """An OutputError naming the file and the fix for a low-level OSError."""
    if exc.errno in _DISK_FULL:
        reason = "disk full (no space left on the device). Free some space or write to another disk"
    elif isinstance(exc, PermissionError):
        reason = "permission denied. Choose an output folder you can write to (for example outputs/)"
    elif isinstance(exc, FileNotFoundError):
        reason = f"its folder {target.parent} does not exist. Create it first (check_output_path does)"
    else:
        reason = exc.strerror or str(exc)
    return OutputError(f"could not write {target}: {reason}; nothing was written.")
