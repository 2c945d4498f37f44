"""Drive one notebook in JupyterLab through Playwright: open, run all, read cells, move widgets.

JupyterLab is started with --expose-app-in-browser, so `window.jupyterapp` gives the notebook model
(execution counts, outputs) and the "run all" command's completion promise. Widgets are moved only
with real DOM input (keys on the slider handle, choosing an <option>), so the values reach the kernel
the way a person's clicks do.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page

# Registered on every page load: finds the open notebook panel for a path.
_INIT_SCRIPT = """
window.__e2ePanel = (path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  for (const widget of app.shell.widgets('main')) {
    if (widget.context && widget.context.path === path && widget.content && widget.content.widgets) {
      return widget;
    }
  }
  return null;
};
"""

_KERNEL_STATUS = """(path) => {
  const panel = window.__e2ePanel(path);
  const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
  return kernel ? kernel.status : 'no kernel';
}"""

_START_RUN_ALL = """async (path) => {
  const app = window.jupyterapp;
  const panel = window.__e2ePanel(path);
  await panel.context.ready;
  await panel.sessionContext.ready;
  app.shell.activateById(panel.id);
  window.__e2eRun = {done: false};
  app.commands.execute('notebook:run-all-cells').then(
    (ok) => { window.__e2eRun = {done: true, ok: ok !== false}; },
    (error) => { window.__e2eRun = {done: true, ok: false, error: String(error)}; });
}"""

# Only the fields a failure message needs (no image payloads).
_CELL_REPORT = """(path) => {
  const panel = window.__e2ePanel(path);
  const cells = [];
  panel.content.widgets.forEach((cell, index) => {
    const model = cell.model;
    if (model.type !== 'code') return;
    const outputs = [];
    for (let j = 0; j < model.outputs.length; j++) {
      const out = model.outputs.get(j).toJSON();
      outputs.push({type: out.output_type, name: out.name || '', text: [].concat(out.text || []).join(''),
                    ename: out.ename || '', evalue: out.evalue || '',
                    traceback: (out.traceback || []).join('\\n')});
    }
    cells.push({index: index, count: model.executionCount,
                source: model.sharedModel.getSource().slice(0, 160), outputs: outputs});
  });
  return cells;
}"""

_STDERR_ERRORS = """() => [...document.querySelectorAll(
    '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]')]
  .map((el) => el.innerText).filter((text) => /Traceback|Error/.test(text))"""

_WIDGET_ERRORS = """() => [...document.querySelectorAll('.jp-OutputArea-output')]
  .map((el) => el.innerText).filter((text) => /Error (displaying|rendering) widget/.test(text))"""

# Marks the smallest element holding a visible control and everything in `needed`, so later lookups
# stay inside one widget panel even when a notebook shows several; of several candidate controls the
# one with the tightest panel wins, and it is marked too.
_MARK_GROUP = """([controlSelector, needed, group]) => {
  const controls = [...document.querySelectorAll(controlSelector)]
    .filter((el) => el.getClientRects().length > 0);
  let best = null;
  for (const control of controls) {
    for (let el = control.parentElement; el && el !== document.body; el = el.parentElement) {
      if (needed.every((selector) => el.querySelector(selector))) {
        const size = el.getElementsByTagName('*').length;
        if (!best || size < best.size) best = {control: control, box: el, size: size};
        break;
      }
    }
  }
  if (!best) {
    return controls.length ? `no element holds a visible ${controlSelector} together with ${needed.join(', ')}`
                           : `no visible ${controlSelector} on the page`;
  }
  for (const attr of ['data-e2e-group', 'data-e2e-control']) {
    document.querySelectorAll(`[${attr}="${group}"]`).forEach((old) => old.removeAttribute(attr));
  }
  best.box.setAttribute('data-e2e-group', group);
  best.control.setAttribute('data-e2e-control', group);
  return '';
}"""

# ipywidgets' Image view is the <img> itself; a wrapper with the class is accepted too.
_PREVIEW_STATE = """([group]) => {
  const box = document.querySelector(`[data-e2e-group="${group}"]`);
  if (!box) return null;
  const preview = box.querySelector('.cadl-preview');
  const img = preview && (preview.tagName === 'IMG' ? preview : preview.querySelector('img'));
  const label = box.querySelector('.cadl-preview-label');
  return {src: img ? img.src : null, label: label ? label.innerText.trim() : null};
}"""

_PREVIEW_CHANGED = """([group, old, needLabel]) => {
  const now = (%s)([group]);
  return !!now && now.src !== old.src && (!needLabel || now.label !== old.label);
}""" % _PREVIEW_STATE

_GIF_IMAGES = """() => [...document.querySelectorAll(
    'img[src^="data:image/gif"], img.cadl-gif, .cadl-gif img')]
  .filter((img) => img.getClientRects().length > 0 && img.complete && img.naturalWidth > 0).length"""

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class RunReport:
    """What running all cells of one notebook produced."""

    finished: bool
    seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every code cell ran and nothing showed an error."""
        return self.finished and not self.problems


