"""Public API: Pyramid container, module, functional forms, backends and every documented error."""

import dataclasses

import pytest
import torch
import torch.utils._pytree as pytree

import pyramid_kernels as pk
from pyramid_kernels.core.spec import PyramidSpec


def test_module_build_collapse_forward():
    pyr = pk.SteerablePyramid(height=3, orientations=6)
    x = torch.randn(2, 64, 80)
    c = pyr(x)
    assert isinstance(c, pk.Pyramid) and c.height == 3 and c.spec.orientations == 6
    assert c.highpass.shape == (2, 64, 80) and c.highpass.dtype == torch.float32
    assert [tuple(b.shape) for b in c.bands] == [(2, 6, 64, 80), (2, 6, 32, 40), (2, 6, 16, 20)]
    assert all(b.dtype == torch.complex64 for b in c.bands)
    assert c.lowpass.shape == (2, 8, 10)
    assert torch.allclose(pyr.collapse(c), x, atol=1e-5)
    assert torch.equal(pk.collapse(c), pyr.collapse(c))  # the container knows its spec
    assert "orientations=6" in repr(pyr) and "Pyramid(" in repr(c)


def test_auto_height_is_the_maximum_for_the_image():
    assert pk.build(torch.randn(64, 100)).height == 4
    assert pk.build(torch.randn(33, 300)).height == 3
    assert pk.build(torch.randn(4, 4)).height == 0


def test_pyramid_is_immutable_and_replace_validates():
    c = pk.build(torch.randn(32, 32), height=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.highpass = torch.zeros(32, 32)
    edited = c.replace(bands=[2 * b for b in c.bands])
    assert edited.spec == c.spec and torch.equal(edited.bands[0], 2 * c.bands[0])
    assert torch.equal(c.bands[0], c.bands[0])  # original untouched
    with pytest.raises(ValueError, match="bands"):
        c.replace(bands=c.bands[:1])
    with pytest.raises(ValueError, match=r"bands\[1\] has shape"):
        c.replace(bands=[c.bands[0], c.bands[1][..., :-1]])
    with pytest.raises(ValueError, match="complex"):
        c.replace(bands=[b.real for b in c.bands])
    with pytest.raises(TypeError, match="spec"):
        c.replace(spec=c.spec)


def test_pyramid_is_a_pytree():
    c = pk.build(torch.randn(2, 32, 32), height=2)
    leaves, tree = pytree.tree_flatten(c)
    assert len(leaves) == 4
    rebuilt = pytree.tree_unflatten([2 * t for t in leaves], tree)
    assert isinstance(rebuilt, pk.Pyramid) and torch.equal(rebuilt.bands[1], 2 * c.bands[1])
    doubled = pytree.tree_map(lambda t: 2 * t, c)
    assert isinstance(doubled, pk.Pyramid) and doubled.spec == c.spec
    assert torch.allclose(pk.collapse(doubled), 2 * pk.collapse(c), atol=1e-5)


def test_half_precision_computes_in_float32():
    x = torch.rand(32, 32)
    c = pk.build(x.to(torch.bfloat16))
    assert c.highpass.dtype == torch.float32
    assert torch.allclose(pk.collapse(c), x.to(torch.bfloat16).float(), atol=1e-5)


def test_float64_stays_float64():
    c = pk.build(torch.randn(32, 32, dtype=torch.float64))
    assert c.highpass.dtype == torch.float64 and c.bands[0].dtype == torch.complex128


def test_available_backends_reports_reasons():
    info = pk.available_backends()
    assert info["torch"] is None
    for reason in info.values():
        assert reason is None or isinstance(reason, str) and reason


def test_unavailable_backend_raises_instead_of_falling_back():
    # the C++ kernels never run on meta tensors, whatever is installed
    assert pk.available_backends("meta")["cpp"] is not None
    with pytest.raises(ValueError, match="backend='cpp' is not available on meta"):
        pk.build(torch.randn(32, 32, device="meta"), backend="cpp")
    assert pk.build(torch.randn(32, 32, device="meta"), backend="torch").bands[0].is_meta


# --- every bad input raises a clear error naming the argument ---------------------


def test_error_wrong_rank():
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., H, W\)"):
        pk.build(torch.randn(32))


def test_error_not_a_tensor():
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        pk.build([[1.0, 2.0]])


def test_error_complex_input():
    with pytest.raises(ValueError, match="x must be real"):
        pk.build(torch.randn(32, 32, dtype=torch.complex64))


def test_error_integer_input():
    with pytest.raises(TypeError, match=r"x must be a floating tensor.*x.float\(\)"):
        pk.build(torch.ones(32, 32, dtype=torch.int64))


def test_error_height_too_large():
    with pytest.raises(ValueError, match=r"height=4 is too large.*maximum is .* = 3"):
        pk.build(torch.randn(32, 40), height=4)


def test_error_image_too_small():
    with pytest.raises(ValueError, match="too small"):
        pk.build(torch.randn(3, 32))


@pytest.mark.parametrize("height", [-1, 1.5, "max", True])
def test_error_bad_height(height):
    with pytest.raises((ValueError, TypeError), match="height"):
        pk.SteerablePyramid(height=height)


def test_error_complex_needs_two_orientations():
    with pytest.raises(ValueError, match="orientations must be >= 2 for a complex pyramid"):
        pk.SteerablePyramid(orientations=1, is_complex=True)
    pk.SteerablePyramid(orientations=1, is_complex=False)  # the real pyramid allows K = 1


@pytest.mark.parametrize("orientations", [0, -2, 2.0])
def test_error_bad_orientations(orientations):
    with pytest.raises((ValueError, TypeError), match="orientations"):
        pk.SteerablePyramid(orientations=orientations, is_complex=False)


@pytest.mark.parametrize("twidth", [0, -1.0, float("nan"), float("inf"), "1"])
def test_error_bad_twidth(twidth):
    with pytest.raises((ValueError, TypeError), match="twidth"):
        pk.SteerablePyramid(twidth=twidth)


def test_error_bad_synthesis_and_backend():
    with pytest.raises(ValueError, match="synthesis must be one of"):
        pk.SteerablePyramid(synthesis="analytic")
    with pytest.raises(ValueError, match="backend must be one of"):
        pk.SteerablePyramid(backend="cuda")
    with pytest.raises(ValueError, match="backend must be one of"):
        pk.build(torch.randn(32, 32), backend="numpy")


def test_error_coefficients_do_not_match_spec():
    c = pk.build(torch.randn(2, 32, 32), height=2)
    with pytest.raises(ValueError, match="lowpass has shape"):
        pk.Pyramid(c.highpass, c.bands, c.lowpass[..., :-1], c.spec)
    with pytest.raises(ValueError, match=r"bands\[0\] has shape"):
        pk.Pyramid(c.highpass, (c.bands[0][:1], c.bands[1]), c.lowpass, c.spec)
    with pytest.raises(ValueError, match="one tensor per level"):
        pk.Pyramid(c.highpass, c.bands, c.lowpass, PyramidSpec(height=3))
    with pytest.raises(ValueError, match="lowpass must be torch.float32"):
        pk.Pyramid(c.highpass, c.bands, c.lowpass.double(), c.spec)
    with pytest.raises(TypeError, match="coeffs must be a pyramid_kernels.Pyramid"):
        pk.collapse(c.tensors)


def test_error_mixed_devices():
    c = pk.build(torch.randn(32, 32), height=1)
    meta_band = c.bands[0].to("meta")
    with pytest.raises(ValueError, match="move all coefficients to one device"):
        c.replace(bands=[meta_band])
