"""The drop-in ``compat.plenoptic.SteerablePyramidFreq`` next to plenoptic's own class
(plenoptic's whole test file runs in test_plenoptic_upstream.py)."""

import numpy as np
import plenoptic as po
import pyrtools as pt
import pytest
import torch
from conftest import rel_max_error

from pyramid_kernels.compat import plenoptic as compat

CONFIGS = [
    dict(height=3, order=3, is_complex=False, downsample=True, tight_frame=False),
    dict(height=2, order=2, is_complex=True, downsample=True, tight_frame=True),
    dict(height=3, order=1, is_complex=True, downsample=False, tight_frame=False),
    dict(height="auto", order=0, is_complex=False, downsample=False, tight_frame=True),
]


def _pair(shape, **kwargs):
    return compat.SteerablePyramidFreq(shape, **kwargs), po.process.SteerablePyramidFreq(
        shape, **kwargs
    )


@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_same_outputs_as_plenoptic(kwargs):
    x = po.data.einstein()[..., :64, :96].repeat(2, 3, 1, 1)
    ours, theirs = _pair(x.shape[-2:], **kwargs)
    for scales in (None, [0], ["residual_highpass", 1], ["residual_lowpass", 0]):
        a, b = ours(x, scales), theirs(x, scales)
        assert list(a) == list(b)
        for key in a:
            assert a[key].shape == b[key].shape and a[key].dtype == b[key].dtype, key
            assert rel_max_error(a[key], b[key]) <= 1e-4, key
    coeffs = theirs(x)
    edited = {k: v * 1.2 if isinstance(k, int) else v for k, v in coeffs.items()}
    assert rel_max_error(ours.recon_pyr(edited), theirs.recon_pyr(edited)) <= 1e-4
    partial = dict(levels=[0, "residual_lowpass"], bands=[min(1, kwargs["order"])])
    assert (
        rel_max_error(ours.recon_pyr(coeffs, **partial), theirs.recon_pyr(coeffs, **partial))
        <= 1e-4
    )
    if not kwargs["is_complex"]:
        angles = torch.linspace(0, np.pi, 5)
        (s1, w1), (s2, w2) = ours.steer_coeffs(coeffs, angles), theirs.steer_coeffs(coeffs, angles)
        for i in s1:
            assert rel_max_error(s1[i], s2[i]) <= 1e-5
            assert torch.allclose(w1[i].double(), w2[i].double(), atol=1e-6)


def test_scales_skip_the_levels_below_the_coarsest_one_asked_for(monkeypatch):
    heights = []
    build = compat.build_with_spec
    monkeypatch.setattr(
        compat,
        "build_with_spec",
        lambda x, spec, b: heights.append(spec.height) or build(x, spec, b),
    )
    pyr = compat.SteerablePyramidFreq((64, 64), height=4)
    x = torch.rand(1, 1, 64, 64)
    full = pyr(x)
    for scales, height in [([1], 2), (["residual_highpass"], 0), ([0, "residual_lowpass"], 4)]:
        part = pyr(x, scales)
        assert heights[-1] == height
        assert all(torch.equal(part[k], full[k]) for k in part)
    with pytest.raises(ValueError, match="scale residual_lowpass not in pyr_coeffs"):
        pyr.recon_pyr(pyr(x, [0, 1]))


def test_tensor_layout_equals_plenoptics():
    x = po.data.einstein()[..., :32, :32].repeat(1, 2, 1, 1)
    ours, theirs = _pair((32, 32), height=2, order=2, is_complex=True, downsample=False)
    coeffs = theirs(x)
    for split in (False, True):
        t1, info = ours.convert_pyr_to_tensor(coeffs, split_complex=split)
        t2, _ = theirs.convert_pyr_to_tensor(coeffs, split_complex=split)
        assert torch.equal(t1, t2)
        back = ours.convert_tensor_to_pyr(t1, *info)
        assert list(back) == list(coeffs)
        assert all(torch.equal(back[k], coeffs[k]) for k in coeffs)


def test_reconstruction_is_closer_to_the_image_than_pyrtools():
    """The documented reason test_recon_match_pyrtools is an expected failure upstream."""
    img = po.data.einstein()
    ours = compat.SteerablePyramidFreq(img.shape[-2:], height=1)
    recon = ours.recon_pyr(ours(img)).squeeze().numpy()
    image = img.squeeze().numpy()
    theirs = pt.pyramids.SteerablePyramidFreq(image.astype(np.float64), height=1).recon_pyr()
    assert np.abs(recon - image).max() < 1e-6 < np.abs(theirs - image).max()


def test_constructor_and_input_errors_match_plenoptic():
    with pytest.raises(ValueError, match="castable to ints"):
        compat.SteerablePyramidFreq((256.5, 256))
    with pytest.raises(ValueError, match="tuple of length 2"):
        compat.SteerablePyramidFreq((1, 256, 256))
    with pytest.raises(ValueError, match="order must be an integer in the range"):
        compat.SteerablePyramidFreq((64, 64), order=16)
    with pytest.raises(ValueError, match="Complex pyramid cannot have order=0"):
        compat.SteerablePyramidFreq((64, 64), order=0, is_complex=True)
    with pytest.raises(ValueError, match="Cannot build pyramid higher than 4 levels"):
        compat.SteerablePyramidFreq((64, 64), height=5)
    with pytest.raises(ValueError, match="does not match"):
        compat.SteerablePyramidFreq((64, 64))(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="must be 4d"):
        compat.SteerablePyramidFreq((64, 64))(torch.rand(1, 64, 64))
    assert list(compat.SteerablePyramidFreq((64, 64)).named_buffers()) == []
