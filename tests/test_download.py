"""Tests of cadl_utils.models.download: the real download -> verify -> extract path, offline.

A ThreadingHTTPServer on 127.0.0.1 serves small zips laid out like inception5h.zip (a .pb of random
bytes and a labels file); each test passes that zip's own SHA-1s. Faults are made by the server
(404, 503, truncated bodies, slow answers, redirects) or by the test (hostile zips, read-only caches,
KeyboardInterrupt). Every test checks the error type, the key words of its message, and what is left
in the cache afterwards.
"""

from __future__ import annotations

import errno
import hashlib
import http.server
import io
import os
import random
import socket
import stat
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cadl_utils.errors import DownloadError, IntegrityError, ParameterError
from cadl_utils.models import download
from cadl_utils.models.download import (
    LABELS_NAME,
    PB_NAME,
    ZIP_NAME,
    download_file,
    ensure_inception5h,
    inception5h_dir,
    inception5h_from_file,
    sha1_of,
)

LABELS_TEXT = "dummy\nkit fox\nEnglish setter\njellyfish"


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


# ------------------------------------------------------------------------------------------------
# Test archives
# ------------------------------------------------------------------------------------------------


@dataclass
class Bundle:
    """A zip laid out like inception5h.zip, with the hashes a test passes as pins."""

    zip_path: Path
    zip_sha1: str
    pb: bytes
    pb_sha1: str
    labels: bytes

    @property
    def data(self) -> bytes:
        return self.zip_path.read_bytes()


def make_bundle(folder: Path, *, seed: int = 0, pb_size: int = 200_000, extra=()) -> Bundle:
    """Write an inception5h-like zip; `extra` adds (ZipInfo or name, bytes) members first."""
    folder.mkdir(parents=True, exist_ok=True)
    pb = random.Random(seed).randbytes(pb_size)
    labels = LABELS_TEXT.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in extra:
            archive.writestr(info, data)
        archive.writestr(PB_NAME, pb)
        archive.writestr(LABELS_NAME, labels)
        archive.writestr("LICENSE", b"Apache License 2.0 (test copy)\n")
    data = buffer.getvalue()
    zip_path = folder / ZIP_NAME
    zip_path.write_bytes(data)
    return Bundle(zip_path, _sha1(data), pb, _sha1(pb), labels)


class Recorder:
    """A tqdm-like progress object (pooch's ``progressbar``) recording (received, total); ``stop`` raises there."""

    def __init__(self, stop: bool = False):
        self.seen, self.total, self.received, self.stop = [], 0, 0, stop

    def update(self, count):
        self.received = min(self.received + count, self.total or self.received + count)
        self.seen.append((self.received, self.total))
        if self.stop:
            raise KeyboardInterrupt

    def reset(self):
        self.received = 0

    def close(self):
        pass


def symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix, so the mode bits below are meaningful
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


# ------------------------------------------------------------------------------------------------
# Local HTTP server
# ------------------------------------------------------------------------------------------------


@dataclass
class Route:
    """What the server answers for one path.

    fail_first: the first N requests get HTTP 503. truncate_first: the first N (after those) get half
    the body and a closed connection. content_length: announced size (None = the true one).
    delay: seconds to wait before answering. redirect: answer 302 to this URL.
    """

    body: bytes = b""
    fail_first: int = 0
    truncate_first: int = 0
    content_length: int | None = None
    delay: float = 0.0
    redirect: str | None = None


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # Clients that time out or hang up on purpose make the handler's writes fail; expected here.
        pass


@dataclass
class LocalServer:
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    httpd: _QuietServer | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def count(self, path: str | None = None) -> int:
        with self.lock:
            return len([p for p in self.requests if path is None or p == path])


