"""Download, verify and unpack Google's inception5h graph, built on pooch.

``ensure_inception5h``: the verified graph and labels from the cache folder, else from an inception5h.zip
there (put there by hand or downloaded earlier), else downloaded by pooch (pinned SHA-1, atomic, https only
except a local mirror) with our retries and messages. ``inception5h_from_file``: a zip or .pb the user has.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import stat
import tempfile
import time
import urllib.parse
import urllib.request
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

import pooch
import requests

from .. import config
from ..errors import DownloadError, IntegrityError
from ..settings import check_float, check_int

INCEPTION5H_URL = "https://storage.googleapis.com/download.tensorflow.org/models/inception5h.zip"
ZIP_SHA1 = "e3b84c7e240ce8025b30d868f5e840b4bba9761d"
PB_SHA1 = "c8a5a000ee8d8dd75886f152a50a9c5b53d726a5"
LABELS_SHA1 = "5897b4e765c5ce9c66d570102d0317219d033995"
ZIP_NAME = "inception5h.zip"
PB_NAME = "tensorflow_inception_graph.pb"
LABELS_NAME = "imagenet_comp_graph_label_strings.txt"
MEMBERS = (PB_NAME, LABELS_NAME, "LICENSE")
URL_ENV = "CADL_INCEPTION5H_URL"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# The real zip is 49 MB, its graph 54 MB: the limits only stop a hostile mirror or archive.
MAX_DOWNLOAD_BYTES = MAX_MEMBER_BYTES = 200 * 2**20
MAX_TOTAL_BYTES = 300 * 2**20
STALE_SECONDS = 15 * 60  # a temporary file untouched this long belongs to a killed run


@dataclass(frozen=True)
class Inception5hFiles:
    """The ``pb`` and ``labels`` (or None) paths; ``source``: ``cache``, ``download``, ``zip`` or ``pb``;
    ``verified``: False only after ``verify=False``."""

    pb: Path
    labels: Path | None
    source: str
    verified: bool = True


class _Failed(Exception):
    """One failed download attempt; ``retryable`` says whether another attempt can help."""

    def __init__(self, reason: str, retryable: bool) -> None:
        super().__init__(reason)
        self.retryable = retryable


def sha1_of(path) -> str:
    """The SHA-1 (hex) of a file."""
    try:
        return pooch.file_hash(str(path), alg="sha1")
    except OSError as err:
        raise DownloadError(f"cannot read {path}: {err.strerror or err}") from err


def inception5h_dir(cache_dir=None) -> Path:
    """``<cache root>/inception5h``; the root is ``cache_dir``, ``CADL_CACHE_DIR`` or ~/.cache/cadl_utils."""
    return config.cache_dir(cache_dir) / "inception5h"


def _not_writable(folder: Path, err: OSError) -> DownloadError:
    problem = "the disk is full; free some space or" if err.errno == 28 else "the folder is not writable;"
    return DownloadError(f"cannot write in the cache folder {folder} ({err.strerror or err}): {problem} "
                         "set CADL_CACHE_DIR to a writable folder (or pass cache_dir=...)")


def _check_writable(folder: Path) -> None:
    """Create ``folder``, probe it (a read-only cache fails before any download), clear killed runs' files."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as err:
        raise _not_writable(folder, err) from err
    for path in [*folder.glob("tmp*"), *folder.glob(".extract-*")]:  # pooch's and our temporary files
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to delete
            if time.time() - path.stat().st_mtime < STALE_SECONDS:
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


def _check_sha1(path: Path, expected: str | None, what: str, delete: bool) -> str:
    """Compare a file's SHA-1 with ``expected`` (None: no check); a mismatch deletes it if ``delete``."""
    actual = sha1_of(path)
    if expected is None or actual == expected.lower():
        return actual
    if delete:
        path.unlink(missing_ok=True)
    raise IntegrityError(f"{what} does not match its pinned SHA-1 (expected {expected.lower()}, got {actual}): it is "
                         f"damaged or not the expected file; the file was {'deleted' if delete else 'left in place'}")


