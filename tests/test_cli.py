"""Tests of the command line (python -m cadl_utils) and the demo."""

from __future__ import annotations

import os
import subprocess
import sys

import imageio.v3 as iio
import pytest

from cadl_utils.cli import build_parser, main
from cadl_utils.cli.demo import demo_jobs

SUBCOMMANDS = ("dream", "zoom", "guide", "style", "demo", "layers", "fetch", "export-standin")


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


def test_demo_jobs_are_valid_command_lines(tmp_path):
    parser = build_parser()
    jobs = demo_jobs(tmp_path, "untrained")
    assert {argv[0] for _, argv in jobs} == {"dream", "zoom", "guide", "style"}
    for _, argv in jobs:
        args = parser.parse_args(argv)
        assert args.weights == "untrained"


@pytest.mark.slow
def test_demo_renders_every_technique(tmp_path):
    """`python -m cadl_utils demo` (what `make demo` runs) writes every GIF, at the quick profile."""
    env = {"CADL_PROFILE": "quick", "CADL_WEIGHTS": "untrained"}
    result = subprocess.run(
        [sys.executable, "-m", "cadl_utils", "demo", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=900, env={**os.environ, **env},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    gifs = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.gif"))
    assert len(gifs) == 3 + 7 + 2, gifs
    for name in gifs:
        assert f"wrote {tmp_path / name}" in result.stdout
        assert iio.imread(tmp_path / name, index=None).shape[0] >= 1


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
