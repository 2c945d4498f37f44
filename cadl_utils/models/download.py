"""Download, verify and unpack Google's inception5h graph (the classic Deep Dream network).

`ensure_inception5h` is what the loader calls: it returns the paths of the verified graph and labels,
from the cache when possible, otherwise by downloading ``inception5h.zip``, checking its pinned SHA-1,
unpacking it with guards against hostile archives and checking the graph's own SHA-1.
`inception5h_from_file` does the same for a zip or .pb the user already has.

Cache layout (``cadl_utils.config.cache_dir() / "inception5h"``)::

    inception5h.zip                          the download, kept so a damaged .pb is rebuilt offline;
                                             a user without network can put the zip here by hand
    tensorflow_inception_graph.pb            the graph
    tensorflow_inception_graph.pb.verified   SHA-1, size and mtime of the checked .pb (later loads
                                             skip hashing 54 MB)
    imagenet_comp_graph_label_strings.txt    labels
    LICENSE
    custom-<sha1>/                           zips the user loaded that are not the pinned one

Security: downloads use https only, except a local mirror (http://127.0.0.1, http://localhost or
file://) set explicitly through ``url=`` or ``CADL_INCEPTION5H_URL``; redirects may not leave https.
Nothing unverified or half-written is ever left at a final cache path.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import stat
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import config
from ..errors import DownloadError, IntegrityError, ParameterError

INCEPTION5H_URL = "https://storage.googleapis.com/download.tensorflow.org/models/inception5h.zip"
ZIP_SHA1 = "e3b84c7e240ce8025b30d868f5e840b4bba9761d"
PB_SHA1 = "c8a5a000ee8d8dd75886f152a50a9c5b53d726a5"
LABELS_SHA1 = "5897b4e765c5ce9c66d570102d0317219d033995"
ZIP_NAME = "inception5h.zip"
PB_NAME = "tensorflow_inception_graph.pb"
LABELS_NAME = "imagenet_comp_graph_label_strings.txt"
LICENSE_NAME = "LICENSE"
URL_ENV = "CADL_INCEPTION5H_URL"
CACHE_SUBDIR = "inception5h"

# The real zip is about 49 MB and its .pb about 54 MB: the limits are generous, they only stop
# a hostile or broken mirror from filling the disk.
MAX_DOWNLOAD_BYTES = 200 * 2**20
MAX_MEMBER_BYTES = 200 * 2**20
MAX_TOTAL_BYTES = 300 * 2**20
MAX_MEMBERS = 1000
# A .part file untouched for this long belongs to a run that was killed (a live download writes
# to its .part at least once per socket timeout).
STALE_PART_SECONDS = 15 * 60
CHUNK_BYTES = 64 * 1024
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_RETRY_HTTP_CODES = frozenset({408, 425, 429})
_USER_AGENT = "cadl_utils (inception5h downloader; python urllib)"
_MARKER_SUFFIX = ".verified"
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")

ProgressHook = Callable[[int, "int | None"], None]

PathLike = str | os.PathLike


@dataclass(frozen=True)
class Inception5hFiles:
    """Where the inception5h files are.

    Attributes:
        pb: the frozen graph ``tensorflow_inception_graph.pb``.
        labels: ``imagenet_comp_graph_label_strings.txt``, or None when the user's .pb has none beside it.
        source: ``"cache"`` (verified earlier), ``"download"``, ``"zip"`` (unpacked from a zip in the cache
            or given by the user) or ``"pb"`` (the user's own .pb, used in place).
        verified: False only when the user opted out of the hash check (``verify=False``).
    """

    pb: Path
    labels: Path | None
    source: str
    verified: bool = True


class _TransferError(Exception):
    """One failed network attempt; `retryable` says whether trying again can help."""

    def __init__(self, reason: str, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


# --------------------------------------------------------------------------------------------
# Hashes and small file helpers
# --------------------------------------------------------------------------------------------


def sha1_of(path: PathLike) -> str:
    """SHA-1 of a file, read in blocks.

    Args:
        path: the file.

    Returns:
        The hex digest (40 lower-case characters).
    """
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha1").hexdigest()
    except OSError as err:
        raise DownloadError(f"cannot read {path}: {err.strerror or err}") from err


def inception5h_dir(cache_dir: PathLike | None = None) -> Path:
    """The cache folder of inception5h.

    Args:
        cache_dir: cadl_utils cache root, or None for ``CADL_CACHE_DIR`` / ``~/.cache/cadl_utils``.

    Returns:
        ``<cache root>/inception5h`` (not created here).
    """
    return config.cache_dir(cache_dir) / CACHE_SUBDIR


def _reserve_temp(folder: Path, prefix: str, suffix: str) -> Path:
    """Create an empty, uniquely named file in `folder` (raises OSError when it is not writable)."""
    handle, name = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
    os.close(handle)
    return Path(name)


def _not_writable(folder: Path, err: OSError) -> DownloadError:
    """The error for a cache folder that cannot be written (read-only, not a folder, disk full)."""
    reason = err.strerror or str(err)
    if err.errno == errno.ENOSPC:
        problem = "the disk is full; free some space or"
    else:
        problem = "the folder is not writable;"
    return DownloadError(
        f"cannot write in the cache folder {folder} ({reason}): {problem} set CADL_CACHE_DIR to a "
        "writable folder (or pass cache_dir=...)"
    )


@contextmanager
def _atomic_file(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; it replaces `target` only if the block succeeds."""
    temp = _reserve_temp(target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        yield temp
        # mkstemp makes 0600 files; a shared (teacher's) cache must stay readable by others.
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _remove_quietly(*paths: Path) -> None:
    """Delete files that may or may not exist; a failure here must not hide the real error."""
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def _check_sha1(path: Path, expected: str | None, what: str, delete: bool) -> str:
    """Hash `path` and compare with `expected`.

    Args:
        path: the file.
        expected: the pinned hex SHA-1, or None to only compute it.
        what: how the message names the file (including its path).
        delete: delete the file on a mismatch (files in our cache) or leave it (the user's files).

    Returns:
        The actual SHA-1.
    """
    actual = sha1_of(path)
    if expected is None or actual == expected.lower():
        return actual
    if delete:
        _remove_quietly(path)
        fate = "the file was deleted"
    else:
        fate = "the file was left in place"
    raise IntegrityError(
        f"{what} does not match its pinned SHA-1 (expected {expected.lower()}, got {actual}): "
        f"it is damaged or not the expected file; {fate}"
    )


# --------------------------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------------------------


def _resolve_url(url: str | None) -> str:
    """The URL argument, else ``CADL_INCEPTION5H_URL``, else the official address."""
    if url is not None and url.strip():
        return url.strip()
    mirror = os.environ.get(URL_ENV, "").strip()
    return mirror or INCEPTION5H_URL


def _check_url(url: str) -> None:
    """Allow https anywhere, and plain http or file:// only for a local mirror."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "https" and parts.hostname:
        return
    if scheme == "file":
        return
    if scheme == "http" and parts.hostname in LOCAL_HOSTS:
        return
    if scheme == "http":
        reason = (
            "plain http is not allowed, because what it carries can be read and altered on the way; "
            "use an https address, or a local mirror on http://127.0.0.1, http://localhost or file://"
        )
    else:
        reason = (
            f"the URL scheme {scheme or '(none)'!r} is not supported; use https://..., or "
            "file:///absolute/path/inception5h.zip for a local copy"
        )
    raise DownloadError(f"refusing to download {url}: {reason} (argument url= or {URL_ENV})")


class _PolicyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to allowed URLs, and never from https down to anything else."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 (urllib hook)
        was_https = urllib.parse.urlsplit(req.full_url).scheme.lower() == "https"
        is_https = urllib.parse.urlsplit(newurl).scheme.lower() == "https"
        if was_https and not is_https:
            fp.close()
            raise DownloadError(f"refusing a redirect from {req.full_url} to non-https {newurl}")
        try:
            _check_url(newurl)
        except DownloadError:
            fp.close()
            raise
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener_for(url: str) -> urllib.request.OpenerDirector:
    """A urllib opener with the redirect policy; a local mirror bypasses any proxy."""
    handlers: list = [_PolicyRedirects()]
    if urllib.parse.urlsplit(url).hostname in LOCAL_HOSTS:
        handlers.append(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener(*handlers)


# --------------------------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------------------------


def _describe(exc: BaseException | str, timeout: float) -> str:
    """A plain-words reason for a network failure."""
    if isinstance(exc, str):
        return exc
    if isinstance(exc, TimeoutError):
        return f"timed out (no answer within {timeout:g} s)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing is listening at that address)"
    if isinstance(exc, socket.gaierror):
        return f"the host name could not be resolved ({exc.strerror}); is there no network?"
    if isinstance(exc, ConnectionError):
        return f"the connection broke ({exc})"
    if isinstance(exc, FileNotFoundError):
        return f"no such file ({exc.filename or exc})"
    if isinstance(exc, ssl.SSLError):
        return f"the secure connection failed ({exc})"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} (errno {exc.errno})"
    return str(exc) or type(exc).__name__


def _is_transient(exc: BaseException | str) -> bool:
    """Whether trying again can help: timeouts and broken or refused connections, not DNS or TLS."""
    if isinstance(exc, (TimeoutError, ConnectionError, http.client.IncompleteRead)):
        return True
    return False


def _content_length(response) -> int | None:
    """The announced body size, or None when the server did not say (or said nonsense)."""
    value = response.headers.get("Content-Length")
    try:
        length = int(value)
    except (TypeError, ValueError):
        return None
    return length if length >= 0 else None


class _ProgressReport:
    """Feeds a tqdm bar (progress=True) or the user's hook (a callable) as bytes arrive."""

    def __init__(self, progress: bool | ProgressHook, total: int | None, label: str) -> None:
        self._hook = progress if callable(progress) else None
        self._total = total
        self._shown = 0
        self._bar = None
        if progress is True:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label, leave=False
            )

    def update(self, received: int) -> None:
        """Report that `received` bytes have arrived so far."""
        if self._bar is not None:
            self._bar.update(received - self._shown)
            self._shown = received
        if self._hook is not None:
            self._hook(received, self._total)

    def close(self) -> None:
        """Remove the bar."""
        if self._bar is not None:
            self._bar.close()


def _copy_body(response, part: Path, expected: int | None, timeout: float,
               progress: bool | ProgressHook, max_bytes: int | None, label: str) -> int:
    """Stream the response body into `part`; network faults become _TransferError.

    Returns:
        The number of bytes received.
    """
    report = _ProgressReport(progress, expected, label)
    received = 0
    try:
        with open(part, "wb") as out:
            while True:
                try:
                    chunk = response.read(CHUNK_BYTES)
                except (OSError, http.client.HTTPException) as err:
                    reason = f"the transfer failed after {received} bytes: {_describe(err, timeout)}"
                    raise _TransferError(reason, _is_transient(err)) from err
                if not chunk:
                    break
                received += len(chunk)
                if max_bytes is not None and received > max_bytes:
                    raise _TransferError(f"the server sent more than {max_bytes} bytes (the limit)", False)
                try:
                    out.write(chunk)
                except OSError as err:
                    raise _not_writable(part.parent, err) from err
                report.update(received)
            out.flush()
            os.fsync(out.fileno())
    except OSError as err:
        # Opening, flushing or syncing the .part failed: a local problem, not a network one.
        raise _not_writable(part.parent, err) from err
    finally:
        report.close()
    return received


def _open_response(url: str, timeout: float):
    """Send the request; failures become _TransferError (retryable or not)."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        return _opener_for(url).open(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        err.close()
        retryable = err.code >= 500 or err.code in _RETRY_HTTP_CODES
        hint = " (there is no file at this address)" if err.code == 404 else ""
        raise _TransferError(f"the server answered HTTP {err.code} {err.reason}{hint}", retryable) from err
    except urllib.error.URLError as err:
        raise _TransferError(_describe(err.reason, timeout), _is_transient(err.reason)) from err
    except (OSError, http.client.HTTPException) as err:
        # urllib does not wrap failures while reading the status line (e.g. a read timeout).
        raise _TransferError(_describe(err, timeout), _is_transient(err)) from err


def _fetch_into(url: str, part: Path, timeout: float, progress: bool | ProgressHook,
                max_bytes: int | None, label: str) -> None:
    """One attempt: download `url` into `part` and check the body is complete."""
    with _open_response(url, timeout) as response:
        expected = _content_length(response)
        if max_bytes is not None and expected is not None and expected > max_bytes:
            reason = f"the server announces {expected} bytes, more than the limit of {max_bytes}"
            raise _TransferError(reason, False)
        received = _copy_body(response, part, expected, timeout, progress, max_bytes, label)
    if expected is not None and received != expected:
        raise _TransferError(
            f"the download was truncated: the connection closed after {received} of {expected} bytes", True
        )


def _remove_stale(folder: Path, pattern: str) -> None:
    """Delete files or folders matching `pattern` left by killed runs (not those of a live one).

    A live download or extraction touches its temporary file at least once per socket timeout, so
    anything untouched for ``STALE_PART_SECONDS`` belongs to a run that was killed.
    """
    now = time.time()
    for path in folder.glob(pattern):
        try:
            if now - path.stat().st_mtime <= STALE_PART_SECONDS:
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            pass


def _download_once(url: str, dest: Path, sha1: str | None, timeout: float,
                   progress: bool | ProgressHook, max_bytes: int | None) -> None:
    """One attempt into a fresh .part beside `dest`; `dest` is replaced only by a verified, complete file."""
    try:
        part = _reserve_temp(dest.parent, prefix=f"{dest.name}.", suffix=".part")
    except OSError as err:
        raise _not_writable(dest.parent, err) from err
    try:
        _fetch_into(url, part, timeout, progress, max_bytes, label=dest.name)
        actual = sha1_of(part)
        if sha1 is not None and actual != sha1.lower():
            raise IntegrityError(
                f"the file downloaded from {url} does not match its pinned SHA-1 (expected {sha1.lower()}, "
                f"got {actual}): it is damaged or not the expected file; the downloaded file was deleted "
                f"and nothing was saved at {dest}"
            )
        os.chmod(part, 0o644)
        os.replace(part, dest)
    finally:
        # Also runs on KeyboardInterrupt: no partial file survives an interrupted download.
        part.unlink(missing_ok=True)


def _check_download_args(timeout: float, retries: int, backoff: float) -> None:
    """Reject nonsense before touching the network."""
    if not timeout > 0:
        raise ParameterError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if retries < 0:
        raise ParameterError(f"retries must be 0 or more, got {retries!r}")
    if backoff < 0:
        raise ParameterError(f"backoff must be 0 or more seconds, got {backoff!r}")


def download_file(url: str, dest: PathLike, *, sha1: str | None = None, timeout: float = 30.0,
                  retries: int = 3, progress: bool | ProgressHook = True, backoff: float = 1.0,
                  max_bytes: int | None = None) -> Path:
    """Download `url` to `dest` atomically, with retries and an optional SHA-1 check.

    The body goes to a uniquely named ``<dest>.<random>.part`` beside `dest` and replaces `dest` only
    when it is complete (Content-Length honoured) and matches `sha1`. Timeouts, refused or broken
    connections, truncated bodies and HTTP 5xx/429 are retried with exponential backoff; HTTP 404
    and other client errors, DNS and TLS failures are not.

    Args:
        url: https URL, or a local mirror (http://127.0.0.1, http://localhost, file://).
        dest: final path (its folder is created).
        sha1: expected hex SHA-1, or None for no check.
        timeout: seconds to wait for the connection and for each read.
        retries: attempts after the first one (0 = try once).
        progress: True for a tqdm bar, False for none, or a callable ``hook(received, total_or_None)``
            called after every block (an exception raised there, even KeyboardInterrupt, aborts the
            download and leaves no partial file).
        backoff: seconds before the first retry; doubled for each further one.
        max_bytes: refuse bodies larger than this (None = no limit).

    Returns:
        `dest` as a Path.

    Raises:
        DownloadError: bad URL, network failure after the retries, folder not writable.
        IntegrityError: the SHA-1 does not match (the downloaded file is deleted).
    """
    _check_download_args(timeout, retries, backoff)
    _check_url(url)
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _not_writable(dest.parent, err) from err
    _remove_stale(dest.parent, f"{glob.escape(dest.name)}.*.part")
    attempts = retries + 1
    failure = None
    for attempt in range(1, attempts + 1):
        try:
            _download_once(url, dest, sha1, timeout, progress, max_bytes)
            return dest
        except _TransferError as err:
            failure = err
            if not err.retryable or attempt == attempts:
                break
        time.sleep(backoff * 2 ** (attempt - 1))
    tries = f"{attempt} attempt" + ("s" if attempt > 1 else "")
    raise DownloadError(f"could not download {url} ({tries}): {failure.reason}")


# --------------------------------------------------------------------------------------------
# Safe extraction
# --------------------------------------------------------------------------------------------


def _member_parts(info: zipfile.ZipInfo, zip_path: PathLike) -> list[str]:
    """The relative path of a member, split in parts; absolute paths and `..` are refused."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or _WINDOWS_DRIVE.match(name):
        raise IntegrityError(f"unsafe zip {zip_path}: member {info.filename!r} has an absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise IntegrityError(
            f"unsafe zip {zip_path}: member {info.filename!r} points outside the folder ('..')"
        )
    if not parts:
        raise IntegrityError(f"unsafe zip {zip_path}: a member has an empty name ({info.filename!r})")
    return parts


def _check_member(info: zipfile.ZipInfo, zip_path: PathLike, member_limit: int) -> None:
    """Refuse links, special files, encrypted members and oversize members."""
    _member_parts(info, zip_path)
    kind = stat.S_IFMT(info.external_attr >> 16)
    # 0 means the archiver recorded no Unix mode (e.g. made on Windows): a plain file or folder.
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        what = "a symbolic link" if kind == stat.S_IFLNK else "a special file (device, pipe or socket)"
        raise IntegrityError(f"unsafe zip {zip_path}: member {info.filename!r} is {what}")
    if info.flag_bits & 0x1:
        raise IntegrityError(f"unsupported zip {zip_path}: member {info.filename!r} is encrypted")
    if info.file_size > member_limit:
        raise IntegrityError(
            f"unsafe zip {zip_path}: member {info.filename!r} is {info.file_size} bytes, "
            f"more than the limit of {member_limit}"
        )


def _check_archive(infos: Sequence[zipfile.ZipInfo], zip_path: PathLike, member_limit: int,
                   total_limit: int) -> None:
    """Check every member (even those not extracted: one hostile member condemns the archive)."""
    if len(infos) > MAX_MEMBERS:
        raise IntegrityError(
            f"unsafe zip {zip_path}: {len(infos)} members, more than the limit of {MAX_MEMBERS}"
        )
    total = 0
    for info in infos:
        _check_member(info, zip_path, member_limit)
        total += info.file_size
    if total > total_limit:
        raise IntegrityError(
            f"unsafe zip {zip_path}: its members add up to {total} bytes, "
            f"more than the limit of {total_limit}"
        )


def _choose(archive: zipfile.ZipFile, names: Sequence[str] | None,
            zip_path: PathLike) -> list[zipfile.ZipInfo]:
    """The members to extract: all of them, or those named."""
    if names is None:
        return archive.infolist()
    chosen = []
    for name in names:
        try:
            chosen.append(archive.getinfo(name))
        except KeyError:
            raise IntegrityError(f"zip {zip_path} has no member {name!r}") from None
    return chosen


def _extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, member_limit: int,
                    zip_path: PathLike) -> None:
    """Copy one member to `target` atomically, counting bytes (headers can lie)."""
    with _atomic_file(target) as temp:
        copied = 0
        try:
            with archive.open(info) as source, open(temp, "wb") as out:
                while True:
                    chunk = source.read(CHUNK_BYTES)
                    if not chunk:
                        break
                    copied += len(chunk)
                    if copied > member_limit:
                        raise IntegrityError(
                            f"unsafe zip {zip_path}: member {info.filename!r} unpacks to more than "
                            f"the limit of {member_limit} bytes"
                        )
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as err:
            reason = f"damaged zip {zip_path}: member {info.filename!r} cannot be read ({err})"
            raise IntegrityError(reason) from err


def _open_zip(zip_path: PathLike) -> zipfile.ZipFile:
    """Open an archive; a file that is not a zip becomes an IntegrityError."""
    try:
        return zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, EOFError) as err:
        raise IntegrityError(f"{zip_path} is not a valid zip archive ({err})") from err
    except OSError as err:
        raise DownloadError(f"cannot read {zip_path}: {err.strerror or err}") from err