# --- downloading --------------------------------------------------------------------------------
def _check_url(url: str) -> None:
    """Allow https anywhere; plain http and file:// only for a local mirror."""
    parts = urllib.parse.urlsplit(url)
    scheme, local = parts.scheme.lower(), parts.hostname in LOCAL_HOSTS
    if (scheme == "https" and parts.hostname) or scheme == "file" or (scheme == "http" and local):
        return
    reason = (f"the URL scheme {scheme or '(none)'!r} is not supported; use https://..., or "
              "file:///absolute/path/inception5h.zip for a local copy")
    if scheme == "http":
        reason = ("plain http is not allowed, because what it carries can be read and altered on the way; use an "
                  "https address, or a local mirror on http://127.0.0.1, http://localhost or file://")
    raise DownloadError(f"refusing to download {url}: {reason} (argument url= or {URL_ENV})")


_FAILURES = (  # (exception types, reason, worth retrying), first match along the exception's causes
    (socket.gaierror, "the host name could not be resolved ({}); is there no network?", False),
    (ConnectionRefusedError, "connection refused (nothing is listening at that address)", True),
    ((TimeoutError, requests.Timeout), "timed out (no answer within {timeout:g} s)", True),
    (ConnectionError, "the connection broke ({})", True),
    (ssl.SSLError, "the secure connection failed ({})", False),
)


def _explain(err: requests.RequestException, timeout: float) -> _Failed:
    """A network failure in plain words, and whether to retry (timeouts, refused, broken, HTTP 5xx)."""
    if isinstance(err, requests.HTTPError):
        code = err.response.status_code
        hint = " (there is no file at this address)" if code == 404 else ""
        return _Failed(f"the server answered HTTP {code} {err.response.reason}{hint}", code >= 500 or code in (408, 429))
    chain = [err]  # requests -> urllib3 (whose errors keep the cause in .reason) -> socket
    while len(chain) < 20 and chain[-1] is not None:
        last = chain[-1]
        chain.append(last.reason if isinstance(getattr(last, "reason", None), BaseException)
                     else last.__cause__ or last.__context__)
    for kinds, words, retry in _FAILURES:
        found = next((e for e in chain if isinstance(e, kinds)), None)
        if found is not None:
            return _Failed(words.format(found.strerror or found, timeout=timeout), retry)
    root = [e for e in chain if e is not None][-1]
    return _Failed(f"{root.strerror} (errno {root.errno})" if getattr(root, "strerror", None) else str(root), False)


class _Fetch:
    """pooch downloader: https via requests (redirect policy, timeout, truncation check); file:// by copying."""

    def __init__(self, timeout: float, progress) -> None:
        self.timeout, self.progress, self.length = timeout, progress, None

    def _on_response(self, response, *args, **kwargs) -> None:
        """requests calls this for every answer, redirects included."""
        if response.is_redirect:
            target = urllib.parse.urljoin(response.url, response.headers["Location"])
            if response.url.startswith("https:") and not target.startswith("https:"):
                raise _Failed(f"refusing a redirect from {response.url} to non-https {target}", False)
            _check_url(target)
        self.length = int(response.headers.get("Content-Length") or 0) or None
        if self.length and self.length > MAX_DOWNLOAD_BYTES:
            raise _Failed(f"the server announces {self.length} bytes, more than the limit of {MAX_DOWNLOAD_BYTES}", False)

    def __call__(self, url: str, output_file: str, pooch_object) -> None:
        if url.lower().startswith("file:"):
            try:
                shutil.copyfile(urllib.request.url2pathname(urllib.parse.urlsplit(url).path), output_file)
            except FileNotFoundError as err:
                raise _Failed(f"no such file ({err.filename})", False) from err
            return
        http = pooch.HTTPDownloader(progressbar=self.progress, timeout=self.timeout, hooks={"response": self._on_response},
                                    headers={"User-Agent": "cadl_utils (inception5h downloader)"})
        with open(output_file, "wb") as out:
            try:
                http(url, out, pooch_object)
            except requests.exceptions.ChunkedEncodingError as err:
                raise _Failed(f"the download was truncated: the connection closed after {out.tell()} of "
                              f"{self.length} bytes", True) from err
            except requests.RequestException as err:
                raise _explain(err, self.timeout) from err


