"""SIGTERM and SIGKILL sent to real ``python -m cadl_utils`` processes, mid-render and mid-write.

Each command runs in its own process with the tiny model (tests/tiny_model.py) patched in, and steps
slowed down once a marker file says "rendering now", so the signal lands in the middle of the work.
SIGTERM must behave like Ctrl-C: exit 130, the frames finished so far written as a valid file, the
truth said on stderr, no temporary file left. SIGKILL cannot be handled: the temporary file it leaves
is removed by the next write to the same place (its name holds the dead writer's PID).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import pytest

from cadl_utils.files import atomic_write

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

# The process under test: the CLI with the tiny model, slowed down at a chosen point.
DRIVER = r"""
import pathlib, sys, time
sys.path.insert(0, {tests!r})
from tiny_model import TinyModel
import importlib
from cadl_utils.cli import main
cli_dream, cli_guide, style_engine, dream, files = map(importlib.import_module, [
    "cadl_utils.cli.dream", "cadl_utils.cli.guide", "cadl_utils.style_engine", "cadl_utils.dream", "cadl_utils.files"])

model = TinyModel(seed=0)
cli_dream.load_cli_model = cli_guide.load_cli_model = lambda args, **kwargs: model
style_engine.resolve_model = lambda model_, weights=None: model
marker, where, argv = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
count = [0]

def slow_after_two(real):
    def wrapper(*args, **kwargs):
        count[0] += 1
        if count[0] > 2:  # two steps (frames) are done: say so, then take our time
            marker.touch()
            time.sleep(0.5)
        return real(*args, **kwargs)
    return wrapper

if where == "render":
    dream.Dreamer.step = slow_after_two(dream.Dreamer.step)
    style_engine._Recorder.advance = slow_after_two(style_engine._Recorder.advance)
else:  # "write": hang while the GIF's temporary file exists
    real_fsync = files._fsync
    def hanging_fsync(path):
        if str(path).endswith(".gif"):
            marker.touch()
            time.sleep(60)
        real_fsync(path)
    files._fsync = hanging_fsync