def _make_handler(server: LocalServer):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format, *args) -> None:  # noqa: A002 (stdlib signature)
            pass

        def do_GET(self) -> None:  # noqa: N802 (stdlib name)
            with server.lock:
                server.requests.append(self.path)
                nth = len([p for p in server.requests if p == self.path])
            route = server.routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            if route.delay and server.stop.wait(route.delay):
                return
            try:
                self._answer(route, nth)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _answer(self, route: Route, nth: int) -> None:
            if route.redirect:
                self.send_response(302)
                self.send_header("Location", route.redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if nth <= route.fail_first:
                self.send_error(503)
                return
            truncated = nth <= route.fail_first + route.truncate_first
            announced = route.content_length if route.content_length is not None else len(route.body)
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(announced))
            self.end_headers()
            body = route.body[: len(route.body) // 2] if truncated else route.body
            self.wfile.write(body)
            self.wfile.flush()
            # HTTP/1.0: the connection closes after this, so a short body is a cut transfer.

    return Handler


@pytest.fixture
def server():
    """A local HTTP server on a free port; always shut down, even when the test fails."""
    state = LocalServer()
    state.httpd = _QuietServer(("127.0.0.1", 0), _make_handler(state))
    thread = threading.Thread(target=state.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        state.httpd.shutdown()
        state.httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def bundle(tmp_path) -> Bundle:
    return make_bundle(tmp_path / "source")


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(cache: Path, url: str, bundle: Bundle, **kwargs):
    """ensure_inception5h with the bundle's pins, fast settings and no progress bar."""
    settings = {"zip_sha1": bundle.zip_sha1, "pb_sha1": bundle.pb_sha1, "timeout": 2.0, "retries": 0,
                "progress": False, "backoff": 0.0}
    settings.update(kwargs)
    return ensure_inception5h(cache, url, **settings)


def contents(folder: Path) -> list[str]:
    """Everything under `folder` (relative paths), hidden files included."""
    if not folder.exists():
        return []
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def assert_help(message: str, url: str, cache: Path) -> None:
    """The three things a failed download must tell: the URL, where to put the zip, and untrained."""
    assert url in message
    assert str(inception5h_dir(cache) / ZIP_NAME) in message
    assert "CADL_WEIGHTS=untrained" in message
    assert 'weights="untrained"' in message


def assert_nothing_final(cache: Path) -> None:
    """No zip, graph, labels, marker, .part or staging folder left behind."""
    assert contents(inception5h_dir(cache)) == []


# ------------------------------------------------------------------------------------------------
# Success and the cache
# ------------------------------------------------------------------------------------------------


def test_sha1_of_matches_hashlib(tmp_path):
    path = tmp_path / "blob"
    data = random.Random(1).randbytes(300_000)
    path.write_bytes(data)
    assert sha1_of(path) == _sha1(data)
    with pytest.raises(DownloadError, match="cannot read"):
        sha1_of(tmp_path / "missing")


def test_download_verify_extract_then_cache_hit(server, bundle, cache):
    server.routes["/inception5h.zip"] = Route(bundle.data)
    url = server.url("/inception5h.zip")

    first = fetch(cache, url, bundle)
    folder = inception5h_dir(cache)
    assert first.source == "download"
    assert first.pb == folder / PB_NAME and first.pb.read_bytes() == bundle.pb
    assert first.labels == folder / LABELS_NAME and first.labels.read_bytes() == bundle.labels
    assert server.count() == 1
    assert contents(folder) == sorted(["LICENSE", LABELS_NAME, PB_NAME, ZIP_NAME])

    second = fetch(cache, url, bundle)
    assert second.source == "cache"
    assert second.pb == first.pb
    assert server.count() == 1  # the cache answered; the server saw no second request


def test_cache_hit_hashes_only_the_graph(server, bundle, cache, monkeypatch):
    server.routes["/z"] = Route(bundle.data)
    fetch(cache, server.url("/z"), bundle)
    hashed = []
    monkeypatch.setattr(download, "sha1_of", lambda path: hashed.append(path) or _sha1(Path(path).read_bytes()))
    assert fetch(cache, server.url("/z"), bundle).source == "cache"
    assert hashed == [inception5h_dir(cache) / PB_NAME] and server.count() == 1


def test_damaged_graph_is_rebuilt_from_kept_zip_offline(server, bundle, cache):
    server.routes["/z"] = Route(bundle.data)
    files = fetch(cache, server.url("/z"), bundle)
    files.pb.write_bytes(b"\0" * len(bundle.pb))  # same size, new mtime and content

    dead = f"http://127.0.0.1:{free_port()}/z"
    with pytest.warns(UserWarning, match="does not match its pinned SHA-1"):
        again = fetch(cache, dead, bundle)
    assert again.source == "zip"
    assert again.pb.read_bytes() == bundle.pb
    assert server.count() == 1


def test_progress_bar_path(server, bundle, cache, capsys):
    server.routes["/z"] = Route(bundle.data)
    files = fetch(cache, server.url("/z"), bundle, progress=True)
    assert files.pb.read_bytes() == bundle.pb
    assert "B/s" in capsys.readouterr().err  # pooch's tqdm bar


def test_progress_hook_sees_every_byte(server, bundle, cache):
    server.routes["/z"] = Route(bundle.data)
    recorder = Recorder()
    fetch(cache, server.url("/z"), bundle, progress=recorder)
    seen = recorder.seen
    assert len(seen) >= 2
    assert seen[-1] == (len(bundle.data), len(bundle.data))
    assert [received for received, _ in seen] == sorted(received for received, _ in seen)


def test_env_var_mirror_url(server, bundle, cache, monkeypatch):
    server.routes["/mirror/inception5h.zip"] = Route(bundle.data)
    monkeypatch.setenv("CADL_INCEPTION5H_URL", server.url("/mirror/inception5h.zip"))
    files = fetch(cache, None, bundle)
    assert files.source == "download"
    assert server.requests == ["/mirror/inception5h.zip"]


def test_url_argument_wins_over_env_var(server, bundle, cache, monkeypatch):
    server.routes["/arg"] = Route(bundle.data)
    monkeypatch.setenv("CADL_INCEPTION5H_URL", server.url("/env"))
    fetch(cache, server.url("/arg"), bundle)
    assert server.requests == ["/arg"]


def test_file_url_mirror(bundle, cache):
    files = fetch(cache, bundle.zip_path.as_uri(), bundle)
    assert files.source == "download"
    assert files.pb.read_bytes() == bundle.pb


def test_zip_put_by_hand_at_the_path_the_error_names(bundle, cache):
    dead = f"http://127.0.0.1:{free_port()}/inception5h.zip"
    with pytest.raises(DownloadError) as caught:
        fetch(cache, dead, bundle)
    assert_help(str(caught.value), dead, cache)

    by_hand = inception5h_dir(cache) / ZIP_NAME
    by_hand.write_bytes(bundle.data)  # the folder exists: the failed download created it
    files = fetch(cache, dead, bundle)
    assert files.source == "zip"
    assert files.pb.read_bytes() == bundle.pb


def test_download_file_replaces_a_wrong_dest_atomically(server, tmp_path):
    server.routes["/blob"] = Route(b"new contents")
    dest = tmp_path / "sub" / "blob.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"old")
    assert download_file(server.url("/blob"), dest, sha1=_sha1(b"new contents"), progress=False, timeout=2) == dest
    assert dest.read_bytes() == b"new contents"
    assert contents(dest.parent) == ["blob.bin"]


# ------------------------------------------------------------------------------------------------
# Network faults
# ------------------------------------------------------------------------------------------------


def test_404_is_not_retried(server, bundle, cache):
    url = server.url("/missing.zip")
    with pytest.raises(DownloadError) as caught:
        fetch(cache, url, bundle, retries=3)
    message = str(caught.value)
    assert not isinstance(caught.value, IntegrityError)
    assert "404" in message and "1 attempt" in message
    assert_help(message, url, cache)
    assert server.count() == 1
    assert_nothing_final(cache)


def test_connection_refused(bundle, cache):
    url = f"http://127.0.0.1:{free_port()}/inception5h.zip"
    started = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        fetch(cache, url, bundle, retries=2)
    message = str(caught.value)
    assert "refused" in message and "3 attempts" in message
    assert_help(message, url, cache)
    assert time.monotonic() - started < 5
    assert_nothing_final(cache)


def test_server_errors_are_retried_then_succeed(server, bundle, cache):
    server.routes["/z"] = Route(bundle.data, fail_first=2)
    files = fetch(cache, server.url("/z"), bundle, retries=3)
    assert files.pb.read_bytes() == bundle.pb
    assert server.count() == 3


def test_server_error_retries_are_bounded(server, bundle, cache):
    server.routes["/z"] = Route(bundle.data, fail_first=100)
    with pytest.raises(DownloadError) as caught:
        fetch(cache, server.url("/z"), bundle, retries=2)
    assert "503" in str(caught.value)
    assert server.count() == 3
    assert_nothing_final(cache)


def test_backoff_doubles_between_attempts(server, bundle, cache, monkeypatch):
    server.routes["/z"] = Route(bundle.data, fail_first=100)
    sleeps = []
    monkeypatch.setattr(download.time, "sleep", sleeps.append)
    with pytest.raises(DownloadError):
        fetch(cache, server.url("/z"), bundle, retries=3, backoff=0.5)
    assert sleeps == [0.5, 1.0, 2.0]


def test_truncated_body_is_detected(server, bundle, cache):
    server.routes["/z"] = Route(bundle.data, content_length=len(bundle.data) + 1000)
    url = server.url("/z")
    with pytest.raises(DownloadError) as caught:
        fetch(cache, url, bundle, retries=1)
    message = str(caught.value)
    assert not isinstance(caught.value, IntegrityError)
    assert "truncated" in message and f"of {len(bundle.data) + 1000} bytes" in message
    assert_help(message, url, cache)
    assert server.count() == 2
    assert_nothing_final(cache)


def test_slow_server_times_out_with_bounded_retries(server, bundle, cache):
    server.routes["/z"] = Route(bundle.data, delay=5.0)
    url = server.url("/z")
    started = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        fetch(cache, url, bundle, timeout=0.3, retries=1)
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert "timed out" in message and "2 attempts" in message
    assert_help(message, url, cache)
    assert server.count() == 2
    assert elapsed < 3
    assert_nothing_final(cache)


def test_server_dying_mid_body_then_retry_leaves_no_part(server, bundle, cache):
    server.routes["/z"] = Route(bundle.data, truncate_first=1)
    files = fetch(cache, server.url("/z"), bundle, retries=1)
    assert files.pb.read_bytes() == bundle.pb
    assert server.count() == 2
    assert not [name for name in contents(inception5h_dir(cache)) if name.startswith("tmp")]


def test_keyboard_interrupt_mid_download_leaves_nothing(server, bundle, cache):
    server.routes["/z"] = Route(bundle.data)
    interrupt = Recorder(stop=True)
    with pytest.raises(KeyboardInterrupt):
        fetch(cache, server.url("/z"), bundle, progress=interrupt, retries=3)
    assert interrupt.seen and interrupt.seen[0][0] < len(bundle.data)  # really stopped part-way
    assert server.count() == 1  # an interrupt is not retried
    assert_nothing_final(cache)

    files = fetch(cache, server.url("/z"), bundle)
    assert files.pb.read_bytes() == bundle.pb
    assert not [name for name in contents(inception5h_dir(cache)) if name.startswith("tmp")]


def test_stale_part_of_a_killed_run_is_removed(server, bundle, cache):
    folder = inception5h_dir(cache)
    folder.mkdir(parents=True)
    stale = folder / "tmpkilled1"  # pooch's temporary file
    stale.write_bytes(b"half a download")
    old = time.time() - download.STALE_SECONDS - 60
    os.utime(stale, (old, old))
    live = folder / "tmplive22"  # another process's download in progress
    live.write_bytes(b"growing")
    killed_extract = folder / ".extract-killed"
    (killed_extract / "half").mkdir(parents=True)
    os.utime(killed_extract, (old, old))

    server.routes["/z"] = Route(bundle.data)
    fetch(cache, server.url("/z"), bundle)
    assert not stale.exists()
    assert not killed_extract.exists()
    assert live.exists()


def test_redirect_to_plain_http_is_refused(server, bundle, cache):
    server.routes["/redirect"] = Route(redirect="http://example.org/inception5h.zip")
    with pytest.raises(DownloadError) as caught:
        fetch(cache, server.url("/redirect"), bundle)
    assert "http://example.org/inception5h.zip" in str(caught.value)
    assert "plain http is not allowed" in str(caught.value)
    assert server.count() == 1
    assert_nothing_final(cache)


def test_local_redirect_is_followed(server, bundle, cache):
    server.routes["/old"] = Route(redirect=server.url("/new"))
    server.routes["/new"] = Route(bundle.data)
    fetch(cache, server.url("/old"), bundle)
    assert server.requests == ["/old", "/new"]


# ------------------------------------------------------------------------------------------------
# URL policy and arguments
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/inception5h.zip",
        "http://10.0.0.5/inception5h.zip",
        "ftp://example.com/inception5h.zip",
        "/some/local/inception5h.zip",
    ],
)
def test_only_https_unless_local_mirror(url, bundle, cache):
    with pytest.raises(DownloadError) as caught:
        fetch(cache, url, bundle)
    message = str(caught.value)
    assert "refusing to download" in message and "https" in message
    assert_help(message, url, cache)
    assert_nothing_final(cache)


