"""Rendering a pyramid, writing pictures, and the demo command."""

import os
import re

import numpy as np
import pytest
import torch
from PIL import Image

import pyramid_kernels as pk
from pyramid_kernels.apps.cli import main
from pyramid_kernels.io.image_files import read_image
from pyramid_kernels.io.patterns import pattern_image
from pyramid_kernels.io.render import render_pyramid


def test_render_layout_and_range():
    c = pk.build(torch.randn(2, 64, 48), height=2, orientations=3)
    picture = render_pyramid(c, index=1, gap=2)
    rows = 64 + 64 + 32 + 16 + 3 * 2
    cols = max(48, 3 * 48 + 2 * 2)
    assert picture.shape == (rows, cols)
    assert picture.min() >= 0 and picture.max() <= 1
    # the high-pass panel is the rescaled high-pass residual of image 1
    hp = c.highpass[1]
    assert torch.allclose(picture[:64, :48], (0.5 + 0.5 * hp / hp.abs().max()).float(), atol=1e-6)
    assert not torch.equal(render_pyramid(c, part="abs"), render_pyramid(c, part="real"))


def test_render_bad_arguments():
    c = pk.build(torch.randn(32, 32), height=1)
    with pytest.raises(ValueError, match="part must be one of"):
        render_pyramid(c, part="phase")
    with pytest.raises(ValueError, match="index must be in"):
        render_pyramid(c, index=3)


def test_pattern_image_is_deterministic_and_in_range():
    a, b = pattern_image(64), pattern_image(64)
    assert torch.equal(a, b) and a.shape == (64, 64)
    assert 0 <= a.min() and a.max() <= 1 and a.std() > 0.1