def safe_extract(zip_path: PathLike, dest: PathLike, names: Sequence[str] | None = None, *,
                 max_member_bytes: int | None = None, max_total_bytes: int | None = None) -> list[Path]:
    """Extract a zip, refusing anything that could escape `dest` or fill the disk.

    Every member is checked before anything is written: absolute paths, ``..``, symbolic links and
    special files, encrypted members, members over `max_member_bytes`, and a total over
    `max_total_bytes` make the whole archive unsafe. Each file is written atomically.

    Args:
        zip_path: the archive.
        dest: folder to extract into (created).
        names: member names to extract, or None for all.
        max_member_bytes: size limit of one member (None = ``MAX_MEMBER_BYTES``).
        max_total_bytes: size limit of all members together (None = ``MAX_TOTAL_BYTES``).

    Returns:
        The extracted files (folders not included), in archive order.

    Raises:
        IntegrityError: unsafe or damaged archive (naming the member), or a missing name.
        DownloadError: `dest` is not writable.
    """
    member_limit = MAX_MEMBER_BYTES if max_member_bytes is None else max_member_bytes
    total_limit = MAX_TOTAL_BYTES if max_total_bytes is None else max_total_bytes
    dest = Path(dest)
    written = []
    with _open_zip(zip_path) as archive:
        _check_archive(archive.infolist(), zip_path, member_limit, total_limit)
        chosen = _choose(archive, names, zip_path)
        try:
            dest.mkdir(parents=True, exist_ok=True)
            root = dest.resolve()
            for info in chosen:
                if info.is_dir():
                    continue
                target = dest.joinpath(*_member_parts(info, zip_path))
                target.parent.mkdir(parents=True, exist_ok=True)
                # A folder already in dest could be a symlink leading elsewhere.
                if not target.parent.resolve().is_relative_to(root):
                    raise IntegrityError(f"unsafe extraction: {target} would land outside {dest}")
                _extract_member(archive, info, target, member_limit, zip_path)
                written.append(target)
        except OSError as err:
            raise _not_writable(dest, err) from err
    return written


