"""The lesson notebooks as files: valid nbformat, the outputs policy, lesson structure, names, sources.

Running them is `make nbval`'s job (and the browser test's); these tests only read the files, so
they take well under a second.
"""

from __future__ import annotations

import ast
import re
import runpy
from pathlib import Path
from types import SimpleNamespace

import jupytext
import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
# Each lesson's explorer widget (the tour has none).
EXPLORERS = {
    "01_deep_dream": "DreamExplorer",
    "02_fractal_zoom": "ZoomExplorer",
    "03_guided_hallucination": "GuidedExplorer",
    "04_style_transfer": "StyleExplorer",
}


def _readme_names() -> list[str]:
    """The notebook file names the README's map lists (in order)."""
    text = (REPO / "README.md").read_text()
    return re.findall(r"^\s+(\d\d_\w+\.ipynb)\s", text, re.M)


def _notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def _load_builder():
    """notebooks/build_notebooks.py (a script) as a namespace of its functions."""
    return SimpleNamespace(**runpy.run_path(str(NOTEBOOKS / "build_notebooks.py")))


def _code_cells(nb) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _python(source: str) -> str:
    """Cell source without IPython magics (so that ast can parse it)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _imports(source: str) -> list[str]:
    """Module names imported by a cell, in order."""
    names = []
    for node in ast.walk(ast.parse(_python(source))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return names


def _imported_names(source: str) -> list[str]:
    """The names a cell's imports bind (``import a.b`` binds ``a``; ``from m import x as y`` binds ``y``)."""
    names = []
    for node in ast.walk(ast.parse(_python(source))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [(alias.asname or alias.name).split(".")[0] for alias in node.names]
    return names


def _calls(nb) -> set[str]:
    """Names of every function called in the notebook's code cells (``f(...)`` and ``x.f(...)``)."""
    called = set()
    for cell in _code_cells(nb):
        for node in ast.walk(ast.parse(_python(cell.source))):
            if isinstance(node, ast.Call):
                func = node.func
                called.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return called


NAMES = _readme_names()
PATHS = _notebook_paths()


@pytest.fixture(params=PATHS, ids=[p.stem for p in PATHS])
def notebook(request):
    path = request.param
    return path.stem, nbformat.read(path, as_version=4)


def test_notebooks_are_the_readme_list():
    assert len(NAMES) == 5, f"README lists {NAMES}"
    assert [p.name for p in PATHS] == NAMES


def test_valid_nbformat_4_with_python3_kernel(notebook):
    name, nb = notebook
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.metadata["kernelspec"]["language"] == "python"


def test_outputs_policy(notebook):
    """Only NBVAL_CHECK_OUTPUT cells keep outputs (and the execution count nbval needs to compare them)."""
    name, nb = notebook
    checked = 0
    for cell in _code_cells(nb):
        if CHECK_MARK in cell.source:
            assert cell.source.startswith(CHECK_MARK), f"{name}:{cell.id}: the marker must be the first line"
            assert cell.outputs, f"{name}:{cell.id}: checked cell without a stored output"
            assert cell.execution_count is not None, f"{name}:{cell.id}: nbval skips checked cells without a count"
            assert all(o.output_type != "error" for o in cell.outputs), f"{name}:{cell.id}: stored an error"
            assert all(o.get("name") != "stderr" for o in cell.outputs), f"{name}:{cell.id}: stored stderr"
            checked += 1
        else:
            assert cell.outputs == [], f"{name}:{cell.id}: outputs must be stripped"
            assert cell.execution_count is None, f"{name}:{cell.id}: execution count must be stripped"
    assert checked >= 1, f"{name} has no deterministic NBVAL_CHECK_OUTPUT cell"


def test_lesson_structure(notebook):
    """Title, overview, one setup cell with all imports (cadl_utils first), model, banner, try-this."""
    name, nb = notebook
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), f"{name}: no title"
    assert any(c.cell_type == "markdown" and "## Overview" in c.source for c in nb.cells), f"{name}: no overview"
    assert any(c.cell_type == "markdown" and "**Try this:**" in c.source for c in nb.cells), f"{name}: no prompt"

    code = _code_cells(nb)
    setup = _imports(code[0].source)
    assert setup and setup[0] == "cadl_utils", f"{name}: the setup cell must import cadl_utils first"
    for cell in code[1:]:
        assert not _imports(cell.source), f"{name}:{cell.id}: imports belong in the setup cell"

    used = {n.id for c in code[1:] for n in ast.walk(ast.parse(_python(c.source))) if isinstance(n, ast.Name)}
    unused = [bound for bound in _imported_names(code[0].source) if bound not in used | {"cadl_utils"}]
    assert not unused, f"{name}: the setup cell imports {unused} but no cell uses them"

    called = _calls(nb)
    assert {"load_model", "describe", "show_banner"} <= called, f"{name}: load the model, describe it, show the banner"
    loading = next(i for i, c in enumerate(code) if "load_model(" in c.source)
    assert "model.describe()" in code[loading].source and "show_banner(model)" in code[loading].source