def test_plain_http_env_mirror_is_refused(bundle, cache, monkeypatch):
    monkeypatch.setenv("CADL_INCEPTION5H_URL", "http://mirror.example.com/inception5h.zip")
    with pytest.raises(DownloadError, match="plain http is not allowed"):
        fetch(cache, None, bundle)


def test_default_url_is_https_and_allowed(monkeypatch):
    assert download.INCEPTION5H_URL.startswith("https://")
    download._check_url(download.INCEPTION5H_URL)  # raises if the policy refused it


@pytest.mark.parametrize("kwargs", [{"timeout": 0}, {"timeout": -1.0}, {"retries": -1}, {"backoff": -0.5}])
def test_bad_download_arguments(kwargs, tmp_path):
    with pytest.raises(ParameterError):
        download_file("https://example.com/x.zip", tmp_path / "x.zip", progress=False, **kwargs)


# ------------------------------------------------------------------------------------------------
# Hash mismatches
# ------------------------------------------------------------------------------------------------


def test_wrong_zip_hash_deletes_download(server, bundle, cache):
    server.routes["/z"] = Route(bundle.data)
    pin = "0" * 40
    with pytest.raises(IntegrityError) as caught:
        fetch(cache, server.url("/z"), bundle, zip_sha1=pin, retries=3)
    message = str(caught.value)
    assert pin in message and bundle.zip_sha1 in message
    assert "deleted" in message
    assert_help(message, server.url("/z"), cache)
    assert server.count() == 1  # a mismatch is not retried
    assert_nothing_final(cache)