sys.exit(main(argv + ['--debug']))
"""


def start(tmp_path: Path, where: str, argv: list[str]) -> tuple[subprocess.Popen, Path]:
    marker = tmp_path / "marker"
    env = {**os.environ, "CADL_WEIGHTS": "untrained", "CADL_PROFILE": "quick", "PYTHONPATH": str(ROOT)}
    code = DRIVER.format(tests=str(TESTS))
    process = subprocess.Popen([sys.executable, "-c", code, str(marker), where, *argv], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    return process, marker


def signal_all_when_marked(runs: dict, signum: int) -> dict[str, tuple[int, str, str]]:
    """Send ``signum`` (SIGKILL to names starting with 'kill') to each (process, marker) of ``runs`` as soon
    as its marker exists; their (exit code, stdout, stderr)."""
    waiting, deadline = dict(runs), time.monotonic() + 180
    while waiting:
        for name, (process, marker) in list(waiting.items()):
            if marker.exists():
                process.send_signal(signal.SIGKILL if name.startswith("kill") else signum)
                del waiting[name]
            else:
                assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"never reached the marked point: {sorted(waiting)}"
        time.sleep(0.02)
    outcomes = {}
    for name, (process, _) in runs.items():
        out, err = process.communicate(timeout=60)
        outcomes[name] = process.returncode, out, err
    return outcomes


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".tmp" in p.name)


COMMANDS = {
    "dream": ["dream", "cat", "--layer", "mixed", "--mean", "--size", "32", "--frames", "40", "--steps", "1",
              "--no-progress", "--out", "out/dream.gif"],
    "zoom": ["zoom", "cat", "--layer", "mixed", "--mean", "--size", "32", "--frames", "40", "--steps", "1",
             "--no-progress", "--out", "out/zoom.gif"],
    "guide": ["guide", "cat", "coffee", "--layers", "mixed", "--steps", "40", "--frame-every", "1", "--max-side", "32",
              "--no-progress", "--out", "out"],
    "style": ["style", "coffee", "--size", "32", "--steps", "40", "--frame-every", "1", "--no-progress",
              "--out", "out", "--name", "style"],
    "course": ["course", "--out", "out"],
}  # fmt: skip
GIFS = {"dream": "out/dream.gif", "zoom": "out/zoom.gif", "guide": "out/guided.gif", "style": "out/style.gif",
        "course": "out/softmax.gif"}  # fmt: skip


@pytest.fixture(scope="module")
def interrupted_renders(tmp_path_factory):
    """Every command, SIGTERM-ed after two steps; the five processes run side by side."""
    folders = {name: tmp_path_factory.mktemp(name) for name in COMMANDS}
    runs = {name: start(folders[name], "render", argv) for name, argv in COMMANDS.items()}
    outcomes = signal_all_when_marked(runs, signal.SIGTERM)
    return {name: (folders[name], outcome) for name, outcome in outcomes.items()}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_sigterm_mid_render_writes_the_finished_frames(interrupted_renders, command):
    folder, (code, out, err) = interrupted_renders[command]
    assert code == 130, (out, err)
    assert "Traceback" not in err
    assert "interrupted" in err + out
    frames = iio.imread(folder / GIFS[command], index=None)
    assert len(frames) >= 1  # the frames finished before the signal, as a valid GIF
    assert "wrote" in out and Path(GIFS[command]).name in out  # the messages name what was kept
    assert temporaries(folder) == []


@pytest.fixture(scope="module")
def interrupted_writes(tmp_path_factory):
    """zoom and style SIGTERM-ed, and zoom SIGKILL-ed, while their GIF's temporary file exists (side by side)."""
    jobs = {"zoom": "zoom", "style": "style", "kill-zoom": "zoom"}
    folders = {name: tmp_path_factory.mktemp(name) for name in jobs}
    runs = {name: start(folders[name], "write", COMMANDS[command]) for name, command in jobs.items()}
    pids = {name: process.pid for name, (process, _) in runs.items()}
    outcomes = signal_all_when_marked(runs, signal.SIGTERM)
    return {name: (folders[name], pids[name], outcome) for name, outcome in outcomes.items()}


@pytest.mark.parametrize("command", ["zoom", "style"])
def test_sigterm_mid_write_leaves_nothing_half_written(interrupted_writes, command):
    folder, _, (code, out, err) = interrupted_writes[command]
    assert code == 130, (out, err)
    assert "Traceback" not in err
    assert not (folder / GIFS[command]).exists()
    assert temporaries(folder) == []


def test_sigkill_mid_write_leaves_a_temporary_that_the_next_write_removes(interrupted_writes):
    folder, pid, (code, _, _) = interrupted_writes["kill-zoom"]
    assert code == -signal.SIGKILL
    [left] = temporaries(folder)
    assert left.startswith(f".zoom.{pid}-")  # the writer's PID is in the name
    with atomic_write(folder / "out" / "zoom.gif") as temp:
        temp.write_bytes(b"GIF89a")
    assert temporaries(folder) == []


def test_stale_temporaries_of_dead_writers_are_removed_live_and_foreign_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".out.{dead_pid}-0a1b2c3d.tmp.png"
    live = tmp_path / f".out.{os.getpid()}-0a1b2c3d.tmp.png"  # another write in progress (this process)
    foreign = [tmp_path / ".out.tmp.png", tmp_path / ".out.x-1.tmp.png", tmp_path / ".other.1-ab.tmp.png"]
    for path in [stale, live, *foreign]:
        path.write_bytes(b"half")
    with atomic_write(tmp_path / "out.png") as temp:
        temp.write_bytes(b"new")
    assert not stale.exists()
    assert live.exists() and all(path.exists() for path in foreign)
    assert (tmp_path / "out.png").read_bytes() == b"new"