# --------------------------------------------------------------------------------------------
# The inception5h cache
# --------------------------------------------------------------------------------------------


def _marker(pb: Path) -> Path:
    return pb.with_name(pb.name + _MARKER_SUFFIX)


def _write_marker(pb: Path, sha1: str) -> None:
    """Record that `pb` (with its current size and mtime) was verified, so later loads skip hashing."""
    try:
        info = pb.stat()
        record = {"sha1": sha1, "size": info.st_size, "mtime_ns": info.st_mtime_ns}
        with _atomic_file(_marker(pb)) as temp:
            temp.write_text(json.dumps(record))
    except OSError:
        # A read-only (e.g. shared, pre-filled) cache still works; it is only hashed again next time.
        pass


def _marker_matches(pb: Path, expected: str | None) -> bool:
    """Whether the marker vouches for `pb` as it is now (and for the expected hash, if given)."""
    try:
        record = json.loads(_marker(pb).read_text())
        info = pb.stat()
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict):
        return False
    if record.get("size") != info.st_size or record.get("mtime_ns") != info.st_mtime_ns:
        return False
    return expected is None or record.get("sha1") == expected.lower()


def _files_in(folder: Path, source: str, verified: bool = True) -> Inception5hFiles:
    labels = folder / LABELS_NAME
    return Inception5hFiles(folder / PB_NAME, labels if labels.is_file() else None, source, verified)