def download_file(url: str, dest, *, sha1: str | None = None, timeout: float = 30.0, retries: int = 3,
                  progress=True, backoff: float = 1.0) -> Path:
    """Download ``url`` (https, or a local mirror) to ``dest`` with pooch, atomically, checked against ``sha1`` (a
    matching ``dest`` is kept); ``timeout`` s per read; ``retries`` more attempts after ``backoff`` s, doubling, for
    timeouts, refused or broken connections, truncation and HTTP 5xx/408/429 (not 404, DNS, TLS or a bad hash);
    ``progress``: True (a tqdm bar), False or a tqdm-like object. Returns ``dest``."""
    timeout = check_float(timeout, "timeout", above=0, at_most=3600, fix="give seconds, e.g. 30")
    retries = check_int(retries, "retries", minimum=0, maximum=20)
    backoff = check_float(backoff, "backoff", at_least=0, at_most=600, fix="give seconds, e.g. 1")
    _check_url(url)
    dest = Path(dest)
    _check_writable(dest.parent)
    fetch = _Fetch(timeout, progress)
    for attempt in range(1, retries + 2):
        try:
            pooch.retrieve(url, sha1 and f"sha1:{sha1}", fname=dest.name, path=dest.parent, downloader=fetch)
            return dest
        except _Failed as err:
            failure = err
            if not err.retryable or attempt > retries:
                break
        except DownloadError:
            raise
        except ValueError as err:  # pooch's hash check; it already deleted the download
            raise IntegrityError(f"the file downloaded from {url} does not match its pinned SHA-1 ({err}); "
                                 f"the download was deleted and nothing was saved at {dest}") from err
        except OSError as err:  # writing the temporary file (disk full, permissions)
            raise _not_writable(dest.parent, err) from err
        time.sleep(backoff * 2 ** (attempt - 1))
    raise DownloadError(f"could not download {url} ({attempt} attempt{'s' if attempt > 1 else ''}): {failure}")


# --- unpacking ----------------------------------------------------------------------------------
def _check_member(info: zipfile.ZipInfo, zip_path) -> None:
    """Refuse absolute paths, ``..``, links, special files, encrypted and oversize members."""
    name = info.filename.replace("\\", "/")
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no Unix mode recorded, a plain file
    problems = [
        (name.startswith("/") or PureWindowsPath(name).drive, "has an absolute path"),
        (".." in name.split("/"), "points outside the folder ('..')"),
        (kind == stat.S_IFLNK, "is a symbolic link"),
        (kind not in (0, stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK), "is a special file (device, pipe or socket)"),
        (info.flag_bits & 0x1, "is encrypted"),
        (info.file_size > MAX_MEMBER_BYTES, f"is {info.file_size} bytes, more than the limit of {MAX_MEMBER_BYTES}"),
    ]
    for found, problem in problems:
        if found:
            raise IntegrityError(f"unsafe zip {zip_path}: member {info.filename!r} {problem}")


