"""Hostile and careless inputs at every entry point: the registered ops, the public API, the
morph and the CLI. Each case ends in a ValueError/TypeError naming the argument or in a
documented result; cases that once crashed the process run in a subprocess, so a regression
fails a test instead of killing the run."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import FAST_BACKENDS, rel_max_error, require
from torch import nn

import pyramid_kernels as pk
from pyramid_kernels.spec import PyramidSpec

BACKENDS = ["torch", *FAST_BACKENDS]
SPEC = PyramidSpec(2, 3).op_args()

CRASH_CASES = """
import torch
from pyramid_kernels.ops import build_op, collapse_op
from pyramid_kernels.phase_ops import phase_rotate, phase_extrapolate
from pyramid_kernels.spec import PyramidSpec

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