def _cached_files(folder: Path, pb_sha1: str | None) -> Inception5hFiles | None:
    """The extracted files if they are there and verified, else None (a wrong .pb is removed)."""
    pb = folder / PB_NAME
    if not pb.is_file():
        return None
    if _marker_matches(pb, pb_sha1):
        return _files_in(folder, "cache")
    if pb_sha1 is None:
        return None
    actual = sha1_of(pb)
    if actual == pb_sha1.lower():
        _write_marker(pb, actual)
        return _files_in(folder, "cache")
    warnings.warn(
        f"the cached {pb} does not match its pinned SHA-1 (expected {pb_sha1.lower()}, got {actual}); "
        "it was removed and will be unpacked or downloaded again",
        stacklevel=3,
    )
    _remove_quietly(pb, _marker(pb))
    return None


def _inception_members(zip_path: Path) -> list[str]:
    """Member names of the graph, labels and licence (top-level preferred); the graph is required."""
    found: dict[str, str] = {}
    with _open_zip(zip_path) as archive:
        for name in archive.namelist():
            base = name.replace("\\", "/").rsplit("/", 1)[-1]
            if base in (PB_NAME, LABELS_NAME, LICENSE_NAME):
                if base not in found or name.count("/") < found[base].count("/"):
                    found[base] = name
    if PB_NAME not in found:
        raise IntegrityError(f"{zip_path} has no {PB_NAME}: it is not an inception5h archive")
    return list(found.values())


