"""A throw-away JupyterLab server for the browser test: own config, token, port; always stopped."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

# The current env's kernel, like nbval --nbval-current-env: jupyter_client swaps "python" for
# the server's own interpreter, so the kernel imports the .venv's cadl_utils.
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

# Settings that keep JupyterLab quiet and deterministic: no news or update checks (offline), and no
# notebook windowing, so widgets in cells far down the page exist in the DOM and can be found.
_LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "checkForUpdates": False,
        "fetchNews": "false",
    },
}
_PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_notebooks(source: Path, dest: Path, repo: Path) -> list[str]:
    """Copy the notebooks into a scratch tree shaped like the repo, so JupyterLab's autosave and
    checkpoints never touch the committed files, while relative paths such as ../data still work.

    Args:
        source: folder holding the *.ipynb files (and anything next to them).
        dest: scratch root; notebooks go to dest/notebooks, the repo's other top-level entries
            are symlinked next to it.
        repo: the repository root.

    Returns:
        The notebook file names, sorted.
    """
    notebooks = dest / "notebooks"
    shutil.copytree(source, notebooks, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for entry in repo.iterdir():
        if entry.name not in {"notebooks", ".git"} and not (dest / entry.name).exists():
            (dest / entry.name).symlink_to(entry)
    names = sorted(path.name for path in notebooks.glob("*.ipynb"))
    for name in names:
        path = notebooks / name
        notebook = nbformat.read(path, as_version=4)
        notebook.metadata["kernelspec"] = dict(KERNELSPEC)
        nbformat.write(notebook, path)
    return names


def _children(pid: int) -> list[int]:
    """Direct child process ids of `pid` (read from /proc, Linux only)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


@dataclass
class LabServer:
    """A running JupyterLab; use `start_lab_server` and always call `stop()`."""

    process: subprocess.Popen
    url: str
    token: str
    root: Path
    log_path: Path
    kernel_pids: set[int] = field(default_factory=set)

    def api(self, path: str, method: str = "GET", timeout: float = 10.0):
        """Call the server's REST API with the token; returns parsed JSON (or None)."""
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server log, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def remember_kernels(self) -> None:
        """Note the current kernel processes, so `stop()` can end them even if the server hangs."""
        self.kernel_pids.update(_children(self.process.pid))

    def shutdown_kernels(self) -> None:
        """Shut down every running kernel through the API (best effort)."""
        try:
            self.remember_kernels()
            for kernel in self.api("/api/kernels"):
                self.api(f"/api/kernels/{kernel['id']}", method="DELETE", timeout=30.0)
        except (OSError, urllib.error.URLError, ValueError):
            pass

    def stop(self) -> None:
        """Stop kernels and server: API shutdown, then terminate, wait, kill. Safe to call twice."""
        if self.process.poll() is None:
            self.shutdown_kernels()
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        # Kernels run in their own session, so a killed server can leave them behind.
        for pid in self.kernel_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _wait_until_ready(server: LabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with code {server.process.returncode} while starting.\n"
                f"Server log ({server.log_path}):\n{server.log_tail()}"
            )
        try:
            if server.api("/api/status", timeout=2.0) is not None:
                return
        except (OSError, urllib.error.URLError, ValueError):
            pass
        time.sleep(0.3)
    raise TimeoutError(
        f"JupyterLab did not answer {server.url}/api/status within {timeout:.0f} s.\n"
        f"Server log ({server.log_path}):\n{server.log_tail()}"
    )


def start_lab_server(scratch: Path, notebook_dir: Path, timeout: float = 90.0) -> LabServer:
    """Start JupyterLab from this interpreter's env with a throw-away config, data and runtime dir.

    Args:
        scratch: an empty temporary folder for config, runtime, settings and the log.
        notebook_dir: the folder JupyterLab serves (the scratch copy of the notebooks).
        timeout: seconds to wait for /api/status.

    Returns:
        The running server; the caller must call `stop()` (also on failure).
    """
    jupyter = Path(sys.executable).with_name("jupyter")
    env = dict(os.environ)
    for name in ("config", "runtime", "data", "ipython", "workspaces"):
        (scratch / name).mkdir(parents=True, exist_ok=True)
    env.update(
        JUPYTER_CONFIG_DIR=str(scratch / "config"),
        JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
        JUPYTER_DATA_DIR=str(scratch / "data"),
        IPYTHONDIR=str(scratch / "ipython"),
        JUPYTERLAB_SETTINGS_DIR=str(scratch / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"),
    )
    for relative, content in _LAB_SETTINGS.items():
        path = scratch / "settings" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))
    (scratch / "config" / "labconfig").mkdir(exist_ok=True)
    (scratch / "config" / "labconfig" / "page_config.json").write_text(json.dumps(_PAGE_CONFIG))

    last_error: Exception | None = None
    # The free port can be taken between probing and binding; a couple of retries cover that.
    for attempt in range(3):
        port = free_port()
        token = secrets.token_hex(24)
        log_path = scratch / f"jupyter-lab-{attempt}.log"
        command = [
            str(jupyter), "lab",
            "--no-browser",
            "--expose-app-in-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={notebook_dir}",
            f"--IdentityProvider.token={token}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            # Guards in case the test process dies without stop(): idle kernels are culled and an
            # unused server exits on its own (both far beyond any test's timeouts).
            "--MappingKernelManager.cull_idle_timeout=1800",
            "--MappingKernelManager.cull_interval=120",
            "--ServerApp.shutdown_no_activity_timeout=1800",
        ]  # fmt: skip
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # CI containers run as root
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command, cwd=notebook_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        server = LabServer(process, f"http://127.0.0.1:{port}", token, notebook_dir, log_path)
        try:
            _wait_until_ready(server, timeout)
            return server
        except (RuntimeError, TimeoutError) as error:
            server.stop()
            last_error = error
            if "address already in use" not in server.log_tail().lower():
                break
    raise RuntimeError(f"could not start JupyterLab: {last_error}")
