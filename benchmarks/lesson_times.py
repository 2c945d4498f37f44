"""How long each lesson takes top to bottom at the ``full`` profile (``python -m benchmarks.lesson_times``).

Issue 14's target: every lesson finishes within 2 minutes on 2 cores at the ``full`` profile (the sliders
untouched). Each lesson is built from its source (notebooks/src/NN_name.py, the same cells as the .ipynb)
and executed by a fresh kernel inside a temporary folder, so the committed notebooks and ``outputs/`` are
never touched. The weights are untrained by default: the stand-in has inception5h's layers and sizes, so
the arithmetic (and the time) is the same as with the trained weights, and no download is needed.

The machine's load average is recorded before and after each lesson: other processes on a shared
machine only ever add time, so a lesson measured under load is slower than it would be alone. The
kernel's CPU time is recorded too: divided by the number of cores it estimates the time on an idle
machine (a low estimate: not every cell keeps every core busy).
``--cells N`` also lists each lesson's N slowest cells (from the kernel's execution timestamps), which
is where to look first when a lesson is too slow. Prints the table lesson | seconds | target | met and
writes ``outputs/lesson_times.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

from cadl_utils.files import atomic_write

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
TARGET_S = 120.0
# Appended to the lesson in memory: the kernel's CPU seconds (all threads) so far.
CPU_CELL = "import os as _os\n_t = _os.times()\nprint(_t.user + _t.system)"


def _builder():
    """notebooks/build_notebooks.py as a module (it is a script, not part of the package)."""
    return SimpleNamespace(**runpy.run_path(str(NOTEBOOKS / "build_notebooks.py")))


def _seconds(cell) -> float:
    """A code cell's execution time from the timestamps nbclient records in its metadata (0 if none)."""
    stamps = cell.metadata.get("execution", {})
    start, end = stamps.get("iopub.execute_input"), stamps.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def _first_line(source: str) -> str:
    """The first line of a cell that says what it does (not a marker or a blank line), shortened."""
    lines = [line for line in source.splitlines() if line.strip() and not line.startswith("# NBVAL")]
    return (lines[0] if lines else "")[:70]


def time_lesson(name: str, cells: int = 5, timeout: int = 1800, keep: Path | None = None) -> dict:
    """Run lesson ``name`` (e.g. ``01_deep_dream``) top to bottom in a temporary folder; returns its timings.

    Args:
        name: the lesson's source name in notebooks/src.
        cells: how many of its slowest cells to report.
        timeout: seconds one cell may take before the run fails.
        keep: a folder to copy the lesson's outputs into (None: they go with the temporary folder).

    Returns:
        ``{"lesson", "seconds", "cell_seconds", "kernel_cpu_seconds", "load_before", "load_after",
        "slowest_cells"}``.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = _builder().build(name)
    nb.cells.append(nbformat.v4.new_code_cell(CPU_CELL))
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="cadl-lesson-") as folder:
        # The lessons write to ../outputs/<lesson>/ relative to their folder: inside the temporary copy.
        workdir = Path(folder) / "notebooks"
        workdir.mkdir()
        client = NotebookClient(nb, timeout=timeout, record_timing=True,
                                resources={"metadata": {"path": str(workdir)}})  # fmt: skip
        started = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - started
        if keep is not None and (Path(folder) / "outputs").is_dir():  # the tour writes no pictures
            shutil.copytree(Path(folder) / "outputs", keep, dirs_exist_ok=True)
    printed = [o["text"] for o in nb.cells.pop().outputs if o.get("name") == "stdout"]
    timed = [(_seconds(cell), index, cell) for index, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    slowest = sorted(timed, key=lambda row: row[0], reverse=True)[:cells]
    return {
        "lesson": name,
        "seconds": seconds,
        "cell_seconds": sum(row[0] for row in timed),
        "kernel_cpu_seconds": float(printed[0]),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "slowest_cells": [{"cell": index, "seconds": s, "first_line": _first_line(cell.source)}
                          for s, index, cell in slowest],  # fmt: skip
    }


def table(rows: list[dict], target: float) -> str:
    """The lesson | seconds | target | met table, with the CPU time per core and the load before/after each lesson."""
    cores = os.cpu_count() or 1
    lines = [f"{'lesson':28s} {'seconds':>8s}  {'target':>8s}  {'met':8s} {'CPU s/core':>10s}  load before/after",
             "-" * 94]  # fmt: skip
    for row in rows:
        met = "met" if row["seconds"] <= target else "NOT MET"
        lines.append(f"{row['lesson']:28s} {row['seconds']:8.0f}  {target:6.0f} s  {met:8s} "
                     f"{row['kernel_cpu_seconds'] / cores:10.0f}  {row['load_before']:.2f} / {row['load_after']:.2f}")
    return "\n".join(lines)


def _slowest(rows: list[dict]) -> str:
    lines = ["", "slowest cells:"]
    for row in rows:
        for cell in row["slowest_cells"]:
            lines.append(f"  {row['lesson'][:2]} cell {cell['cell']:3d} {cell['seconds']:6.1f} s  {cell['first_line']}")
    return "\n".join(lines)


def main(argv=None) -> dict:
    """Time the lessons, print the table and write the JSON. Returns the results."""
    builder = _builder()
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lesson_times", description=__doc__.split("\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson names or number prefixes, e.g. 01 04 (default: all)")
    parser.add_argument("--profile", default="full", help="CADL_PROFILE of the runs (default full)")
    parser.add_argument("--weights", default="untrained", help="CADL_WEIGHTS of the runs (default untrained)")
    parser.add_argument("--target", type=float, default=TARGET_S, help=f"seconds per lesson (default {TARGET_S:g})")
    parser.add_argument("--cells", type=int, default=5, help="slowest cells listed per lesson (default 5)")
    parser.add_argument("--out", default=str(REPO / "outputs" / "lesson_times.json"), help="JSON output")
    parser.add_argument("--keep", default=None, help="copy the lessons' pictures into this folder (default: not kept)")
    args = parser.parse_args(argv if argv is not None else ([] if __name__ != "__main__" else None))
    chosen = [n for n in builder.names() if not args.lessons or any(n.startswith(p) for p in args.lessons)]
    if not chosen:
        parser.error(f"no lesson matches {args.lessons}; the lessons are {', '.join(builder.names())}")
    # The kernels inherit this process's environment.
    os.environ.update(CADL_PROFILE=args.profile, CADL_WEIGHTS=args.weights)
    rows = []
    for name in chosen:
        print(f"{name} (profile {args.profile}, weights {args.weights})...", flush=True)
        rows.append(time_lesson(name, args.cells, keep=Path(args.keep) if args.keep else None))
        rows[-1]["met"] = rows[-1]["seconds"] <= args.target
        print(f"   {rows[-1]['seconds']:.0f} s", flush=True)
    print()
    print(table(rows, args.target))
    if args.cells:
        print(_slowest(rows))
    results = {"when": datetime.now().isoformat(timespec="seconds"), "profile": args.profile,
               "weights": args.weights, "target_s": args.target, "cpu_count": os.cpu_count(), "lessons": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as tmp:
        tmp.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")
    return results


if __name__ == "__main__":
    main()
