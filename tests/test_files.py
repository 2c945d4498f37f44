"""Tests for cadl_utils.files: output path checks and atomic writes."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from cadl_utils.errors import OutputError
from cadl_utils.files import atomic_write, check_output_path, check_output_paths


def leftovers(folder: Path) -> list[str]:
    """Temporary files atomic_write may have left behind."""
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


# ---------------------------------------------------------------- check_output_path


def test_check_output_path_creates_missing_parents(tmp_path):
    target = tmp_path / "a" / "b" / "out.png"
    result = check_output_path(target)
    assert result == target
    assert target.parent.is_dir()
    assert not target.exists()


def test_check_output_path_expands_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    result = check_output_path("~/x/out.png")
    assert result == tmp_path / "x" / "out.png"
    assert (tmp_path / "x").is_dir()


def test_check_output_path_rejects_a_folder(tmp_path):
    with pytest.raises(OutputError, match="is a folder"):
        check_output_path(tmp_path)


@pytest.mark.parametrize("empty", ["", None])
def test_check_output_path_rejects_empty(empty):
    with pytest.raises(OutputError, match="no output path"):
        check_output_path(empty)


def test_check_output_path_parent_is_a_file(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot create the folder") as info:
        check_output_path(blocker / "sub" / "out.png")
    assert str(blocker) in str(info.value)


def test_check_output_path_unwritable_folder(tmp_path, monkeypatch):
    # Tests may run as root, who can write anywhere, so simulate the permission check.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real_access(p, mode))
    with pytest.raises(OutputError, match="not writable") as info:
        check_output_path(tmp_path / "out.png")
    assert "out.png" in str(info.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_check_output_path_read_only_folder_for_real(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(OutputError):
            check_output_path(folder / "out.png")
    finally:
        folder.chmod(stat.S_IRWXU)


def test_check_output_path_refuses_an_input(tmp_path):
    source = tmp_path / "photo.png"
    source.write_bytes(b"x")
    with pytest.raises(OutputError, match="overwrite the input") as info:
        check_output_path(tmp_path / "photo.png", inputs=[str(source)])
    assert "overwrite_inputs=True" in str(info.value)


def test_check_output_path_refuses_an_input_via_other_spelling(tmp_path, monkeypatch):
    source = tmp_path / "photo.png"
    source.write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(OutputError):
        check_output_path(Path("..") / "photo.png", inputs=[source])


def test_check_output_path_refuses_a_symlinked_input(tmp_path):
    source = tmp_path / "photo.png"
    source.write_bytes(b"x")
    link = tmp_path / "link.png"
    link.symlink_to(source)
    with pytest.raises(OutputError):
        check_output_path(link, inputs=[source])


def test_check_output_path_allows_input_when_asked(tmp_path):
    source = tmp_path / "photo.png"
    source.write_bytes(b"x")
    assert check_output_path(source, inputs=[source], overwrite_inputs=True) == source


def test_check_output_paths_checks_every_path_against_every_input(tmp_path):
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    first.write_bytes(b"x")
    second.write_bytes(b"y")
    outputs = [tmp_path / "out" / "result.gif", tmp_path / "out" / "result.png"]
    # A generator of inputs must serve every path, not only the first.
    assert check_output_paths(outputs, inputs=(p for p in (first, second))) == outputs
    with pytest.raises(OutputError, match="overwrite the input") as info:
        check_output_paths([outputs[0], second], inputs=(p for p in (first, second)))
    assert "b.png" in str(info.value)
    assert second.read_bytes() == b"y"
    assert check_output_paths([second], inputs=[second], overwrite_inputs=True) == [second]


def test_check_output_path_ignores_non_path_inputs(tmp_path):
    import numpy as np

    target = tmp_path / "out.png"
    assert check_output_path(target, inputs=[np.zeros((2, 2)), None, tmp_path / "other.png"]) == target


# ---------------------------------------------------------------- atomic_write


def test_atomic_write_creates_file(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_write(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.suffix == ".txt"
        assert tmp.name.startswith(".")
        assert tmp.exists() and not target.exists()
        tmp.write_text("hello")
    assert target.read_text() == "hello"
    assert leftovers(tmp_path) == []


def test_atomic_write_replaces_existing_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_write(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_atomic_write_uses_normal_permissions(tmp_path):
    target = tmp_path / "out.txt"
    old = os.umask(0o022)
    try:
        with atomic_write(target) as tmp:
            tmp.write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_atomic_write_cleans_up_and_keeps_old_file(tmp_path, error):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(type(error)):
        with atomic_write(target) as tmp:
            tmp.write_text("half")
            raise error
    assert target.read_text() == "old"
    assert leftovers(tmp_path) == []


def test_atomic_write_no_file_on_failure_when_none_existed(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(ValueError):
        with atomic_write(target) as tmp:
            tmp.write_text("half")
            raise ValueError("x")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_disk_full(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(OutputError) as info:
        with atomic_write(target) as tmp:
            tmp.write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
    message = str(info.value)
    assert "disk full" in message and str(target) in message
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_other_oserror_becomes_output_error(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(OutputError, match="out.bin"):
        with atomic_write(target):
            raise OSError(errno.EIO, "Input/output error")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_missing_folder(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        with atomic_write(tmp_path / "nope" / "out.txt"):
            pass


def test_atomic_write_replace_failure_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"

    def failing_replace(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OutputError, match="disk full"):
        with atomic_write(target) as tmp:
            tmp.write_text("x")
    assert list(tmp_path.iterdir()) == []


def test_output_path_with_a_nul_byte_is_refused():
    with pytest.raises(OutputError, match="NUL byte"):
        check_output_path("out\0.png")


@pytest.mark.parametrize("special", ["/dev/null", "fifo"])
def test_output_path_that_is_not_a_regular_file_is_refused(special, tmp_path):
    if special == "fifo":
        special = tmp_path / "pipe.png"
        os.mkfifo(special)
    with pytest.raises(OutputError, match="not a regular file"):
        check_output_path(special)
