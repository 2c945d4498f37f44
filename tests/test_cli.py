"""Tests of the command line (python -m cadl_utils) and of `course` (the course's eleven pictures)."""

from __future__ import annotations

import html
import os
import shlex
import socket
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import imageio.v3 as iio
import pytest

from cadl_utils.cli import build_parser, main
from cadl_utils.cli.course import course_pictures

SUBCOMMANDS = ("dream", "zoom", "guide", "style", "course", "layers", "fetch", "export-standin")
COURSE_FILES = ("softmax.gif", "fractal.gif", "guided.gif", "guided2.gif", "guided_dot_notv.gif", "guided_l1.gif",
                "guided_l2.gif", "guided_l1_-fl.gif", "guided_l2_-fl.gif", "stylenet.gif", "stylenet-c.gif")


def test_every_subcommand_is_registered():
    parser = build_parser()
    actions = [a for a in parser._actions if a.dest == "command"]
    assert set(SUBCOMMANDS) <= set(actions[0].choices)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_documents_every_option(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    parser = build_parser()
    sub = [a for a in parser._actions if a.dest == "command"][0].choices[command]
    for action in sub._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"{command} {action.option_strings} has no help text"
            assert action.option_strings[-1] in text


def test_layers_lists_the_inventory(capsys):
    assert main(["layers", "--weights", "untrained", "--kind", "mixed"]) == 0
    out = capsys.readouterr().out
    assert "UNTRAINED" in out
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [row[0] for row in rows] == [
        "mixed3a", "mixed3b", "mixed4a", "mixed4b", "mixed4c", "mixed4d", "mixed4e", "mixed5a", "mixed5b"
    ]  # fmt: skip
    assert rows[-1][2] == "1024"


def test_announce_model_notes_untrained_weights_only(tiny_model, capsys):
    from cadl_utils.cli import UNTRAINED_NOTE, announce_model

    announce_model(tiny_model)
    assert capsys.readouterr().out.splitlines() == [tiny_model.describe(), UNTRAINED_NOTE]
    tiny_model.weights = "pretrained"
    try:
        announce_model(tiny_model)
        expected = [tiny_model.describe()]
    finally:
        tiny_model.weights = "untrained"
    assert capsys.readouterr().out.splitlines() == expected


def test_bad_input_exits_2_with_the_message(capsys):
    assert main(["layers", "--weights", "imagenet"]) == 2
    assert "unknown weights mode 'imagenet'" in capsys.readouterr().err


def test_export_standin_writes_a_zip(tmp_path, capsys):
    target = tmp_path / "standin.zip"
    assert main(["export-standin", str(target)]) == 0
    assert target.stat().st_size > 50_000_000
    assert "UNTRAINED" in capsys.readouterr().out


def test_course_pictures_are_the_eleven_files_as_valid_command_lines(tmp_path):
    parser = build_parser()
    for profile in ("quick", "full"):
        for weights, style_model in (("untrained", "random-multiscale"), ("pretrained", "inception5h")):
            pictures = course_pictures(tmp_path, weights, profile)
            assert tuple(picture.file for picture in pictures) == COURSE_FILES
            for picture in pictures:
                args = parser.parse_args(picture.argv)
                assert args.weights == weights and picture.title and picture.caption and picture.frames >= 3
                assert str(tmp_path) in args.out
                if args.command == "style":
                    assert args.model == style_model
            assert len({picture.argv for picture in pictures}) == 5  # the seven guided pictures: one guide job
    full = {picture.file: picture for picture in course_pictures(tmp_path, "untrained", "full")}
    assert full["softmax.gif"].frames * parser.parse_args(full["softmax.gif"].argv).frame_every >= 51
    assert full["fractal.gif"].frames * parser.parse_args(full["fractal.gif"].argv).frame_every >= 101
    assert parser.parse_args(full["stylenet.gif"].argv).steps >= 100


def test_demo_is_an_alias_of_course(tmp_path):
    args = build_parser().parse_args(["demo", "--out", str(tmp_path)])
    assert args.func is not None and args.out == str(tmp_path)
    assert build_parser().parse_args(["course"]).out == "outputs/course"


class _Images(HTMLParser):
    """The src of every <img> of a page."""

    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


@pytest.mark.slow
def test_course_renders_the_eleven_pictures_and_the_gallery(tmp_path):
    """`python -m cadl_utils course` (what `make course` runs) at the quick profile: the course's eleven files with
    the frames their records say, and index.html showing exactly those, with the untrained banner."""
    env = {"CADL_PROFILE": "quick", "CADL_WEIGHTS": "untrained"}
    result = subprocess.run(
        [sys.executable, "-m", "cadl_utils", "course", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=900, env={**os.environ, **env},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    for picture in course_pictures(tmp_path, "untrained", "quick"):
        assert f"wrote {tmp_path / picture.file}" in result.stdout
        assert iio.imread(tmp_path / picture.file, index=None).shape[0] == picture.frames, picture.file
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    images = _Images()
    images.feed(page)
    assert sorted(images.sources) == sorted(COURSE_FILES)
    assert "Untrained network: these pictures are textures, not the course's jellyfish/objects" in html.unescape(page)


def test_course_with_pretrained_weights_offline_says_so_once_before_any_picture(tmp_path, monkeypatch, capsys):
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("CADL_INCEPTION5H_URL", f"http://127.0.0.1:{port}/inception5h.zip")
    monkeypatch.setenv("CADL_CACHE_DIR", str(tmp_path / "empty-cache"))
    assert main(["course", "--weights", "pretrained", "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("could not download") == 1 and "Traceback" not in captured.err
    assert "==" not in captured.out  # no job started
    assert not list((tmp_path / "out").glob("*.gif")) and not (tmp_path / "out" / "index.html").exists()


def test_course_auto_fallback_is_said_once_and_a_failing_job_does_not_stop_the_others(tmp_path, monkeypatch,
                                                                                        capsys, tiny_model):
    import cadl_utils.cli as cli
    from cadl_utils import models

    monkeypatch.setattr(tiny_model, "fallback_reason", "offline", raising=False)
    monkeypatch.setattr(models, "load_model", lambda name, weights: tiny_model)  # weights=auto fell back
    ran = []

    def fake_main(argv):
        ran.append(list(argv))
        return 2 if argv[0] == "guide" else 0

    monkeypatch.setattr(cli, "main", fake_main)
    assert cli.course.run_course(tmp_path, "auto") == 1
    captured = capsys.readouterr()
    assert captured.out.count("pretrained weights cannot be had (offline)") == 1
    assert [argv[0] for argv in ran] == ["dream", "zoom", "guide", "style", "style"]
    assert all(argv[-2:] == ["--weights", "untrained"] for argv in ran)
    assert "1 course job(s) failed: guided.gif, guided2.gif" in captured.err
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<img" not in page and page.count("(not written)") == 11 and "weights=auto fell back" in page
    monkeypatch.setattr(cli, "main", lambda argv: ran.append(argv) or 130)
    ran.clear()
    assert cli.course.run_course(tmp_path, "untrained") == 130
    assert len(ran) == 1  # interrupted: no later job


def _parser_running(func):
    """A parser with one command ``x`` that calls ``func(args)``."""
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("x").set_defaults(func=func)
    return parser


def test_bad_profile_variable_is_a_clear_error_not_a_traceback(monkeypatch, capsys):
    monkeypatch.setenv("CADL_PROFILE", "garbage")
    assert main(["--help"]) == 2
    err = capsys.readouterr().err
    assert "unknown profile 'garbage'" in err and "CADL_PROFILE" in err and "Traceback" not in err


def test_an_internal_error_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    import cadl_utils.cli as cli

    def broken(_args):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(cli, "build_parser", lambda: _parser_running(broken))
    assert main(["x"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error" in err and "ZeroDivisionError: boom" in err and "--debug" in err
    with pytest.raises(ZeroDivisionError):
        main(["x", "--debug"])


def test_sigterm_is_handled_like_ctrl_c(monkeypatch, capsys):
    import signal

    import cadl_utils.cli as cli

    def killed(_args):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not interrupt the command")

    previous = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(cli, "build_parser", lambda: _parser_running(killed))
    try:
        assert main(["x"]) == 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert "interrupted" in capsys.readouterr().err


def test_announce_model_gives_no_pretrained_hint_for_a_random_by_design_model(capsys):
    from cadl_utils.cli import UNTRAINED_NOTE, announce_model
    from cadl_utils.models import load_model

    model = load_model("random-multiscale")
    announce_model(model)
    out = capsys.readouterr().out
    assert model.describe() in out and UNTRAINED_NOTE not in out


def test_docs_course_table_gives_each_pictures_command_and_lesson_cell(tmp_path):
    """docs/course.md lists every picture with the exact command `course` runs and a lesson cell that exists."""
    root = Path(__file__).resolve().parents[1]
    table = (root / "docs" / "course.md").read_text(encoding="utf-8")
    sources = "\n".join(path.read_text(encoding="utf-8") for path in (root / "notebooks" / "src").glob("0*.py"))
    rows = {}
    for line in table.splitlines():  # the first table's row of each file (a later table gives step counts)
        if line.startswith("| `"):
            rows.setdefault(line.split("`")[1], line)
    for picture in course_pictures("outputs/course", "pretrained", "full"):
        assert f"python -m cadl_utils {shlex.join(picture.argv)}" in table, picture.file
        row = rows[picture.file]  # its own row names the cell, or "the same cell" as the row of the first guided file
        assert "Course picture:" in row or ("the same cell" in row and "Course picture:" in rows["guided.gif"])
        marked = [line for line in sources.splitlines() if line.startswith("# Course picture:")]
        assert any(picture.file in line.split(":", 1)[1].replace(",", " ").split() for line in marked), picture.file