@pytest.mark.parametrize("name", [n[: -len(".ipynb")] for n in NAMES if "tour" not in n])
def test_lessons_have_equations_profile_outputs_gif_and_sliders(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in _code_cells(nb))
    assert markdown.count("$$") >= 4, f"{name}: the losses need display equations"
    assert "profile()" in code, f"{name}: sizes and steps come from profile()"
    lesson = name.split("_", 1)[1]
    assert f'Path("../outputs/{lesson}")' in code, f"{name}: write outputs to ../outputs/{lesson}/"
    assert "show_gif" in _calls(nb), f"{name}: show the final GIF inline"
    explorer = EXPLORERS[name]
    assert explorer in _calls(nb), f"{name}: the {explorer} sliders are missing"
    last_code = _code_cells(nb)[-1].source
    assert explorer in last_code, f"{name}: the sliders come at the end"


def test_tour_counts_the_inventory_and_names_the_jellyfish():
    nb = nbformat.read(NOTEBOOKS / "00_inception5h_tour.ipynb", as_version=4)
    stored = "".join(o.get("text", "") for c in _code_cells(nb) for o in c.outputs)
    assert "59 conv layers, 7,548 channels" in stored
    assert "label 647 = jellyfish" in stored


def test_notebooks_match_their_sources():
    """Each .ipynb is exactly what build_notebooks.py writes from notebooks/src (so reviews read the source)."""
    builder = _load_builder()
    assert builder.names() == [n[: -len(".ipynb")] for n in NAMES]
    for name in builder.names():
        path = NOTEBOOKS / f"{name}.ipynb"
        expected = nbformat.writes(builder.build(name, nbformat.read(path, as_version=4))) + "\n"
        assert path.read_text() == expected, f"{name}.ipynb is out of date: run notebooks/build_notebooks.py"


# --- the generator ---------------------------------------------------------------------------------


def test_sources_are_jupytext_percent_files_and_magics_are_restored():
    """The sources are plain jupytext files: jupytext alone reads the same cells the notebooks hold."""
    builder = _load_builder()
    for name in builder.names():
        source = (NOTEBOOKS / "src" / f"{name}.py").read_text()
        assert "\n# %% [markdown]\n" in source and "\n# %%\n" in source
        plain = jupytext.read(NOTEBOOKS / "src" / f"{name}.py", fmt="py:percent")
        built = builder.build(name)
        assert [(c.cell_type, c.source) for c in built.cells] == [(c.cell_type, c.source) for c in plain.cells]
    tour = builder.build("00_inception5h_tour")
    assert any(line == "%matplotlib inline" for c in _code_cells(tour) for line in c.source.splitlines())


def test_build_keeps_stored_outputs_only_for_unchanged_checked_cells():
    builder = _load_builder()
    previous = nbformat.read(NOTEBOOKS / "00_inception5h_tour.ipynb", as_version=4)
    fresh = builder.build("00_inception5h_tour")
    assert all(cell.get("outputs", []) == [] for cell in fresh.cells), "no previous notebook: no outputs"
    checked = next(c for c in _code_cells(previous) if c.source.startswith(CHECK_MARK))
    checked.source += "\nprint('changed')"
    rebuilt = builder.build("00_inception5h_tour", previous)
    assert all(c.outputs for c in _code_cells(rebuilt) if c.source.startswith(CHECK_MARK) and c.id != checked.id)
    assert next(c for c in rebuilt.cells if c.id == checked.id).outputs == []


def test_keep_checked_outputs_strips_everything_else():
    builder = _load_builder()
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": kernelspec, "widgets": {}})
    kept = nbformat.v4.new_code_cell(f"{CHECK_MARK}\nprint(1)", outputs=[nbformat.v4.new_output("stream", text="1\n")])
    kept.execution_count = 3
    dropped = nbformat.v4.new_code_cell("print(2)", outputs=[nbformat.v4.new_output("stream", text="2\n")])
    dropped.execution_count = 4
    nb.cells = [kept, dropped]
    builder.keep_checked_outputs(nb)
    assert kept.outputs and kept.execution_count == 3
    assert dropped.outputs == [] and dropped.execution_count is None
    assert nb.metadata == {"kernelspec": kernelspec, "language_info": builder.LANGUAGE_INFO}
