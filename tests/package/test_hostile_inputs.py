"""Hostile and careless inputs at every entry point: the registered ops, the public API, the
morph and the CLI. Each case ends in a ValueError/TypeError naming the argument or in a
documented result; cases that once crashed the process run in a subprocess, so a regression
fails a test instead of killing the run."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import FAST_BACKENDS, rel_max_error, require
from torch import nn

import pyramid_kernels as pk
from pyramid_kernels.core.spec import PyramidSpec

BACKENDS = ["torch", *FAST_BACKENDS]
SPEC = PyramidSpec(2, 3).op_args()

CRASH_CASES = """
import torch
from pyramid_kernels.ops import build_op, collapse_op
from pyramid_kernels.ops import phase_extrapolate, phase_rotate
from pyramid_kernels.core.spec import PyramidSpec

spec = PyramidSpec(2, 3).op_args()
backend, device = {backend!r}, {device!r}
x = torch.randn(2, 32, 32, dtype=torch.float64, device=device)
hp, *bands, lp = build_op(x, spec, backend)
c = bands[0]
half = torch.ones(2, dtype=torch.float64, device=device)
cases = {{
    "float32 highpass beside float64 bands": lambda: collapse_op(
        hp.float(), bands, lp, spec, backend
    ),
    "float32 lowpass": lambda: collapse_op(hp, bands, lp.float(), spec, backend),
    "complex64 band among complex128": lambda: collapse_op(
        hp, [bands[0].to(torch.complex64), bands[1]], lp, spec, backend
    ),
    "band of the wrong level size": lambda: collapse_op(
        hp, [bands[1], bands[1]], lp, spec, backend
    ),
    "one band level missing": lambda: collapse_op(hp, bands[:1], lp, spec, backend),
    "non-contiguous band": lambda: collapse_op(
        hp, [bands[0].transpose(-1, -2), bands[1]], lp, spec, backend
    ),
    "integer image": lambda: build_op(x.long(), spec, backend),
    "float16 image": lambda: build_op(x.half(), spec, backend),
    "complex image": lambda: build_op(x.to(torch.complex128), spec, backend),
    "1-D image": lambda: build_op(x[0, 0], spec, backend),
    "image too small for the height": lambda: build_op(x[..., :8, :8], spec, backend),
    "malformed spec": lambda: build_op(x, "height=2", backend),
    "unknown backend": lambda: build_op(x, spec, "cuda"),
    "phase fields of another dtype": lambda: phase_rotate(
        c, c.real.float(), c.real.float(), backend
    ),
    "phase fields of another shape": lambda: phase_rotate(c, c.real[:1], c.real[:1], backend),
    "real coefficients": lambda: phase_rotate(c.real, c.real, c.real, backend),
    "2-D scales": lambda: phase_extrapolate(c, c.real, c.real, half.reshape(1, 2), backend),
    "float32 scales": lambda: phase_extrapolate(c, c.real, c.real, half.float(), backend),
}}
for name, call in cases.items():
    try:
        out = call()
    except (ValueError, TypeError) as error:
        print("clear", type(error).__name__, "|", name, "|", str(error).splitlines()[0])
    else:
        if name == "non-contiguous band":  # a documented result: made contiguous
            print("result", "|", name)
        else:
            print("UNCAUGHT", "|", name)
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_registered_ops_reject_bad_tensors_without_crashing(backend):
    device = require(backend)
    code = textwrap.dedent(CRASH_CASES.format(backend=backend, device=device))
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]  # a crash (SIGABRT, SIGSEGV) fails here
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 18 and not [line for line in lines if line.startswith("UNCAUGHT")], lines


def test_a_tampered_pyramid_is_rejected_at_collapse():
    c = pk.build(torch.randn(2, 32, 32), height=2)
    object.__setattr__(c, "lowpass", c.lowpass.double())
    with pytest.raises(ValueError, match="lowpass must be torch.float32"):
        pk.collapse(c)
    c = pk.build(torch.randn(2, 32, 32), height=2)
    c.bands[0].data = c.bands[0].data[..., :-1]
    with pytest.raises(ValueError, match=r"bands\[0\] has shape"):
        pk.collapse(c)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(0, 32, 32), (2, 0, 3, 32, 32)], ids=str)