def test_wrong_graph_hash_deletes_zip_and_graph(server, bundle, cache):
    server.routes["/z"] = Route(bundle.data)
    pin = "f" * 40
    with pytest.raises(IntegrityError) as caught:
        fetch(cache, server.url("/z"), bundle, pb_sha1=pin)
    message = str(caught.value)
    assert PB_NAME in message and pin in message and bundle.pb_sha1 in message
    assert "deleted" in message and "untrained" in message
    assert_nothing_final(cache)


def test_wrong_zip_put_by_hand_is_deleted(server, bundle, cache):
    folder = inception5h_dir(cache)
    folder.mkdir(parents=True)
    (folder / ZIP_NAME).write_bytes(b"this is not inception5h")
    with pytest.raises(IntegrityError) as caught:
        fetch(cache, server.url("/z"), bundle)
    message = str(caught.value)
    assert bundle.zip_sha1 in message and _sha1(b"this is not inception5h") in message
    assert "deleted" in message
    assert server.count() == 0
    assert_nothing_final(cache)


def test_zip_without_graph_is_rejected(server, cache, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "no graph here")
    server.routes["/z"] = Route(buffer.getvalue())
    with pytest.raises(IntegrityError, match="not an inception5h archive"):
        ensure_inception5h(cache, server.url("/z"), zip_sha1=_sha1(buffer.getvalue()), pb_sha1=None,
                           progress=False, retries=0)
    assert_nothing_final(cache)


