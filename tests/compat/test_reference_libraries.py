"""tight_frame=False matches pyrtools 1.1.1 and plenoptic 2.1.1 (their lookup tables: ~1e-5)."""

import numpy as np
import pytest
import torch

import pyramid_kernels as pk

pt = pytest.importorskip("pyrtools")
po = pytest.importorskip("plenoptic")

SIZES = [(64, 64), (64, 96), (32, 48)]
TOL = 1e-4


def _rel(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("is_complex", [False, True])
@pytest.mark.parametrize("orientations", range(2, 9))
def test_matches_pyrtools(size, is_complex, orientations):
    x = torch.randn(*size, dtype=torch.float64)
    ref = pt.pyramids.SteerablePyramidFreq(
        x.numpy(), height="auto", order=orientations - 1, is_complex=is_complex
    )
    c = pk.build(
        x, orientations=orientations, is_complex=is_complex, tight_frame=False, synthesis="real"
    )
    assert c.height == ref.num_scales
    assert _rel(c.highpass, ref.pyr_coeffs["residual_highpass"]) <= TOL
    assert _rel(c.lowpass, ref.pyr_coeffs["residual_lowpass"]) <= TOL
    for level, bands in enumerate(c.bands):
        expected = np.stack([ref.pyr_coeffs[(level, b)] for b in range(orientations)])
        assert _rel(bands, expected) <= TOL, level
    # pyrtools reconstructs from the real parts of edited coefficients too
    edited = [
        b * torch.exp(1j * torch.rand_like(b.real)) if is_complex else 1.3 * b for b in c.bands
    ]
    for level, bands in enumerate(edited):
        for b in range(orientations):
            ref.pyr_coeffs[(level, b)] = bands[b].numpy()
    assert _rel(pk.collapse(c.replace(bands=edited)), ref.recon_pyr()) <= TOL


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("is_complex", [False, True])
@pytest.mark.parametrize("orientations", [2, 4, 8])
def test_matches_plenoptic(size, is_complex, orientations):
    x = torch.randn(2, 3, *size, dtype=torch.float64)
    ref = po.process.SteerablePyramidFreq(size, order=orientations - 1, is_complex=is_complex)
    ref = ref.to(torch.float64)
    expected = ref(x)
    c = pk.build(
        x, orientations=orientations, is_complex=is_complex, tight_frame=False, synthesis="real"
    )
    assert _rel(c.highpass, expected["residual_highpass"]) <= TOL
    assert _rel(c.lowpass, expected["residual_lowpass"]) <= TOL
    for level, bands in enumerate(c.bands):
        assert _rel(bands, expected[level]) <= TOL
    edited = [
        b * torch.exp(1j * torch.rand_like(b.real)) if is_complex else 1.3 * b for b in c.bands
    ]
    modified = dict(expected)
    for level, bands in enumerate(edited):
        modified[level] = bands
    assert _rel(pk.collapse(c.replace(bands=edited)), ref.recon_pyr(modified)) <= TOL
