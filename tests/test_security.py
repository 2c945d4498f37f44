"""The package never uses unsafe deserialisation, dynamic code or unguarded archive extraction."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cadl_utils"
SOURCES = sorted(PACKAGE.rglob("*.py"))

FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "marshal", "shelve"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
# Attribute calls that either unpickle, run a shell, or extract archives without our guard.
FORBIDDEN_ATTRIBUTES = {"extractall", "load_pickle", "unsafe_load"}


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"{where} imports {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"{where} imports from {node.module}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                found.append(f"{where} calls {func.id}()")
            if isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_ATTRIBUTES:
                found.append(f"{where} calls .{func.attr}()")
            for keyword in node.keywords:
                value = keyword.value
                is_true = isinstance(value, ast.Constant) and value.value is True
                if keyword.arg in ("allow_pickle", "shell") and is_true:
                    found.append(f"{where} passes {keyword.arg}=True")
            if isinstance(func, ast.Attribute) and func.attr == "load":
                owner = func.value
                if isinstance(owner, ast.Name) and owner.id == "yaml":
                    found.append(f"{where} calls yaml.load (use yaml.safe_load)")
    return found


def test_package_sources_are_found():
    assert len(SOURCES) > 10


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_forbidden_calls(path):
    assert _violations(path) == []


def test_the_checker_catches_what_it_forbids(tmp_path, monkeypatch):
    bad = tmp_path / "cadl_utils" / "bad.py"
    bad.parent.mkdir()
    bad.write_text(
        "import pickle\nimport numpy as np\nnp.load('x', allow_pickle=True)\neval('1')\n"
        "import zipfile\nzipfile.ZipFile('a').extractall('b')\nimport subprocess\n"
        "subprocess.run('ls', shell=True)\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "cadl_utils")
    found = _violations(bad)
    assert len(found) == 5, found