def test_not_a_zip_with_matching_hash_is_rejected(server, cache):
    data = b"garbage, but the pin matches"
    server.routes["/z"] = Route(data)
    with pytest.raises(IntegrityError, match="not a valid zip"):
        ensure_inception5h(
            cache, server.url("/z"), zip_sha1=_sha1(data), pb_sha1=None, progress=False, retries=0
        )
    assert_nothing_final(cache)


# ------------------------------------------------------------------------------------------------
# Hostile archives
# ------------------------------------------------------------------------------------------------


def _hostile_members(tmp_path: Path):
    return {
        "dotdot": ("../evil.txt", [("../evil.txt", b"escaped")], "'..'"),
        "absolute": (
            str(tmp_path / "abs_evil.txt"),
            [(zipfile.ZipInfo(str(tmp_path / "abs_evil.txt")), b"x")],
            "absolute path",
        ),
        "symlink": ("link_to_passwd", [(symlink_info("link_to_passwd"), b"/etc/passwd")], "symbolic link"),
        "oversize": ("big.bin", [("big.bin", b"\0" * 50_000)], "more than the limit"),
    }


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "oversize"])
def test_hostile_zip_is_refused_and_deleted(kind, server, cache, tmp_path, monkeypatch):
    member, extra, words = _hostile_members(tmp_path)[kind]
    monkeypatch.setattr(download, "MAX_MEMBER_BYTES", 10_000)
    hostile = make_bundle(tmp_path / "hostile", pb_size=2_000, extra=extra)
    server.routes["/z"] = Route(hostile.data)
    with pytest.raises(IntegrityError) as caught:
        fetch(cache, server.url("/z"), hostile)
    message = str(caught.value)
    assert repr(member) in message and words in message
    assert "deleted" in message
    assert_nothing_final(cache)
    assert not list(tmp_path.rglob("evil.txt"))
    assert not (tmp_path / "abs_evil.txt").exists()


