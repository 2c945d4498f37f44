"""Tests of the project's own files: README commands, Makefile, CI entry, pins, environment.yml."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def _quick_start_commands() -> list[str]:
    """The shell commands of the README's quick-start block, in order."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Quick start", 1)[1]
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", section, re.S).group(1)
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    return [command for command in commands if command]


def test_readme_quick_start_shows_lab_then_test():
    commands = _quick_start_commands()
    assert commands[:2] == ["make lab", "make test"]


def test_makefile_has_the_readme_targets():
    makefile = (REPO / "Makefile").read_text()
    for target in ("setup", "lab", "test", "course", "demo", "bench", "clean", "e2e", "nbval"):
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile has no target {target!r}"
    # lab and test must create the venv themselves (fresh clone)
    assert re.search(r"^lab: setup", makefile, re.M)
    assert re.search(r"^test: setup", makefile, re.M)


def test_ci_runs_the_readme_test_command_and_nothing_else():
    lines = [
        line.strip()
        for line in (REPO / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    commands = [line for line in lines if not line.startswith(("set ", "cd "))]
    assert commands == ["make test"]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, version = line.split("==")
        pins[name.lower()] = version
    return pins


def test_every_dependency_is_pinned_exactly_once():
    runtime = _pins(REPO / "requirements.txt")
    dev = _pins(REPO / "requirements-dev.txt")
    assert not set(runtime) & set(dev), "a package is pinned in two files"
    for name in ("tensorflow", "numpy", "matplotlib", "ipywidgets", "imageio", "pillow", "tqdm"):
        assert name in runtime
    for name in ("pytest", "nbval", "jupyterlab", "hypothesis"):
        assert name in dev
    assert dev["nbval"] == "0.11.0"
    assert runtime["ipywidgets"].startswith("8.")
    assert dev["jupyterlab"].startswith("4.")
    assert "-r requirements.txt" in (REPO / "requirements-dev.txt").read_text()


def test_environment_yml_parses_and_uses_the_same_pins():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    deps = env["dependencies"]
    assert any(str(d).startswith("python=3.11") for d in deps)
    pip_lists = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert pip_lists, "environment.yml has no pip section"
    assert "-r requirements-dev.txt" in pip_lists[0]
    assert "-e .[mp4]" in pip_lists[0]


def test_pyproject_reads_the_runtime_pins():
    text = (REPO / "pyproject.toml").read_text()
    assert 'dependencies = { file = ["requirements.txt"] }' in text
    assert 'requires-python = ">=3.11"' in text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_make_lab_starts_jupyterlab(tmp_path):
    """`make lab` answers on its API, then stops cleanly."""
    port = _free_port()
    token = "cadl-test-token"
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTER_TOKEN=token,
        BROWSER="true",
    )
    process = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"PORT={port}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{port}/api/status?token={token}"
                with urllib.request.urlopen(url, timeout=2) as response:
                    status = json.load(response)
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(f"make lab exited early with code {process.returncode}")
                time.sleep(1)
        assert status is not None, "JupyterLab did not answer on /api/status within 120 s"
        assert "started" in status
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen) -> None:
    """Stop a process and its children (make -> jupyter), politely first."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