def _extract_members(zip_path: Path, staging: Path) -> dict[str, Path]:
    """Write the graph, labels and licence (top-level copies first) into ``staging`` by base name, so none
    can escape; nothing else is extracted, and one hostile member condemns the archive."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, EOFError) as err:
        raise IntegrityError(f"{zip_path} is not a valid zip archive ({err})") from err
    with archive:
        chosen, total = {}, 0
        for info in sorted(archive.infolist(), key=lambda member: -member.filename.count("/")):
            _check_member(info, zip_path)
            total += info.file_size
            base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
            if base in MEMBERS and not info.is_dir():
                chosen[base] = info
        if total > MAX_TOTAL_BYTES:
            raise IntegrityError(f"unsafe zip {zip_path}: its members add up to {total} bytes, more than the limit "
                                 f"of {MAX_TOTAL_BYTES}")
        if PB_NAME not in chosen:
            raise IntegrityError(f"{zip_path} has no {PB_NAME}: it is not an inception5h archive")
        for base, info in chosen.items():
            try:
                with archive.open(info) as source:
                    data = source.read(MAX_MEMBER_BYTES + 1)  # the header's size can lie
            except (zipfile.BadZipFile, zlib.error, EOFError) as err:
                raise IntegrityError(f"damaged zip {zip_path}: member {info.filename!r} cannot be read ({err})") from err
            if len(data) > MAX_MEMBER_BYTES:
                raise IntegrityError(f"unsafe zip {zip_path}: member {info.filename!r} unpacks to more than "
                                     f"{MAX_MEMBER_BYTES} bytes")
            (staging / base).write_bytes(data)
    return {base: staging / base for base in chosen}


# --- the cache ----------------------------------------------------------------------------------
def _cached_files(folder: Path, pb_sha1: str | None, source: str = "cache", verified: bool = True):
    """The unpacked files if the graph is there and matches ``pb_sha1`` (None: present is enough, as
    nothing unverified is ever moved there), else None; a graph that does not match is removed."""
    pb, labels = folder / PB_NAME, folder / LABELS_NAME
    if not pb.is_file():
        return None
    if pb_sha1 is not None and (actual := sha1_of(pb)) != pb_sha1.lower():  # 0.1 s for the 54 MB graph
        warnings.warn(f"the cached {pb} does not match its pinned SHA-1 (expected {pb_sha1}, got {actual}); it was "
                      "removed and will be unpacked or downloaded again", stacklevel=3)
        pb.unlink(missing_ok=True)
        return None
    return Inception5hFiles(pb, labels if labels.is_file() else None, source, verified)


def _install_zip(zip_path: Path, folder: Path, pb_sha1: str | None, owned: bool, source: str,
                 verified: bool = True) -> Inception5hFiles:
    """Unpack into ``folder``, checking the graph before it lands there; a bad zip that sits in our
    cache (``owned``) is deleted, the user's own never is."""
    _check_writable(folder)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".extract-"))
    try:
        extracted = _extract_members(zip_path, staging)
        _check_sha1(extracted[PB_NAME], pb_sha1, f"the {PB_NAME} unpacked from {zip_path}", delete=True)
        for name, path in extracted.items():
            os.replace(path, folder / name)
    except IntegrityError as err:
        if not owned:
            raise
        zip_path.unlink(missing_ok=True)
        raise IntegrityError(f"{err}. The zip {zip_path} was deleted.") from err
    except OSError as err:
        raise _not_writable(folder, err) from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _cached_files(folder, None, source, verified)