def unpack(tmp_path: Path, cache: Path, members, name: str = "z") -> Bundle:
    """A user's zip with extra ``members`` (ZipInfo or name, bytes), unpacked with its own pin."""
    bundle = make_bundle(tmp_path / name, pb_size=2_000, extra=members)
    inception5h_from_file(bundle.zip_path, sha1=bundle.zip_sha1, cache_dir=cache)
    return bundle


def test_only_the_expected_members_are_extracted_by_base_name(tmp_path, cache):
    nested = [("sub/", b""), ("sub/inner.txt", b"inner"), ("./dot/x.txt", b"dot"), (f"deep/{LABELS_NAME}", b"deep")]
    bundle = unpack(tmp_path, cache, nested)
    folder = inception5h_dir(cache) / f"custom-{bundle.zip_sha1[:12]}"
    assert contents(folder) == sorted(["LICENSE", LABELS_NAME, PB_NAME])
    assert (folder / LABELS_NAME).read_bytes() == bundle.labels  # the top-level copy wins


def test_every_member_is_checked_even_those_not_extracted(tmp_path, cache):
    with pytest.raises(IntegrityError, match=r"'\.\./\.\./evil\.txt'"):
        unpack(tmp_path, cache, [("../../evil.txt", b"evil")])
    assert [p for p in cache.rglob("*") if p.is_file()] == []  # nothing is written from an unsafe archive
    assert not list(tmp_path.rglob("evil.txt"))


def test_size_limits(tmp_path, cache, monkeypatch):
    big = [("a.bin", b"\0" * 6_000), ("b.bin", b"\0" * 6_000)]
    monkeypatch.setattr(download, "MAX_MEMBER_BYTES", 5_000)
    with pytest.raises(IntegrityError, match="'a.bin' is 6000 bytes"):
        unpack(tmp_path, cache, big, "one")
    monkeypatch.setattr(download, "MAX_MEMBER_BYTES", 6_000)
    monkeypatch.setattr(download, "MAX_TOTAL_BYTES", 10_000)
    with pytest.raises(IntegrityError, match="add up to"):
        unpack(tmp_path, cache, big, "total")
    monkeypatch.setattr(download, "MAX_TOTAL_BYTES", 20_000)
    unpack(tmp_path, cache, big, "fine")


def test_special_file_and_backslash_paths(tmp_path, cache):
    fifo = zipfile.ZipInfo("pipe")
    fifo.create_system = 3
    fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
    for info, words in [(fifo, "special file"), (zipfile.ZipInfo("..\\evil.txt"), "'..'"),
                        (zipfile.ZipInfo("C:/evil.txt"), "absolute path")]:
        with pytest.raises(IntegrityError, match=words):
            unpack(tmp_path, cache, [(info, b"x")])
    assert [p for p in cache.rglob("*") if p.is_file()] == []


def test_a_symlinked_folder_in_the_cache_is_not_followed(tmp_path, cache):
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = inception5h_dir(cache)
    folder.mkdir(parents=True)
    (folder / "sub").symlink_to(outside)
    unpack(tmp_path, cache, [(f"sub/{PB_NAME}", b"x")])  # lands by base name in the cache, not in sub/
    assert contents(outside) == []