def _unpack(zip_path: Path, folder: Path, pb_sha1: str | None) -> str:
    """Extract into a staging folder, verify the graph, then move the files into `folder`.

    Returns:
        The graph's SHA-1.
    """
    members = _inception_members(zip_path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _remove_stale(folder, ".extract-*")
        _remove_stale(folder, ".*.tmp")
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=".extract-"))
    except OSError as err:
        raise _not_writable(folder, err) from err
    try:
        extracted = {path.name: path for path in safe_extract(zip_path, staging, names=members)}
        what = f"the {PB_NAME} unpacked from {zip_path}"
        actual = _check_sha1(extracted[PB_NAME], pb_sha1, what, delete=True)
        for name in (LICENSE_NAME, LABELS_NAME, PB_NAME):
            if name in extracted:
                os.replace(extracted[name], folder / name)
    except OSError as err:
        raise _not_writable(folder, err) from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return actual


def _install_zip(zip_path: Path, folder: Path, pb_sha1: str | None, *, owned: bool, source: str,
                 verified: bool = True) -> Inception5hFiles:
    """Unpack a verified zip into `folder`; if it is bad and `owned` (it sits in our cache), delete it."""
    try:
        actual = _unpack(zip_path, folder, pb_sha1)
    except IntegrityError as err:
        if owned:
            _remove_quietly(zip_path)
            raise IntegrityError(f"{err}. The zip {zip_path} was deleted.") from err
        raise
    _write_marker(folder / PB_NAME, actual)
    return _files_in(folder, source, verified)