def test_empty_batches_give_empty_results(backend, shape):
    device = require(backend)
    x = torch.randn(shape, device=device)
    c = pk.build(x, height=2, backend=backend)
    lead = shape[:-2]
    assert c.highpass.shape == shape and c.bands[1].shape == (*lead, 4, 16, 16)
    assert c.lowpass.shape == (*lead, 8, 8)
    assert pk.collapse(c, backend=backend).shape == shape


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_pixels_stay_in_their_image(backend):
    """Documented: NaN/inf propagate per image, like torch ops (the FFT spreads them over that
    image's coefficients, never to another image's)."""
    device = require(backend)
    x = torch.rand(3, 32, 32, dtype=torch.float64, device=device)
    x[1, 5, 7] = float("nan")
    c = pk.build(x, height=2, backend=backend)
    alone = pk.build(x[[0, 2]], height=2, backend=backend)
    for batched, ok in zip(c.tensors, alone.tensors, strict=True):
        assert rel_max_error(batched[[0, 2]], ok) <= 1e-12
        assert torch.isnan(batched[1]).all()
    y = pk.collapse(c, backend=backend)
    assert torch.isnan(y[1]).all() and rel_max_error(y[[0, 2]], x[[0, 2]]) <= 1e-12


@pytest.mark.parametrize("flag", ["is_complex", "tight_frame"])
@pytest.mark.parametrize("value", ["yes", 1, None])
def test_flags_must_be_bools(flag, value):
    with pytest.raises(TypeError, match=f"{flag} must be a bool"):
        pk.SteerablePyramid(**{flag: value})


class Linear(nn.Module):
    def __init__(self, logits=None):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(16 * 16, 4)
        self.logits = logits
        self.eval()

    def forward(self, x):
        out = self.linear(x.flatten(1))
        return out if self.logits is None else self.logits(out)


def test_morph_refuses_bad_models_images_and_arguments():
    x = torch.rand(3, 1, 16, 16)
    with pytest.raises(ValueError, match="NaN or inf logits"):
        pk.morph(Linear(lambda out: out * float("nan")), x, 1)
    with pytest.raises(ValueError, match="floating logits"):
        pk.morph(Linear(lambda out: out.long()), x, 1)
    with pytest.raises(ValueError, match=r"outside clamp=\(0.0, 1.0\).*clamp=None"):
        pk.morph(Linear(), 2 * x, 1)
    pk.morph(Linear(), 2 * x, 1, clamp=(0, 2), steps=2)  # the message's remedy works
    for target in ("three", [1.5, 2.0, 1.0], None):
        with pytest.raises(TypeError, match="target must be"):
            pk.morph(Linear(), x, target)
    for bad in (
        dict(budget="1"),
        dict(steps=2.0),
        dict(clamp="01"),
        dict(clamp=5),
        dict(chunk_size=0),
        dict(group_bytes=-1),
        dict(phase_step=float("inf")),
    ):
        with pytest.raises((ValueError, TypeError)):
            pk.morph(Linear(), x, 1, **bad)


def test_morph_of_an_empty_batch_is_empty():
    r = pk.morph(Linear(), torch.rand(0, 1, 16, 16), 1, steps=3)
    assert r.frames.shape == (4, 0, 1, 16, 16) and r.target_prob.shape == (4, 0)
    assert r.attained.shape == (0,) and r.target.shape == (0,)
    with pytest.raises(ValueError, match="no images"):
        r.save("empty.gif")


def test_non_finite_frames_are_reported_and_never_saved(tmp_path):
    class NaNGradient(Linear):  # finite logits; a NaN gradient for image 1 (where's gotcha)
        def forward(self, x):
            flat = x.flatten(1)
            sign = torch.ones(x.shape[0], 1)
            sign[1] = -1.0
            hidden = torch.where(flat > 10, torch.sqrt(sign * (flat + 1)), torch.zeros_like(flat))
            return super().forward(x) + hidden.sum(1, keepdim=True)

    x = torch.rand(3, 1, 16, 16)
    r = pk.morph(NaNGradient(), x, 1, steps=2, amplification=1.0)
    finite = torch.isfinite(r.frames).flatten(2).all(2).all(0)
    assert torch.equal(r.attained, finite) and not finite[1]
    with pytest.raises(ValueError, match=r"frames of images \[1\] contain NaN"):
        r.save(tmp_path / "m.gif")
    assert list(tmp_path.iterdir()) == []
    good = pk.morph(Linear(), x, 1, steps=2)
    for scale in (0, 2.5, True):
        with pytest.raises(ValueError, match="scale must be"):
            good.save(tmp_path / "m.gif", scale=scale)


