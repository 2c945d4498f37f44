"""Write the lesson notebooks (*.ipynb) from their readable sources in notebooks/src/*.py.

The sources use the "percent" format (as jupytext does): ``# %%`` starts a code cell,
``# %% [markdown]`` a Markdown cell whose lines are written as comments (``# text``). Inside code
cells, a comment line holding an IPython magic (``# %matplotlib inline``) becomes the magic itself,
so the sources stay valid Python.

Outputs policy (checked by tests/test_notebooks.py): only cells whose first line is
``# NBVAL_CHECK_OUTPUT`` keep their stored output and execution count; every other cell is written
without outputs. Stored outputs come from running the notebooks at the quick profile on the untrained
stand-in, the same settings ``make nbval`` uses.

Usage (from the repository root, with the project's virtual environment)::

    .venv/bin/python notebooks/build_notebooks.py            # rewrite notebooks, keep stored outputs
    .venv/bin/python notebooks/build_notebooks.py --execute  # run them and store fresh outputs
    .venv/bin/python notebooks/build_notebooks.py --check    # exit 1 if a notebook is out of date

A stored output is kept while its cell's source is unchanged; ``--execute`` refreshes all of them.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
LANGUAGE_INFO = {"name": "python", "pygments_lexer": "ipython3"}
# What `make nbval` uses; stored outputs must come from the same settings.
EXECUTE_ENV = {"CADL_WEIGHTS": "untrained", "CADL_PROFILE": "quick"}
_CELL_START = re.compile(r"^# %%(?P<rest>.*)$")
_MAGIC = re.compile(r"^# (%{1,2}[A-Za-z]\w*.*)$")


def parse_source(text: str) -> list[tuple[str, str]]:
    """Split a percent-format source into cells.

    Args:
        text: the source file's text.

    Returns:
        ``(cell_type, source)`` pairs, ``cell_type`` being ``markdown`` or ``code``.
    """
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        start = _CELL_START.match(line)
        if start:
            kind = "markdown" if "[markdown]" in start.group("rest") else "code"
            cells.append((kind, []))
        elif cells:
            cells[-1][1].append(line)
    return [(kind, _cell_text(kind, lines)) for kind, lines in cells]


def _cell_text(kind: str, lines: list[str]) -> str:
    """The text of one cell: comment markers removed from Markdown, magics restored in code."""
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    while lines and not lines[0].strip():
        lines = lines[1:]
    if kind == "markdown":
        out = []
        for line in lines:
            if line != "#" and not line.startswith("# "):
                raise ValueError(f"Markdown lines must start with '# ': {line!r}")
            out.append(line[2:])
        return "\n".join(out)
    return "\n".join(_MAGIC.sub(r"\1", line) for line in lines)


def build(name: str, previous: nbformat.NotebookNode | None = None) -> nbformat.NotebookNode:
    """The notebook for ``src/<name>.py``, with the stored outputs of unchanged checked cells.

    Args:
        name: notebook name without extension, e.g. ``01_deep_dream``.
        previous: the notebook currently on disk (its checked outputs are carried over).

    Returns:
        A valid nbformat 4 notebook.
    """
    stored = _stored_outputs(previous)
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)}
    for index, (kind, source) in enumerate(parse_source((SOURCES / f"{name}.py").read_text())):
        cell_id = f"{name[:2]}-{index:03d}"
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(source, id=cell_id))
            continue
        cell = nbformat.v4.new_code_cell(source, id=cell_id)
        if source.startswith(CHECK_MARK) and source in stored:
            cell.outputs, cell.execution_count = stored[source]
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def _stored_outputs(nb: nbformat.NotebookNode | None) -> dict[str, tuple[list, int]]:
    """Checked cells' outputs of an existing notebook, keyed by their source."""
    if nb is None:
        return {}
    return {
        cell.source: (cell.outputs, cell.execution_count)
        for cell in nb.cells
        if cell.cell_type == "code" and cell.source.startswith(CHECK_MARK) and cell.execution_count
    }


def keep_checked_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip outputs and execution counts from every cell that is not marked NBVAL_CHECK_OUTPUT."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata = {}
        if not cell.source.startswith(CHECK_MARK):
            cell.outputs = []
            cell.execution_count = None
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)}
    return nb


def execute(nb: nbformat.NotebookNode, timeout: int = 600) -> nbformat.NotebookNode:
    """Run a notebook in notebooks/ (the cwd lessons expect) with the test settings."""
    from nbclient import NotebookClient

    os.environ.update(EXECUTE_ENV)
    client = NotebookClient(nb, timeout=timeout, kernel_name=KERNELSPEC["name"], resources={"metadata": {"path": str(HERE)}})
    client.execute()
    return nb


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder (never half-written)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def names() -> list[str]:
    """The notebooks that have a source, in order."""
    return sorted(path.stem for path in SOURCES.glob("[0-9][0-9]_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("only", nargs="*", help="notebook names (default: all), e.g. 01_deep_dream")
    parser.add_argument("--execute", action="store_true", help="run the notebooks and store fresh checked outputs")
    parser.add_argument("--check", action="store_true", help="only report notebooks that differ from their source")
    args = parser.parse_args(argv)
    stale = []
    for name in args.only or names():
        path = HERE / f"{name}.ipynb"
        previous = nbformat.read(path, as_version=4) if path.exists() else None
        nb = build(name, previous)
        if args.execute:
            began = time.perf_counter()
            nb = keep_checked_outputs(execute(nb))
            print(f"{name}: executed in {time.perf_counter() - began:.0f} s")
        text = nbformat.writes(nb) + "\n"
        missing = [c.id for c in nb.cells if c.cell_type == "code" and c.source.startswith(CHECK_MARK) and not c.execution_count]
        if missing:
            print(f"{name}: checked cells without stored output {missing}; run with --execute", file=sys.stderr)
        if args.check:
            if not path.exists() or path.read_text() != text or missing:
                stale.append(name)
            continue
        _write_atomic(path, text)
    if stale:
        print(f"out of date: {', '.join(stale)} (run notebooks/build_notebooks.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
