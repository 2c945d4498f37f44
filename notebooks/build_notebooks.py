"""Write the lesson notebooks (*.ipynb) from their jupytext sources in notebooks/src/*.py.

The sources are jupytext "percent" files (``# %%`` code cells, ``# %% [markdown]`` Markdown cells).
This script adds our outputs policy, checked by tests/test_notebooks.py: only cells whose first line is
``# NBVAL_CHECK_OUTPUT`` keep their stored output and execution count; every other cell is written
without outputs. Stored outputs come from running the notebooks at the quick profile on the untrained
stand-in, the settings ``make nbval`` uses. A stored output is kept while its cell's source is
unchanged; ``--execute`` refreshes all of them.

Usage (from the repository root, with the project's virtual environment)::

    .venv/bin/python notebooks/build_notebooks.py            # rewrite notebooks, keep stored outputs
    .venv/bin/python notebooks/build_notebooks.py --execute  # run them and store fresh outputs
    .venv/bin/python notebooks/build_notebooks.py --check    # exit 1 if a notebook is out of date
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
LANGUAGE_INFO = {"name": "python", "pygments_lexer": "ipython3"}
# What `make nbval` uses; stored outputs must come from the same settings.
EXECUTE_ENV = {"CADL_WEIGHTS": "untrained", "CADL_PROFILE": "quick"}


def names() -> list[str]:
    """The notebooks that have a source, in order."""
    return sorted(path.stem for path in SOURCES.glob("[0-9][0-9]_*.py"))


def build(name: str, previous: nbformat.NotebookNode | None = None) -> nbformat.NotebookNode:
    """The notebook for ``src/<name>.py``, with the stored outputs of unchanged checked cells.

    Args:
        name: notebook name without extension, e.g. ``01_deep_dream``.
        previous: the notebook currently on disk (its checked outputs are carried over).

    Returns:
        A valid nbformat 4 notebook with stable cell ids (``01-000``, ``01-001``...).
    """
    stored = {}
    for cell in previous.cells if previous else []:
        if cell.cell_type == "code" and is_checked(cell) and cell.execution_count:
            stored[cell.source] = (cell.outputs, cell.execution_count)
    nb = jupytext.read(SOURCES / f"{name}.py")
    for index, cell in enumerate(nb.cells):
        cell.id = f"{name[:2]}-{index:03d}"
        if cell.source in stored:
            cell.outputs, cell.execution_count = stored[cell.source]
    keep_checked_outputs(nb)
    nbformat.validate(nb)
    return nb


def is_checked(cell: nbformat.NotebookNode) -> bool:
    """Whether nbval compares this cell's output (its first line is the marker)."""
    return cell.source.startswith(CHECK_MARK)


def keep_checked_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Apply the outputs policy: strip outputs and counts of unchecked cells, and all metadata but the kernel's."""
    for cell in nb.cells:
        cell.metadata = {}
        if cell.cell_type == "code" and not is_checked(cell):
            cell.outputs = []
            cell.execution_count = None
    nb.metadata = {"kernelspec": nb.metadata["kernelspec"], "language_info": dict(LANGUAGE_INFO)}
    return nb


def execute(nb: nbformat.NotebookNode, timeout: int = 600) -> nbformat.NotebookNode:
    """Run a notebook in notebooks/ (the cwd lessons expect) with the test settings."""
    from nbclient import NotebookClient

    os.environ.update(EXECUTE_ENV)
    client = NotebookClient(nb, timeout=timeout, resources={"metadata": {"path": str(HERE)}})
    client.execute()
    return keep_checked_outputs(nb)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("only", nargs="*", help="notebook names (default: all), e.g. 01_deep_dream")
    parser.add_argument("--execute", action="store_true", help="run the notebooks and store fresh checked outputs")
    parser.add_argument("--check", action="store_true", help="only report notebooks that differ from their source")
    args = parser.parse_args(argv)
    stale = []
    for name in args.only or names():
        path = HERE / f"{name}.ipynb"
        nb = build(name, nbformat.read(path, as_version=4) if path.exists() else None)
        if args.execute:
            began = time.perf_counter()
            execute(nb)
            print(f"{name}: executed in {time.perf_counter() - began:.0f} s")
        text = nbformat.writes(nb) + "\n"
        missing = [c.id for c in nb.cells if c.cell_type == "code" and is_checked(c) and not c.execution_count]
        if missing:
            print(f"{name}: checked cells without stored output {missing}; run with --execute", file=sys.stderr)
        if args.check:
            if not path.exists() or path.read_text() != text or missing:
                stale.append(name)
        else:
            tmp = path.with_name(f".{path.name}.tmp")  # never leave a half-written notebook
            tmp.write_text(text)
            os.replace(tmp, path)
    if stale:
        print(f"out of date: {', '.join(stale)} (run notebooks/build_notebooks.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