def _manual_help(url: str, zip_path: Path) -> str:
    """What the user can do when the weights cannot be fetched."""
    return (
        "To get the pretrained inception5h weights, either:\n"
        f"  - fix the network and run again, or set {URL_ENV} to a mirror of the same file;\n"
        f"  - download inception5h.zip yourself (from {INCEPTION5H_URL}) and put it at\n"
        f"      {zip_path}\n"
        "    (it is checked against its SHA-1 and unpacked on the next run),\n"
        "    or pass path=... (your inception5h.zip or .pb) to the loader.\n"
        "Or run with the untrained stand-in (same layers, random weights): set CADL_WEIGHTS=untrained "
        'or pass weights="untrained".'
    )


def _with_help(err: DownloadError, url: str, zip_path: Path) -> DownloadError:
    """The same kind of error (DownloadError or IntegrityError), naming the URL, with the help appended."""
    message = str(err)
    if url not in message:
        message = f"could not get inception5h from {url}: {message}"
    return type(err)(f"{message}\n{_manual_help(url, zip_path)}")


def ensure_inception5h(cache_dir: PathLike | None = None, url: str | None = None, *,
                       zip_sha1: str | None = ZIP_SHA1, pb_sha1: str | None = PB_SHA1,
                       timeout: float = 30.0, retries: int = 3, progress: bool | ProgressHook = True,
                       backoff: float = 1.0) -> Inception5hFiles:
    """The verified inception5h files: from the cache, else from a zip in the cache, else downloaded.

    Args:
        cache_dir: cadl_utils cache root (None: ``CADL_CACHE_DIR`` or ``~/.cache/cadl_utils``); the files
            live in its ``inception5h`` folder.
        url: where to download from (None: ``CADL_INCEPTION5H_URL``, else the official https address).
            Only https, or a local mirror on http://127.0.0.1, http://localhost or file://.
        zip_sha1: pinned SHA-1 of the zip (tests pass their own; None skips the check).
        pb_sha1: pinned SHA-1 of the extracted graph (tests pass their own; None skips the check).
        timeout: seconds to wait for the connection and for each read.
        retries: download attempts after the first one.
        progress: True for a progress bar, False for none, or a ``hook(received, total)``.
        backoff: seconds before the first retry, doubled for each further one.

    Returns:
        Inception5hFiles with source ``cache``, ``zip`` or ``download``.

    Raises:
        DownloadError: no network, refused, DNS, timeout, 404, truncated body, plain http URL,
            cache folder not writable. The message names the URL, the exact path where the zip can be
            put by hand, and how to run with untrained weights.
        IntegrityError: a hash mismatch (the bad file was deleted) or an unsafe zip (member named).
    """
    folder = inception5h_dir(cache_dir)
    cached = _cached_files(folder, pb_sha1)
    if cached is not None:
        return cached
    source_url = _resolve_url(url)
    zip_path = folder / ZIP_NAME
    try:
        if zip_path.is_file():
            # Put there by hand, or kept from an earlier download whose .pb was damaged.
            _check_sha1(zip_path, zip_sha1, f"the cached zip {zip_path}", delete=True)
            source = "zip"
        else:
            download_file(source_url, zip_path, sha1=zip_sha1, timeout=timeout, retries=retries,
                          progress=progress, backoff=backoff, max_bytes=MAX_DOWNLOAD_BYTES)
            source = "download"
        return _install_zip(zip_path, folder, pb_sha1, owned=True, source=source)
    except DownloadError as err:
        raise _with_help(err, source_url, zip_path) from err