# ------------------------------------------------------------------------------------------------
# Cache folder that cannot be written
# ------------------------------------------------------------------------------------------------


def _refuse_writes(monkeypatch) -> None:
    """Make every temporary file in the cache fail like on a read-only file system."""

    def read_only(folder):
        raise download._not_writable(folder, OSError(errno.EROFS, "Read-only file system", str(folder)))

    monkeypatch.setattr(download, "_check_writable", read_only)


def _chmod_blocks_writes(folder: Path) -> bool:
    """False when running as root (chmod does not stop root from writing)."""
    probe = folder / "probe"
    try:
        probe.write_bytes(b"")
    except PermissionError:
        return True
    probe.unlink()
    return False


def test_cache_under_a_regular_file(server, bundle, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    cache = blocker / "cache"
    server.routes["/z"] = Route(bundle.data)
    with pytest.raises(DownloadError) as caught:
        fetch(cache, server.url("/z"), bundle)
    message = str(caught.value)
    assert "not writable" in message and "CADL_CACHE_DIR" in message
    assert str(inception5h_dir(cache)) in message
    assert "untrained" in message
    assert server.count() == 0  # found out before touching the network
    assert blocker.read_text() == "a file, not a folder"


def test_read_only_cache_folder(server, bundle, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    os.chmod(cache, 0o500)
    try:
        if not _chmod_blocks_writes(cache):
            _refuse_writes(monkeypatch)  # root ignores chmod: simulate the read-only file system
        server.routes["/z"] = Route(bundle.data)
        with pytest.raises(DownloadError) as caught:
            fetch(cache, server.url("/z"), bundle)
        message = str(caught.value)
        assert "not writable" in message and "CADL_CACHE_DIR" in message
        assert_help(message, server.url("/z"), cache)
        assert server.count() == 0
        assert_nothing_final(cache)
    finally:
        os.chmod(cache, 0o700)


def test_disk_full_while_writing(server, bundle, cache, monkeypatch):
    server.routes["/z"] = Route(bundle.data)
    real_open = open

    class FullFile(io.RawIOBase):
        def __init__(self, path):
            self._file = real_open(path, "wb")

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def fileno(self):
            return self._file.fileno()

        def close(self):
            self._file.close()
            super().close()

    def fake_open(path, mode="r", *args, **kwargs):
        if Path(path).name.startswith("tmp") and "w" in mode:  # pooch's temporary file
            return FullFile(path)
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(download, "open", fake_open, raising=False)
    with pytest.raises(DownloadError) as caught:
        fetch(cache, server.url("/z"), bundle, retries=2)
    message = str(caught.value)
    assert "disk is full" in message and "CADL_CACHE_DIR" in message
    assert server.count() == 1  # a local problem is not retried
    assert_nothing_final(cache)


def test_read_only_prefilled_cache_still_loads(server, bundle, cache, monkeypatch):
    server.routes["/z"] = Route(bundle.data)
    fetch(cache, server.url("/z"), bundle)
    _refuse_writes(monkeypatch)
    again = fetch(cache, f"http://127.0.0.1:{free_port()}/z", bundle)
    assert again.source == "cache"
    assert again.pb.read_bytes() == bundle.pb
    assert server.count() == 1


# ------------------------------------------------------------------------------------------------
# Files the user already has
# ------------------------------------------------------------------------------------------------


def test_from_file_custom_zip_goes_to_its_own_folder(bundle, cache):
    files = inception5h_from_file(bundle.zip_path, sha1=bundle.zip_sha1, cache_dir=cache)
    assert files.source == "zip" and files.verified
    assert files.pb.parent == inception5h_dir(cache) / f"custom-{bundle.zip_sha1[:12]}"
    assert files.pb.read_bytes() == bundle.pb
    assert files.labels.read_bytes() == bundle.labels
    assert bundle.zip_path.read_bytes() == bundle.data  # the user's zip is untouched
    assert not (inception5h_dir(cache) / PB_NAME).exists()  # the pretrained slot is not taken

    again = inception5h_from_file(bundle.zip_path, sha1=bundle.zip_sha1, cache_dir=cache)
    assert again.pb == files.pb


def test_from_file_pinned_zip_fills_the_normal_cache(bundle, cache, monkeypatch):
    # Pretend the test zip is the official one.
    monkeypatch.setattr(download, "ZIP_SHA1", bundle.zip_sha1)
    monkeypatch.setattr(download, "PB_SHA1", bundle.pb_sha1)
    files = inception5h_from_file(bundle.zip_path, cache_dir=cache)
    assert files.pb == inception5h_dir(cache) / PB_NAME
    dead = f"http://127.0.0.1:{free_port()}/z"
    assert fetch(cache, dead, bundle).source == "cache"  # no download needed afterwards


def test_from_file_pb_with_labels_beside_it(tmp_path, bundle):
    folder = tmp_path / "mine"
    folder.mkdir()
    pb = folder / PB_NAME
    pb.write_bytes(bundle.pb)
    (folder / LABELS_NAME).write_bytes(bundle.labels)
    files = inception5h_from_file(pb, sha1=bundle.pb_sha1)
    assert files == download.Inception5hFiles(pb, folder / LABELS_NAME, "pb", True)
    assert inception5h_from_file(folder, sha1=bundle.pb_sha1).pb == pb  # a folder works too


def test_from_file_pb_without_labels(tmp_path, bundle):
    pb = tmp_path / "graph.pb"
    pb.write_bytes(bundle.pb)
    files = inception5h_from_file(pb, sha1=bundle.pb_sha1)
    assert files.pb == pb and files.labels is None


def test_from_file_pinned_pb_warns_about_wrong_labels(tmp_path, bundle, monkeypatch):
    monkeypatch.setattr(download, "PB_SHA1", bundle.pb_sha1)
    pb = tmp_path / PB_NAME
    pb.write_bytes(bundle.pb)
    (tmp_path / LABELS_NAME).write_text("not the real labels")
    with pytest.warns(UserWarning, match="class names may be wrong"):
        files = inception5h_from_file(pb)
    assert files.labels == tmp_path / LABELS_NAME


@pytest.mark.parametrize("suffix", [".zip", ".pb"])
def test_from_file_wrong_hash_leaves_users_file(suffix, tmp_path, bundle, cache):
    path = tmp_path / f"mine{suffix}"
    data = bundle.data if suffix == ".zip" else bundle.pb
    path.write_bytes(data)
    with pytest.raises(IntegrityError) as caught:
        inception5h_from_file(path, cache_dir=cache)  # checked against the real pins
    message = str(caught.value)
    pin = download.ZIP_SHA1 if suffix == ".zip" else download.PB_SHA1
    assert pin in message and _sha1(data) in message and str(path) in message
    assert "left in place" in message
    assert path.read_bytes() == data
    assert_nothing_final(cache)


@pytest.mark.parametrize("suffix", [".zip", ".pb"])
def test_from_file_verify_false_warns(suffix, tmp_path, bundle, cache):
    path = tmp_path / f"custom{suffix}"
    path.write_bytes(bundle.data if suffix == ".zip" else bundle.pb)
    with pytest.warns(UserWarning, match="verify=False"):
        files = inception5h_from_file(path, verify=False, cache_dir=cache)
    assert files.verified is False
    assert files.pb.read_bytes() == bundle.pb


def test_from_file_missing_or_unknown(tmp_path):
    missing = tmp_path / "nowhere" / "inception5h.zip"
    with pytest.raises(DownloadError) as caught:
        inception5h_from_file(missing)
    assert str(missing) in str(caught.value) and "no such file" in str(caught.value)

    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(DownloadError, match="neither a .zip archive nor a .pb graph"):
        inception5h_from_file(text)

    with pytest.raises(DownloadError, match="holds neither"):
        inception5h_from_file(tmp_path)


def test_from_file_hostile_zip_is_refused_but_kept(tmp_path, cache):
    hostile = make_bundle(tmp_path / "hostile", pb_size=1_000, extra=[("../evil.txt", b"x")])
    with pytest.raises(IntegrityError, match="'../evil.txt'"):
        inception5h_from_file(hostile.zip_path, sha1=hostile.zip_sha1, cache_dir=cache)
    assert hostile.zip_path.exists()  # the user's file is never deleted
    assert not list(tmp_path.rglob("evil.txt"))
