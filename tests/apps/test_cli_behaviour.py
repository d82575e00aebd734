"""The command line says what is wrong before doing work, with the command's own usage, and
never reports a morph that missed its budget as done."""

from __future__ import annotations

import pytest

import pyramid_kernels as pk
from pyramid_kernels.apps.cli import main
from pyramid_kernels.io.image_io import save_png


@pytest.fixture
def digit(tmp_path):
    x, y = pk.data.mnist("test")
    path = tmp_path / "four.png"
    save_png(path, x[(y == 4).nonzero()[0, 0]])
    return path


def morph(digit, *extra):
    return ["morph", str(digit), "--model", "mnist-driver", "--steps", "2", *extra]


def test_an_unknown_target_class_is_refused_by_name_before_the_morph(digit, tmp_path, capsys):
    assert main(morph(digit, "--target", "1000", "--out", str(tmp_path / "a.png"))) == 2
    err = capsys.readouterr().err
    assert "--target 1000 is not a class of --model 'mnist-driver'" in err
    assert "morph csp" not in err and not (tmp_path / "a.png").exists()  # no progress started


def test_a_budget_out_of_reach_fails_unless_allowed(digit, tmp_path, capsys):
    out = tmp_path / "far.png"
    assert main(morph(digit, "--target", "9", "--budget", "1e9", "--out", str(out))) == 2
    assert "did not reach --budget 1e+09" in capsys.readouterr().err and not out.exists()
    extra = ["--target", "9", "--budget", "1e9", "--allow-unattained", "--out", str(out)]
    assert main(morph(digit, *extra)) == 0 and out.exists()


def test_an_unreadable_image_is_said_first(tmp_path, capsys):
    out = tmp_path / "a.png"
    args = ["morph", str(tmp_path / "nope.jpg"), "--model", "mnist-driver", "--target", "3"]
    assert main([*args, "--out", str(out)]) == 2
    said = capsys.readouterr()
    assert "IMAGE" in said.err and "nope.jpg" in said.err and said.out == ""


def test_each_command_shows_its_own_usage_and_defaults(digit, capsys):
    with pytest.raises(SystemExit):
        main(morph(digit, "--target", "3", "--out", "x.jpg"))
    err = capsys.readouterr().err
    assert err.startswith("usage: pyramid-kernels morph") and "must end in .gif or .png" in err
    for command, expected in [
        ("magnify", "phase smoothing, pixels per level (default: 0.0)"),
        ("generate", "torch seed before each batch (default: 0)"),
        ("photos", ", ".join(pk.data.PHOTOS)),
    ]:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert expected in " ".join(capsys.readouterr().out.split())


def test_magnify_chunk_size_default_is_the_options_default(capsys):
    """One default, written once: the command's --chunk-size is MagnifyOptions.chunk_size."""
    from pyramid_kernels.apps.cli import build_parser
    from pyramid_kernels.magnifying import MagnifyOptions

    args = build_parser().parse_args(
        ["magnify", "a.mp4", "--alpha", "1", "--band", "1", "2", "--out", "b.mp4"]
    )
    assert args.chunk_size == MagnifyOptions.chunk_size == 32
