"""Fixtures for the browser end-to-end test (`make e2e`, i.e. `bash tests/e2e/run.sh`).

A plain `pytest tests` does not collect these tests: run.sh sets CADL_E2E=1. One JupyterLab server
and one browser serve the whole session; one notebook is open at a time, and the tests of a notebook
run right after its "run all" (items are sorted by notebook), so each notebook executes once.

Environment:
    CADL_E2E=1                 collect the browser tests (run.sh sets it)
    CADL_CHROMIUM              browser binary (default /usr/bin/chromium)
    CADL_E2E_NOTEBOOKS         folder of notebooks to test (default <repo>/notebooks)
    CADL_E2E_PROBE=1           test generated probe notebooks instead (harness self-check)
    CADL_E2E_PROBE_BROKEN=1    add a probe whose cell raises (to see a failure report)
    CADL_E2E_RUN_TIMEOUT       seconds one notebook may take to run all cells (default 600)
    CADL_E2E_PREVIEW_TIMEOUT   seconds a preview may take to update after a widget move (default 120)
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "outputs" / "e2e"
ENABLED = os.environ.get("CADL_E2E") == "1"

if not ENABLED:
    collect_ignore_glob = ["test_*.py"]

_SCRATCH = pytest.StashKey[Path]()
_NAMES = pytest.StashKey[list]()
_SOURCE = pytest.StashKey[Path]()
_TIMINGS = pytest.StashKey[dict]()

BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _seconds(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    try:
        return float(value) if value else default
    except ValueError:
        raise pytest.UsageError(f"{name}={value!r} is not a number of seconds; fix: e.g. {name}={default:.0f}")


def _interrupt(signum: int, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    if not ENABLED:
        return
    # A CI timeout sends SIGTERM: turn it into KeyboardInterrupt so the fixtures' finally blocks
    # still stop JupyterLab, its kernels and the browser.
    signal.signal(signal.SIGTERM, _interrupt)
    scratch = Path(tempfile.mkdtemp(prefix="cadl-e2e-"))
    config.stash[_SCRATCH] = scratch
    if os.environ.get("CADL_E2E_PROBE") == "1":
        from probe_notebooks import write_probe_notebooks

        source = scratch / "probe"
        write_probe_notebooks(source, broken=os.environ.get("CADL_E2E_PROBE_BROKEN") == "1")
    else:
        source = Path(os.environ.get("CADL_E2E_NOTEBOOKS") or REPO / "notebooks")
    config.stash[_SOURCE] = source
    config.stash[_TIMINGS] = {}
    config.stash[_NAMES] = sorted(path.name for path in source.glob("*.ipynb"))


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """Print how long each notebook took to open and run all cells in the browser."""
    timings = config.stash.get(_TIMINGS, {})
    if timings:
        terminalreporter.section("e2e timings")
        for name, (open_s, run_s) in timings.items():
            terminalreporter.write_line(f"{name}: opened in {open_s:.1f} s, ran all cells in {run_s:.1f} s")
        terminalreporter.write_line(f"screenshots: {SHOTS}")


def pytest_unconfigure(config: pytest.Config) -> None:
    scratch = config.stash.get(_SCRATCH, None)
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise `nb` over the notebooks a test applies to (see `applies_to` in the test module)."""
    if "nb" not in metafunc.fixturenames:
        return
    names = metafunc.config.stash.get(_NAMES, [])
    source = metafunc.config.stash.get(_SOURCE, REPO / "notebooks")
    select = getattr(metafunc.function, "e2e_select", lambda name: True)
    wanted = getattr(metafunc.function, "e2e_wanted", "a notebook")
    chosen = [name for name in names if select(name)]
    if chosen:
        metafunc.parametrize("nb", chosen, ids=[Path(name).stem for name in chosen])
    else:
        reason = f"no {wanted} in {source} yet"
        metafunc.parametrize("nb", [pytest.param(None, marks=pytest.mark.skip(reason=reason))], ids=["none"])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group the tests by notebook (stable sort), so each notebook is opened and run once."""
    names = config.stash.get(_NAMES, [])

    def notebook_order(item: pytest.Item) -> int:
        params = getattr(getattr(item, "callspec", None), "params", {})
        name = params.get("nb")
        return names.index(name) if name in names else len(names)

    items.sort(key=notebook_order)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """On an unexpected failure (not one that saved its own screenshot), save one and name it."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    from lab_page import E2EFailure

    runner = item.funcargs.get("runner") if hasattr(item, "funcargs") else None
    if call.excinfo is None or call.excinfo.errisinstance(E2EFailure) or runner is None or runner.current is None:
        return
    path = runner.current.screenshot(f"{item.originalname}-FAILED")
    report.sections.append(("e2e screenshot", str(path)))