# --------------------------------------------------------------------------------------------
# Files the user already has
# --------------------------------------------------------------------------------------------


def _pick_in_folder(folder: Path) -> Path:
    """A folder given as the path: use the graph in it, else the zip."""
    for name in (PB_NAME, ZIP_NAME):
        if (folder / name).is_file():
            return folder / name
    raise DownloadError(
        f"the folder {folder} holds neither {PB_NAME} nor {ZIP_NAME}: pass the path of one of them"
    )


def _warn_unverified(path: Path) -> None:
    warnings.warn(
        f"{path} was not checked against a SHA-1 (verify=False): only use graphs you trust",
        UserWarning,
        stacklevel=4,
    )


def _zip_from_user(path: Path, sha1: str | None, verify: bool,
                   cache_dir: PathLike | None) -> Inception5hFiles:
    """Verify the user's zip (never deleting it) and unpack it into the cache."""
    expected = sha1 if sha1 is not None else ZIP_SHA1
    if verify:
        actual = _check_sha1(path, expected, f"the zip {path}", delete=False)
    else:
        _warn_unverified(path)
        actual = sha1_of(path)
    pinned = actual == ZIP_SHA1
    # The official zip fills the normal cache; any other one gets its own folder, so it never
    # replaces the pretrained graph there.
    folder = inception5h_dir(cache_dir)
    if not pinned:
        folder = folder / f"custom-{actual[:12]}"
    pb_expected = PB_SHA1 if pinned else None
    cached = _cached_files(folder, pb_expected)
    if cached is not None:
        return Inception5hFiles(cached.pb, cached.labels, "zip", verify or pinned)
    return _install_zip(path, folder, pb_expected, owned=False, source="zip", verified=verify or pinned)