class E2EFailure(AssertionError):
    """A browser check failed; the message names the expectation and the screenshot."""


class NotebookPage:
    """One notebook open in JupyterLab in its own browser page."""

    def __init__(self, page: Page, base_url: str, token: str, name: str, shots: Path) -> None:
        self.page = page
        self.base_url = base_url
        self.token = token
        self.name = name
        self.stem = Path(name).stem
        self.shots = shots

    # -- evidence ---------------------------------------------------------------------------

    def screenshot(self, step: str) -> Path:
        """Save the visible page as outputs/e2e/<notebook>-<step>.png; returns the path."""
        path = self.shots / f"{self.stem}-{step}.png"
        try:
            self.page.screenshot(path=str(path))
        except PlaywrightError as error:
            return Path(f"{path} (not saved: {error})")
        return path

    def fail(self, expected: str, step: str) -> NoReturn:
        """Raise E2EFailure naming what was expected, after saving a screenshot."""
        __tracebackhide__ = True
        path = self.screenshot(f"{step}-FAILED")
        raise E2EFailure(f"{self.name}: expected {expected}\n  screenshot: {path}") from None

    # -- open and run -----------------------------------------------------------------------

    def open(self, timeout_s: float = 120.0) -> None:
        """Load JupyterLab with this notebook in a fresh workspace; wait for an idle kernel."""
        timeout_ms = timeout_s * 1000
        self.page.add_init_script(_INIT_SCRIPT)
        path = urllib.parse.quote(self.name)
        workspace = re.sub(r"[^A-Za-z0-9]+", "-", self.stem)
        url = f"{self.base_url}/lab/workspaces/e2e-{workspace}/tree/{path}?token={self.token}"
        try:
            self.page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
            self.page.wait_for_function(
                "(path) => !!window.__e2ePanel(path)", arg=self.name, timeout=timeout_ms
            )
            self.page.wait_for_function(
                f"(path) => ({_KERNEL_STATUS})(path) === 'idle'", arg=self.name, timeout=timeout_ms
            )
            # More room for the notebook in screenshots.
            self.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        except PlaywrightError:
            dialog = self.page.locator(".jp-Dialog").all_inner_texts()
            status = self._kernel_status()
            self.fail(
                f"JupyterLab to open the notebook with an idle kernel within {timeout_s:.0f} s "
                f"(kernel status: {status}; dialog: {dialog or 'none'})",
                "open",
            )

    def _kernel_status(self) -> str:
        try:
            return self.page.evaluate(_KERNEL_STATUS, self.name)
        except PlaywrightError as error:
            return f"unknown ({error})"

    def run_all(self, timeout_s: float) -> RunReport:
        """Run all cells with JupyterLab's "Run All Cells" command and report what happened.

        Args:
            timeout_s: how long the whole notebook may take.

        Returns:
            A RunReport; `problems` lists error outputs, cells that did not run, widget errors.
        """
        start = time.monotonic()
        self.page.evaluate(_START_RUN_ALL, self.name)
        finished = True
        try:
            # Idle is the normal end; a dead kernel ends the run too (reported below).
            self.page.wait_for_function(
                f"(path) => window.__e2eRun.done && ['idle', 'dead', 'no kernel'].includes(({_KERNEL_STATUS})(path))",
                arg=self.name,
                timeout=timeout_s * 1000,
                polling=500,
            )
        except PlaywrightError:
            finished = False
        report = RunReport(finished=finished, seconds=time.monotonic() - start)
        if not finished:
            report.problems.append(
                f"all cells to finish within {timeout_s:.0f} s (kernel status: {self._kernel_status()}); "
                "raise CADL_E2E_RUN_TIMEOUT or make the quick profile quicker"
            )
        status = self._kernel_status()
        if finished and status != "idle":
            report.problems.append(f"the kernel to stay alive, its status is {status!r} (crashed? out of memory?)")
        dialogs = self.page.locator(".jp-Dialog").all_inner_texts()
        if dialogs:
            report.problems.append(f"no JupyterLab dialog, found: {' | '.join(dialogs)[:500]}")
        cell_problems, evalues = self._cell_problems()
        report.problems += cell_problems
        # Error outputs also render as stderr; report only stderr text not already reported above.
        report.problems += [f"no error on stderr, found:\n{text[:800]}"
                            for text in self.page.evaluate(_STDERR_ERRORS)
                            if not any(value and value in text for value in evalues)]
        report.problems += [f"every widget to render, found: {text[:300]}"
                            for text in self.page.evaluate(_WIDGET_ERRORS)]
        return report

    def _cell_problems(self) -> tuple[list[str], list[str]]:
        """Problems per code cell, and the error messages (evalue) seen."""
        problems, evalues = [], []
        for cell in self.page.evaluate(_CELL_REPORT, self.name):
            where = f"cell {cell['index']} ({cell['source'].splitlines()[0][:70] if cell['source'] else 'empty'!r})"
            for out in cell["outputs"]:
                if out["type"] == "error":
                    evalues.append(out["evalue"])
                    traceback = _ANSI.sub("", out["traceback"])[-1500:]
                    problems.append(f"{where} to run without error, got {out['ename']}: {out['evalue']}\n{traceback}")
            if cell["count"] is None and cell["source"].strip():
                problems.append(f"{where} to have run (it has no execution count)")
        return problems, evalues

    def error_count(self) -> int:
        """Error outputs plus stderr tracebacks currently in the notebook (to spot new ones)."""
        cells = self.page.evaluate(_CELL_REPORT, self.name)
        errors = sum(out["type"] == "error" for cell in cells for out in cell["outputs"])
        return errors + len(self.page.evaluate(_STDERR_ERRORS))

    # -- widgets ----------------------------------------------------------------------------

    def mark_group(self, group: str, control: str, needed: list[str], step: str) -> Locator:
        """Find the widget panel holding `control` and all `needed` selectors.

        Returns:
            The panel; its chosen control is `panel.locator(f'[data-e2e-control="{group}"]')`.
        """
        problem = self.page.evaluate(_MARK_GROUP, [control, needed, group])
        if problem:
            self.fail(f"a widget panel with {control} and {', '.join(needed)} ({problem})", step)
        box = self.page.locator(f'[data-e2e-group="{group}"]')
        box.scroll_into_view_if_needed()
        return box

    def preview_state(self, group: str) -> dict:
        """The current preview image src and label text in a marked panel."""
        return self.page.evaluate(_PREVIEW_STATE, [group])

    def wait_preview_change(self, group: str, old: dict, what: str, step: str, timeout_s: float,
                            need_label: bool = True) -> dict:
        """Wait until the preview src (and label) differ from `old`; fail naming `what` otherwise."""
        try:
            self.page.wait_for_function(
                _PREVIEW_CHANGED, arg=[group, old, need_label], timeout=timeout_s * 1000, polling=200
            )
        except PlaywrightError:
            now = self.preview_state(group) or {}
            unchanged = [part for part in (["src", "label"] if need_label else ["src"])
                         if now.get(part) == old.get(part)]
            parts = "the .cadl-preview image and .cadl-preview-label text" if need_label else "the .cadl-preview image"
            self.fail(
                f"{what} to change {parts} within "
                f"{timeout_s:.0f} s; unchanged: {', '.join(unchanged)} "
                f"(label before {old.get('label')!r}, now {now.get('label')!r})",
                step,
            )
        self.page.wait_for_timeout(200)  # let the image paint before a screenshot
        return self.preview_state(group)

    def step_slider(self, slider: Locator, step: str) -> str:
        """Move an ipywidgets slider one step with the keyboard on its handle; returns the new readout."""
        handle = slider.locator(".noUi-handle").first
        try:
            handle.scroll_into_view_if_needed()
            before = handle.get_attribute("aria-valuenow")
            top = handle.get_attribute("aria-valuemax")
            handle.focus()
            handle.press("ArrowLeft" if before == top else "ArrowRight")
            # noUiSlider keeps aria-valuenow in step with the handle position.
            self.page.wait_for_function(
                "([el, before]) => el.getAttribute('aria-valuenow') !== before",
                arg=[handle.element_handle(), before],
                timeout=10_000,
            )
            readout = slider.locator(".widget-readout")
            if readout.count() and readout.first.is_visible():
                return readout.first.inner_text()
            return handle.get_attribute("aria-valuenow") or "?"
        except PlaywrightError as error:
            self.fail(f"the slider to move with the arrow keys on its handle ({error.message.splitlines()[0]})", step)

    def choose_other_option(self, dropdown: Locator, step: str) -> str:
        """Select a different option of an ipywidgets Dropdown; returns its text."""
        select = dropdown.locator("select").first
        try:
            select.scroll_into_view_if_needed()
            options = select.locator("option").all_inner_texts()
            current = select.evaluate("(el) => el.selectedIndex")
        except PlaywrightError as error:
            self.fail(f"a <select> inside the dropdown ({error.message.splitlines()[0]})", step)
        if len(options) < 2:
            self.fail(f"the dropdown to offer at least 2 options, it has {options}", step)
        choice = (current + 1) % len(options)
        select.select_option(index=choice)
        return options[choice]

    def count_gif_images(self) -> int:
        """How many visible, decoded GIF images the page shows."""
        return self.page.evaluate(_GIF_IMAGES)
