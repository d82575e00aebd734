"""Every setting's name and default is written once, in its options object: the keyword
signatures of morph, generate, magnify, Magnifier, build and SteerablePyramid are checked
against MorphOptions, GenerateOptions, MagnifyOptions and PyramidSpec; each takes its options
object the same way (``options=``)."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch

import pyramid_kernels as pk
from pyramid_kernels.generating.options import GenerateOptions
from pyramid_kernels.magnifying import MagnifyOptions
from pyramid_kernels.magnifying.options import DEFAULT_PYRAMID
from pyramid_kernels.morphing import MorphOptions

SPEC_FIELDS = ("height", "orientations", "twidth", "scales_per_octave")  # magnify's shorthand


def keywords(fn, leave_out: set[str]) -> dict[str, object]:
    """The keyword parameters of ``fn`` and their defaults, without ``leave_out``."""
    return {
        name: p.default
        for name, p in inspect.signature(fn).parameters.items()
        if name not in leave_out and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


def fields(options, leave_out: set[str] = frozenset()) -> dict[str, object]:
    """The fields of an options dataclass and their defaults (a factory's value; None for a
    required field: the signature takes it as None when ``options=`` gives it)."""
    out = {}
    for f in dataclasses.fields(options):
        if f.name in leave_out:
            continue
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            out[f.name] = None
    return out


def test_morph_takes_exactly_the_morph_options():
    given = {"model", "x", "target", "source", "progress", "options"}
    assert keywords(pk.morph, given) == fields(MorphOptions)


def test_generate_takes_exactly_the_generate_options_and_the_morph_options():
    given = {"model", "images", "out_dir", "targets", "progress", "model_name", "ids", "options"}
    assert keywords(pk.generate, given) == fields(GenerateOptions, {"morph"})
    assert "morph_options" in inspect.signature(pk.generate).parameters  # **: MorphOptions'


def test_magnify_and_the_magnifier_take_exactly_the_magnify_options():
    """pyramid= is the options' spec; height, orientations, twidth and scales_per_octave
    are its shorthand, with the default spec's values. The Magnifier streams: no chunk_size
    (the caller's chunks), and its filter defaults to a causal one."""
    want = fields(MagnifyOptions, {"pyramid"})
    shorthand = {name: getattr(DEFAULT_PYRAMID, name) for name in SPEC_FIELDS}
    got = keywords(pk.magnify, {"video", "options", "pyramid"})
    assert got == want | shorthand
    assert inspect.signature(pk.magnify).parameters["pyramid"].default is None
    got = keywords(pk.Magnifier.__init__, {"self", "options", "pyramid"})
    assert got == {k: v for k, v in want.items() if k != "chunk_size"} | shorthand | {
        "filter": "butterworth"
    }


@pytest.mark.parametrize("fn", [pk.build, pk.SteerablePyramid.__init__])
def test_build_and_the_module_take_exactly_the_spec(fn):
    assert keywords(fn, {"x", "self", "backend"}) == fields(pk.PyramidSpec)


def test_options_objects_pass_the_same_way_everywhere():
    """``options=`` in morph, generate, magnify and the Magnifier; with a setting beside it
    the call is refused by name."""
    for fn in (pk.morph, pk.generate, pk.magnify, pk.Magnifier):
        assert "options" in inspect.signature(fn).parameters, fn
    video = torch.rand(6, 1, 32, 32)
    options = MagnifyOptions(5.0, (1.0, 3.0), 30.0, "butterworth", pyramid=pk.PyramidSpec(2, 4))
    keywords_out = pk.magnify(
        video, alpha=5.0, band=(1.0, 3.0), fps=30.0, filter="butterworth", height=2, orientations=4
    )
    assert torch.equal(pk.magnify(video, options=options), keywords_out)
    streamed = pk.Magnifier(options=options)(video)
    assert torch.equal(streamed, keywords_out)
    with pytest.raises(ValueError, match="pass either options= or alpha"):
        pk.magnify(video, alpha=3.0, options=options)
    with pytest.raises(ValueError, match="pass either options= or sigma"):
        pk.Magnifier(sigma=1.0, options=options)
    with pytest.raises(TypeError, match="alpha, band and fps"):
        pk.magnify(video, band=(1.0, 3.0), fps=30.0)


def test_pyramid_means_the_same_in_morph_and_magnify():
    """pyramid= takes a PyramidSpec or a SteerablePyramid in both."""
    spec = pk.PyramidSpec(height=2, orientations=4)
    module = pk.SteerablePyramid(height=2, orientations=4)
    video = torch.rand(6, 1, 32, 32)
    settings = dict(alpha=5.0, band=(1.0, 3.0), fps=30.0, filter="butterworth")
    assert torch.equal(
        pk.magnify(video, pyramid=spec, **settings), pk.magnify(video, pyramid=module, **settings)
    )
    assert MorphOptions(pyramid=spec).pyramid.spec == module.spec
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32 * 32, 3)).eval()
    x = torch.rand(1, 1, 32, 32)
    a = pk.morph(model, x, 1, steps=2, pyramid=spec).frames
    b = pk.morph(model, x, 1, steps=2, pyramid=module).frames
    assert torch.equal(a, b)


def test_generate_takes_its_options_object(tmp_path):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16, 3)).eval()
    x = torch.rand(2, 1, 16, 16)
    options = pk.GenerateOptions(batch_size=2, pictures=(), morph=MorphOptions(steps=2))
    with pytest.raises(ValueError, match="pass either options= or batch_size, budget"):
        pk.generate(model, x, tmp_path / "refused", batch_size=3, budget=1.0, options=options)
    assert not (tmp_path / "refused").exists()  # refused before any work
    summary = pk.generate(model, x, tmp_path / "out", targets=1, options=options)
    frames = pk.generating.load_frames(tmp_path / "out", "00000")
    assert summary.morphed == 2 and frames.shape == (3, 1, 16, 16)  # steps=2 from the options