def test_chunking_never_changes_the_libraries_part():
    """With a model whose outputs do not depend on the rest of its batch, chunked and whole
    morphs give the same frames (the docstring's promise)."""
    x = torch.rand(5, 1, 16, 16)
    for kwargs in (dict(budget=1.0), dict(regime="anchored", phase_step=0.2), dict()):
        whole = pk.morph(Linear(), x, 2, steps=3, **kwargs)
        for chunk in (1, 2):
            parts = pk.morph(Linear(), x, 2, steps=3, chunk_size=chunk, **kwargs)
            assert (parts.frames - whole.frames).abs().max() <= 1e-6, kwargs


# --- strict inputs for the newer APIs (selections, steering, channel tensors, the drop-in) ---


@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_selections_of_any_kind_select_what_a_list_does(backend):
    device = require(backend)
    x = torch.rand(2, 32, 32, dtype=torch.float64, device=device)
    c = pk.build(x, height=3, backend=backend)
    want = pk.collapse(c, backend=backend, levels=[0, 2, "lowpass"], bands=[1, 3])
    assert want.abs().max() > 0
    for levels, bands in [
        ([np.int64(0), np.int32(2), "lowpass"], np.array([1, 3])),
        ((*np.array([0, 2]), "lowpass"), torch.tensor([3, 1])),
        ([torch.tensor(0), 2, "lowpass"], range(1, 4, 2)),
    ]:
        got = pk.collapse(c, backend=backend, levels=levels, bands=bands)
        assert torch.equal(got, want), (levels, bands)
    whole_levels = pk.collapse(c, backend=backend, levels=[0, 1, 2])
    for levels in (np.array([0, 1, 2]), torch.arange(3), range(3)):
        assert torch.equal(pk.collapse(c, backend=backend, levels=levels), whole_levels)
    one = pk.collapse(c, backend=backend, levels=1)
    assert torch.equal(one, pk.collapse(c, backend=backend, levels=[1]))
    selected = c.select(levels=np.array([0, 1]))
    assert selected.bands[1].abs().max() > 0 and selected.bands[2].abs().max() == 0


@pytest.mark.parametrize(
    "levels, error, message",
    [
        ([1.0, "lowpass"], TypeError, "it holds float 1.0"),
        (np.array([1.0]), TypeError, "it holds float64"),
        ([True], TypeError, "it holds bool True"),
        (None, TypeError, "levels must be 'all', an index or a list.*got NoneType"),
        ([[0]], TypeError, "it holds list"),
        (np.array([[0, 1]]), TypeError, r"array of shape \(1, 2\)"),
        ("low", ValueError, "got the string 'low'"),
        ([], ValueError, "levels selects nothing"),
        (5, ValueError, r"levels has \['5'\], not levels of this pyramid"),
    ],
    ids=str,
)
def test_bad_level_selections_name_the_argument(levels, error, message):
    c = pk.build(torch.rand(32, 32), height=3)
    with pytest.raises(error, match=message):
        pk.collapse(c, levels=levels)
    with pytest.raises(error, match=message):
        c.select(levels=levels)


def test_bad_band_selections_name_the_argument():
    c = pk.build(torch.rand(32, 32), height=3)
    with pytest.raises(ValueError, match="bands selects nothing"):
        pk.collapse(c, bands=[])
    with pytest.raises(ValueError, match=r"band indices 0..3, got \[7\]"):
        pk.collapse(c, bands=np.array([7]))
    for bad in ([True], [0.0], torch.tensor([0.0]), [np.bool_(True)], "highpass"):
        with pytest.raises((TypeError, ValueError), match="bands must"):
            pk.collapse(c, bands=bad)