@pytest.mark.slow
def test_demo_writes_pictures_and_summary(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--steps", "3"]) == 0
    bands = np.asarray(Image.open(tmp_path / "pyramid_bands.png"))
    assert bands.ndim == 2 and bands.shape[0] > 256 and bands.std() > 0
    grid = Image.open(tmp_path / "morph_3_to_8.png")
    assert grid.width > 4 * 96 and grid.height >= 4 * 96  # 4 frames per row, 4 method rows
    assert Image.open(tmp_path / "morph_3_to_8_csp_phase.gif").n_frames == 4
    assert len(list(tmp_path.glob("morph_*.png"))) == 4 and (tmp_path / "photos_morph.png").exists()
    assert len(list(tmp_path.glob("morph_*.gif"))) == 16
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left
    out = capsys.readouterr().out
    for method in ("pixel", "fourier phase", "csp phase", "csp joint"):
        assert method in out
    # the digits summary gives every pair's value, not a median, on real 28x28 MNIST digits
    assert "3->8    5->6    1->7    4->9" in out and "4 MNIST digit pairs" in out
    assert Image.open(tmp_path / "morph_3_to_8_pixel.gif").size == (112, 112)  # 28 x 4
    # the photos: a captioned figure (4 photos x 2 methods, frames 0, 1, 2, 3) and GIFs
    figure = Image.open(tmp_path / "photos_morph.png")
    assert figure.size == (4 * (224 + 4), 8 * (12 + 224 + 24 + 4))
    assert Image.open(tmp_path / "photo_cat_csp_phase.gif").n_frames == 4
    assert len(list(tmp_path.glob("photo_*.gif"))) == 8
    assert "cat         tiger cat             csp phase" in out


def test_morph_command(tmp_path, capsys, monkeypatch):
    from pyramid_kernels import data
    from pyramid_kernels.io.image_io import save_png

    image, _ = data.digits("test")
    save_png(tmp_path / "digit.png", image[0])
    out = tmp_path / "morph.gif"
    args = [
        "morph",
        str(tmp_path / "digit.png"),
        "--gray",
        "--model",
        "digits-driver",
        "--target",
        "3",
        "--steps",
        "4",
        "--budget",
        "2.0",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert Image.open(out).n_frames == 5
    assert "final L2 distance 2.00" in capsys.readouterr().out
    # the runner-up target, as generate takes it, and E in the captions
    runner = [a if a != "3" else "runner-up" for a in args[:-1]] + [str(tmp_path / "r.png")]
    assert main([*runner, "--coherence"]) == 0
    said, bars = capsys.readouterr()
    with torch.no_grad():
        read = read_image(tmp_path / "digit.png", 1)[None]  # what the command reads
        second = int(pk.models.load("digits-driver")(read).topk(2).indices[0, 1])
    assert f"-> target {second} " in said
    assert re.search(r"E warp / warp \+ gain of the last frame: 0\.\d{3} / 0\.\d{3}\n", said)
    assert "E fit, warp [" in bars and "E fit, warp + gain [" in bars  # progress of the fits
    assert main([*runner, "--coherence-every-frame"]) == 0
    said = capsys.readouterr().out
    assert re.search(r"E warp / warp \+ gain per frame: (0\.\d{3} / 0\.\d{3}, ){3}0\.", said)
    # a model given as module:callable (a class, instantiated), and a TorchScript file
    (tmp_path / "digit_models.py").write_text(
        "import pyramid_kernels as pk\n"
        "class Trained(pk.models.DigitsCNN):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.load_state_dict(pk.models.load('digits-driver').state_dict())\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    scripted = torch.jit.script(pk.models.load("digits-driver"))
    scripted.save(str(tmp_path / "driver.pt"))
    for model in ("digit_models:Trained", str(tmp_path / "driver.pt")):
        args[4] = model
        assert main(args) == 0


def _morph_args(tmp_path, image, *extra):
    return [
        "morph",
        str(image),
        "--model",
        "digits-driver",
        "--target",
        "1",
        "--out",
        str(tmp_path / "o.gif"),
        *extra,
    ]


def test_morph_command_errors_are_one_line_with_status_2(tmp_path, capsys):
    from pyramid_kernels.io.image_io import save_png

    (tmp_path / "bad.png").write_text("not an image")
    save_png(tmp_path / "d.png", torch.rand(1, 32, 32))
    cases = [
        (
            ["morph", "x.png", "--model", "nothing", "--target", "1", "--out", "o.gif"],
            "not an embedded model",
        ),
        (_morph_args(tmp_path, tmp_path / "bad.png"), "cannot read it as an image"),
        (
            _morph_args(tmp_path, tmp_path / "d.png", "--target", "12"),
            "--target 12 is not a class of",
        ),
        (_morph_args(tmp_path, tmp_path / "d.png", "--steps", "0"), "steps must be an int"),
        (_morph_args(tmp_path, tmp_path / "d.png", "--budget", "-1"), "budget must be"),
        (_morph_args(tmp_path, tmp_path / "d.png", "--size", "2", "2"), "--size 2 2"),
        (_morph_args(tmp_path, tmp_path / "d.png", "--size", "40", "40"), "failed on"),
    ]
    for args, message in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "o.gif").exists()
    with pytest.raises(ValueError, match="steps must be an int"):  # --debug: the traceback
        main(["--debug", *_morph_args(tmp_path, tmp_path / "d.png", "--steps", "0")])
    with pytest.raises(SystemExit) as exit_info:  # argparse's own errors: status 2 too
        main(["morph", str(tmp_path / "d.png")])
    assert exit_info.value.code == 2


def test_morph_never_writes_over_its_image(tmp_path, capsys, monkeypatch):
    from pyramid_kernels.io.image_io import save_png

    save_png(tmp_path / "d.png", torch.rand(1, 32, 32))
    original = (tmp_path / "d.png").read_bytes()
    os.link(tmp_path / "d.png", tmp_path / "hard.png")
    (tmp_path / "link.png").symlink_to(tmp_path / "d.png")
    monkeypatch.chdir(tmp_path)
    for image, out in [("d.png", "d.png"), ("d.png", str(tmp_path / "d.png")),
                       ("d.png", "hard.png"), ("link.png", "d.png")]:  # fmt: skip
        args = ["morph", image, "--model", "digits-driver", "--target", "1", "--out", out]
        assert main(args) == 2
        assert "is the input" in capsys.readouterr().err, (image, out)
    assert (tmp_path / "d.png").read_bytes() == original


def test_embedded_models_convert_photos_themselves(tmp_path, capsys):
    from pyramid_kernels.io.image_io import save_png

    save_png(tmp_path / "photo.png", torch.rand(3, 50, 70))  # RGB, another size
    assert main(_morph_args(tmp_path, tmp_path / "photo.png", "--steps", "2")) == 0
    out = capsys.readouterr().out
    assert "digits-driver takes 1x32x32 images" in out and "grayscale" in out


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    from pyramid_kernels.io.image_io import write_atomic

    def failing(path):
        with open(path, "w") as f:
            f.write("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(tmp_path / "out.png", failing)
    assert list(tmp_path.iterdir()) == []