def _pb_from_user(path: Path, sha1: str | None, verify: bool) -> Inception5hFiles:
    """Verify the user's .pb in place; its labels file is looked up beside it."""
    if verify:
        _check_sha1(path, sha1 if sha1 is not None else PB_SHA1, f"the graph {path}", delete=False)
    else:
        _warn_unverified(path)
    labels = path.with_name(LABELS_NAME)
    if not labels.is_file():
        return Inception5hFiles(path, None, "pb", verify)
    if verify and sha1 is None and sha1_of(labels) != LABELS_SHA1:
        warnings.warn(
            f"{labels} does not match the pinned labels file (SHA-1 {LABELS_SHA1}); class names may be wrong",
            UserWarning,
            stacklevel=3,
        )
    return Inception5hFiles(path, labels, "pb", verify)


def inception5h_from_file(path: PathLike, *, sha1: str | None = None, verify: bool = True,
                          cache_dir: PathLike | None = None) -> Inception5hFiles:
    """Use an inception5h.zip or tensorflow_inception_graph.pb the user already has.

    Args:
        path: the zip, the .pb, or a folder holding one of them.
        sha1: expected SHA-1 of that file; None uses the pin (``ZIP_SHA1`` or ``PB_SHA1``).
        verify: False skips the check (for custom graphs you trust; a warning is shown).
        cache_dir: cadl_utils cache root where a zip is unpacked (None: the default cache).

    Returns:
        Inception5hFiles: a .pb is used in place (source ``pb``), a zip is unpacked into the cache
        (source ``zip``; the official zip fills the normal cache, so later downloads are not needed).

    Raises:
        DownloadError: the file is missing or neither a zip nor a .pb.
        IntegrityError: the hash does not match (the user's file is left in place) or the zip is unsafe.
    """
    source = Path(path).expanduser()
    if source.is_dir():
        source = _pick_in_folder(source)
    if not source.is_file():
        raise DownloadError(
            f"no such file: {source}. Pass the path of {ZIP_NAME} (from {INCEPTION5H_URL}) or of {PB_NAME}"
        )
    if source.suffix.lower() == ".pb":
        return _pb_from_user(source, sha1, verify)
    if source.suffix.lower() == ".zip" or zipfile.is_zipfile(source):
        return _zip_from_user(source, sha1, verify, cache_dir)
    raise DownloadError(f"{source} is neither a .zip archive nor a .pb graph: pass {ZIP_NAME} or {PB_NAME}")