def test_steering_angles_must_be_real():
    c = pk.build(torch.rand(32, 32), height=2)
    for bad in ([0.5 + 1j], torch.tensor([0.5j]), [True], torch.tensor([True])):
        with pytest.raises(TypeError, match="angles must be real"):
            c.steer(bad)
    floats, ints = c.steer([0.0, 1.0]), c.steer(torch.tensor([0, 1]))
    assert all(torch.equal(a, b) for a, b in zip(floats, ints, strict=True))


def test_from_tensor_checks_the_tensor_against_the_spec():
    x = torch.rand(1, 32, 32)
    real, cplx = (PyramidSpec(2, 4, is_complex=k, downsample=False) for k in (False, True))
    t_real = pk.build(x, height=2, is_complex=False, downsample=False).to_tensor()
    t_cplx = pk.build(x, height=2, downsample=False).to_tensor()
    with pytest.raises(TypeError, match="real pyramid's channels are real"):
        pk.Pyramid.from_tensor(t_cplx, real)
    with pytest.raises(TypeError, match="complex pyramid's channels are complex"):
        pk.Pyramid.from_tensor(t_real, cplx)
    with pytest.raises(ValueError, match="split_complex=True needs a complex spec"):
        pk.Pyramid.from_tensor(t_real, real, split_complex=True)
    with pytest.raises(TypeError, match="floating or complex"):
        pk.Pyramid.from_tensor(t_real.long(), real)
    with pytest.raises(ValueError, match="too small to be a pyramid's channels"):
        pk.Pyramid.from_tensor(torch.rand(1, 10, 2, 2), real)
    assert torch.equal(pk.Pyramid.from_tensor(t_real, real).to_tensor(), t_real)


@pytest.mark.parametrize("downsample", [True, False])
@pytest.mark.parametrize("shape", [(1, 0, 0), (1, 0, 16), (2, 16, 3)], ids=str)
def test_empty_and_tiny_images_are_refused_by_size(shape, downsample):
    with pytest.raises(ValueError, match=r"image size .* is too small.*H and W must be >= 4"):
        pk.build(torch.rand(shape), downsample=downsample)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(is_complex="no"), TypeError, "is_complex must be True or False"),
        (dict(downsample="no"), TypeError, "downsample must be True or False"),
        (dict(tight_frame=1), TypeError, "tight_frame must be True or False"),
        (dict(image_shape=(0, 0)), ValueError, "at least 4 pixels"),
        (dict(image_shape=(-4, 8)), ValueError, "at least 4 pixels"),
        (dict(twidth=0.5), ValueError, "twidth must be an integer >= 1, but got 0.5"),
        (dict(twidth="1"), TypeError, "twidth must be an integer >= 1, but got '1'"),
        (dict(twidth=float("nan")), ValueError, "twidth must be an integer >= 1, but got nan"),
        (dict(height=None), TypeError, "height must be an integer >= 0, but got None"),
        (dict(height=2.5), ValueError, "height must be an integer >= 0, but got 2.5"),
        (dict(height="max"), ValueError, "Height must be a non-negative integer or 'auto'"),
    ],
    ids=str,
)
def test_the_plenoptic_drop_in_is_strict(kwargs, error, message):
    from pyramid_kernels.compat.plenoptic import SteerablePyramidFreq

    kwargs = {"image_shape": (32, 32)} | kwargs
    with pytest.raises(error, match=message):
        SteerablePyramidFreq(**kwargs)


def test_the_plenoptic_drop_in_takes_numpy_values_and_selections():
    from pyramid_kernels.compat.plenoptic import SteerablePyramidFreq

    pyr = SteerablePyramidFreq((32, 32), height=np.int64(2), twidth=2.0, is_complex=np.bool_(1))
    assert pyr.num_scales == 2 and pyr.is_complex and pyr.spec.twidth == 2.0
    x = torch.rand(1, 1, 32, 32)
    coeffs = pyr(x)
    assert list(pyr(x, scales=np.array([0]))) == [0]
    levels = np.array([0, 1])
    assert torch.equal(pyr.recon_pyr(coeffs, levels), pyr.recon_pyr(coeffs, [0, 1]))
    with pytest.raises(TypeError, match="levels must be"):
        pyr.recon_pyr(coeffs, [[0]])