def ensure_inception5h(cache_dir=None, url: str | None = None, *, zip_sha1: str | None = ZIP_SHA1,
                       pb_sha1: str | None = PB_SHA1, **download) -> Inception5hFiles:
    """The verified inception5h files: from the cache, else from a zip in the cache, else downloaded.

    Args: ``cache_dir`` (None: ``CADL_CACHE_DIR`` or ~/.cache/cadl_utils); ``url`` of the zip (None:
    ``CADL_INCEPTION5H_URL``, else Google's); ``zip_sha1``, ``pb_sha1``: the pins (None skips a check);
    ``**download``: ``timeout``, ``retries``, ``progress``, ``backoff`` of ``download_file``.
    Raises DownloadError (network, refused URL, unwritable cache: with what to do instead) or
    IntegrityError (a hash mismatch, the bad file deleted, or an unsafe zip).
    """
    folder = inception5h_dir(cache_dir)
    if (cached := _cached_files(folder, pb_sha1)) is not None:
        return cached
    url = (url or "").strip() or os.environ.get(URL_ENV, "").strip() or INCEPTION5H_URL
    zip_path = folder / ZIP_NAME
    try:
        if zip_path.is_file():
            _check_sha1(zip_path, zip_sha1, f"the cached zip {zip_path}", delete=True)
            return _install_zip(zip_path, folder, pb_sha1, owned=True, source="zip")
        download_file(url, zip_path, sha1=zip_sha1, **download)
        return _install_zip(zip_path, folder, pb_sha1, owned=True, source="download")
    except DownloadError as err:
        message = str(err) if url in str(err) else f"could not get inception5h from {url}: {err}"
        raise type(err)(
            f"{message}\nTo get the pretrained inception5h weights, either:\n"
            f"  - fix the network and run again, or set {URL_ENV} to an https mirror of the same file;\n"
            f"  - download inception5h.zip yourself (from {INCEPTION5H_URL}) and put it at\n      {zip_path}\n"
            "    (checked and unpacked on the next run), or run `python -m cadl_utils fetch --path FILE`\n"
            "    (or pass path=... to the loader).\nOr run with the untrained stand-in (same layers, random "
            'weights): set CADL_WEIGHTS=untrained or pass weights="untrained".') from err


def inception5h_from_file(path, *, sha1: str | None = None, verify: bool = True, cache_dir=None) -> Inception5hFiles:
    """Use an inception5h.zip or tensorflow_inception_graph.pb (or a folder holding one) the user has: checked
    against ``sha1`` (None: the pin; ``verify=False``: not, with a warning); a .pb is used in place, a zip unpacked
    into the cache's inception5h folder if it is the pinned one, else into a ``custom-<sha1>`` folder there."""
    source = Path(os.path.expanduser(path))
    try:
        source.exists()  # raises for names the system cannot take (too long, a loop of links)
    except OSError as exc:
        raise DownloadError(f"cannot use {source}: {exc.strerror or exc}; pass the path of {ZIP_NAME} or {PB_NAME}") from exc
    if source.is_dir():
        found = [source / name for name in (PB_NAME, ZIP_NAME) if (source / name).is_file()]
        if not found:
            raise DownloadError(f"the folder {source} holds neither {PB_NAME} nor {ZIP_NAME}: pass the path of one of them")
        source = found[0]
    if not source.is_file():
        raise DownloadError(f"no such file: {source}. Pass the path of {ZIP_NAME} (from {INCEPTION5H_URL}) or of {PB_NAME}")
    is_pb = source.suffix.lower() == ".pb"
    if not is_pb and source.suffix.lower() != ".zip" and not zipfile.is_zipfile(source):
        raise DownloadError(f"{source} is neither a .zip archive nor a .pb graph: pass {ZIP_NAME} or {PB_NAME}")
    if verify:
        what = f"the graph {source}" if is_pb else f"the zip {source}"
        actual = _check_sha1(source, sha1 or (PB_SHA1 if is_pb else ZIP_SHA1), what, delete=False)
    else:
        warnings.warn(f"{source} was not checked against a SHA-1 (verify=False): only use graphs you trust", stacklevel=2)
        actual = sha1_of(source)
    if is_pb:
        labels = source.with_name(LABELS_NAME)
        if labels.is_file() and verify and sha1 is None and sha1_of(labels) != LABELS_SHA1:
            warnings.warn(f"{labels} does not match the pinned labels file (SHA-1 {LABELS_SHA1}); class names may "
                          "be wrong", stacklevel=2)
        return Inception5hFiles(source, labels if labels.is_file() else None, "pb", verify)
    pinned = actual == ZIP_SHA1
    folder = inception5h_dir(cache_dir) if pinned else inception5h_dir(cache_dir) / f"custom-{actual[:12]}"
    pb_sha1 = PB_SHA1 if pinned else None
    cached = _cached_files(folder, pb_sha1, "zip", verify or pinned)
    return cached or _install_zip(source, folder, pb_sha1, False, "zip", verify or pinned)