@pytest.fixture(scope="session")
def lab_server(request: pytest.FixtureRequest):
    """JupyterLab serving a scratch copy of the notebooks; always stopped at the end."""
    from lab_server import copy_notebooks, start_lab_server

    scratch = request.config.stash[_SCRATCH]
    copy_notebooks(request.config.stash[_SOURCE], scratch / "tree", REPO)
    server = start_lab_server(scratch / "lab", scratch / "tree" / "notebooks")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser_context(request: pytest.FixtureRequest):
    """One headless chromium (Debian's, never a downloaded one) with a fresh profile."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CADL_CHROMIUM", "/usr/bin/chromium")
    if not os.access(executable, os.X_OK):
        pytest.fail(f"no browser at {executable}; fix: run `bash tests/e2e/run.sh` (installs chromium) "
                    "or set CADL_CHROMIUM to a chromium binary")
    profile = request.config.stash[_SCRATCH] / "chromium-profile"
    playwright = sync_playwright().start()
    try:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=BROWSER_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()
    finally:
        playwright.stop()


@dataclass
class ExecutedNotebook:
    """A notebook open in the browser after "run all", with what the run produced."""

    page: object  # lab_page.NotebookPage
    report: object  # lab_page.RunReport


class NotebookRunner:
    """Opens one notebook at a time and runs it once; closing it shuts its kernel down."""

    def __init__(self, server, context, run_timeout: float, timings: dict) -> None:
        self.timings = timings
        self.server = server
        self.context = context
        self.run_timeout = run_timeout
        self.current = None
        self._executed: ExecutedNotebook | None = None

    def executed(self, name: str) -> ExecutedNotebook:
        """The notebook `name`, opened and run (once per session, as long as it stays current)."""
        from lab_page import E2EFailure, NotebookPage, RunReport

        if self.current is not None and self.current.name == name:
            return self._executed
        self.close()
        page = NotebookPage(self.context.new_page(), self.server.url, self.server.token, name, SHOTS)
        self.current = page
        start = time.monotonic()
        try:
            page.open()
            opened = time.monotonic() - start
            self.server.remember_kernels()
            report = page.run_all(self.run_timeout)
            self.timings[name] = (opened, report.seconds)
            page.screenshot("0-after-run-all")
        except E2EFailure as error:
            report = RunReport(finished=False, seconds=0.0, problems=[str(error)])
        except Exception as error:  # noqa: BLE001 - any browser trouble becomes this notebook's failure
            path = page.screenshot("0-open-FAILED")
            report = RunReport(finished=False, seconds=0.0,
                               problems=[f"opening and running it without {type(error).__name__}: {error}\n"
                                         f"  screenshot: {path}"])
        self._executed = ExecutedNotebook(page, report)
        return self._executed

    def close(self) -> None:
        """Close the open notebook's page and shut its kernel down."""
        if self.current is not None:
            try:
                self.current.page.close()
            finally:
                self.current = None
                self._executed = None
                self.server.shutdown_kernels()


@pytest.fixture(scope="session")
def runner(request: pytest.FixtureRequest, lab_server, browser_context):
    """The session's NotebookRunner; closes the last notebook at the end."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    notebook_runner = NotebookRunner(
        lab_server, browser_context, _seconds("CADL_E2E_RUN_TIMEOUT", 600), request.config.stash[_TIMINGS]
    )
    try:
        yield notebook_runner
    finally:
        notebook_runner.close()


@pytest.fixture(scope="session")
def preview_timeout() -> float:
    """Seconds a preview may take to follow a widget change."""
    return _seconds("CADL_E2E_PREVIEW_TIMEOUT", 120)


@pytest.fixture
def notebook(nb: str, runner: NotebookRunner) -> ExecutedNotebook:
    """The notebook `nb` (a parameter), opened in JupyterLab with all cells run."""
    return runner.executed(nb)