def test_torch_jit_script_says_what_works_instead():
    from pyramid_kernels.compat.plenoptic import SteerablePyramidFreq

    class Holder(nn.Module):
        def __init__(self, pyramid):
            super().__init__()
            self.pyramid = pyramid

        def forward(self, x):
            return self.pyramid(x)

    for pyramid in (pk.SteerablePyramid(height=2), SteerablePyramidFreq((32, 32), height=2)):
        for module in (pyramid, Holder(pyramid)):
            with pytest.raises(TypeError, match=r"torch.jit.script.*torch.compile.*export"):
                torch.jit.script(module)

    class Roundtrip(Holder):
        def forward(self, x):
            return self.pyramid.collapse(self.pyramid(x))

    x = torch.rand(1, 32, 32)  # the remedy the message names works
    exported = torch.export.export(Roundtrip(pk.SteerablePyramid(height=2)), (x,))
    assert (exported.module()(x) - x).abs().max() < 1e-5


@pytest.mark.parametrize("control", ["amplification", "phase_step", "budget"])
def test_morph_step_controls_refuse_flags(control):
    with pytest.raises(TypeError, match=f"{control} must be a number > 0 \\(not a flag\\)"):
        pk.morph(Linear(), torch.rand(2, 1, 16, 16), 1, **{control: True})
    pk.morph(Linear(), torch.rand(2, 1, 16, 16), 1, steps=2, **{control: np.float32(0.5)})


def test_morph_refuses_empty_images_and_models_without_a_gradient():
    with pytest.raises(ValueError, match=r"shape \(2, 1, 0, 0\): its images are empty"):
        pk.morph(Linear(), torch.rand(2, 1, 0, 0), 1)

    def constant(x):
        return torch.zeros(x.shape[0], 4)

    def detached(x):
        return Linear()(x.detach())

    for model in (constant, detached):
        for regime in ("frozen", "anchored"):
            with pytest.raises(ValueError, match="logits carry no gradient to the image"):
                pk.morph(model, torch.rand(2, 1, 16, 16), 1, steps=2, regime=regime)


def test_outputs_that_cannot_be_written_are_refused_with_the_path_given(tmp_path, monkeypatch):
    from pyramid_kernels.apps import cli, commands

    blocker = tmp_path / "file"
    blocker.write_text("")
    result = pk.morph(Linear(), torch.rand(1, 1, 16, 16), 1, steps=2)
    with pytest.raises(NotADirectoryError, match=f"{blocker / 'm.gif'}.*is a file, not a folder"):
        result.save(blocker / "m.gif")
    folder = tmp_path / "folder.gif"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        result.save(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder.gif"]
    # the CLI checks before any work: a morph that would take minutes fails at once
    ran = []
    for command in (commands.morph, commands.demo, commands.evaluate, commands.generate):
        monkeypatch.setattr(command, "run", lambda args: ran.append(args) or 0)
    morph = ["morph", "x.png", "--model", "digits-driver", "--target", "3", "--out"]
    for argv in [
        [*morph, str(blocker / "d" / "m.gif")],
        [*morph, str(folder)],  # an existing folder, not a file
        ["demo", "--out", str(blocker)],
        ["eval", "--out", str(blocker / "e")],
        [
            "generate",
            "--embedded",
            "digits-test",
            "--model",
            "digits-driver",
            "--out",
            str(blocker),
        ],
    ]:
        assert cli.main(argv) == cli.USAGE_ERROR, argv
    assert ran == []
    assert cli.main([*morph, str(tmp_path / "new" / "m.gif")]) == 0 and len(ran) == 1


def test_a_failed_write_names_the_path_given_and_leaves_nothing(tmp_path):
    from pyramid_kernels.io.image_io import write_atomic

    def full_disk(tmp):
        open(tmp, "wb").write(b"partial")
        raise OSError(28, "No space left on device", tmp)

    target = tmp_path / "m.gif"
    with pytest.raises(OSError, match=f"cannot write {target}: No space left") as caught:
        write_atomic(target, full_disk)
    assert ".m.gif." not in str(caught.value) and list(tmp_path.iterdir()) == []
