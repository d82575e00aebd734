"""Edit spaces of a morph: the coordinates a gradient step moves (pixel, Fourier, CSP).

A space is built from the source images of one chunk, e (B, C', H, W) (C' = 1 for luminance
edits), and exposes real parameter fields q (zeros at the source) with
    render(q)               -> image (B, C', H, W), differentiable in q;
    pullback(G)             -> dL/dq at q = 0 for an image gradient G (B, C', H, W) (the
                               vector-Jacobian product of render there, without rendering);
    extrapolate(g, scales, group, images=None)
                            -> (part, which, frames (T, n, C', H, W)) ``group`` images at a
                               time (see sizing.py), for q_k = -s_k * g (frozen regime),
                               where g has q's layout (per-image step sizes folded in) and
                               ``scales`` (T,) are the frames' multiples of it; ``images``
                               (int64 indices) extrapolates only those, g being theirs; part
                               slices the extrapolated images, which indexes the B;
    elements() -> coefficients (complex or real) of one image. For the Fourier and CSP
spaces q is the phase delta (and log-amplitude eta for edit="joint") of every complex
coefficient, and rendering is c0 * exp(eta + i delta) through the phase ops; residuals stay.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..ops.backends import resolve_backend
from ..ops.phase.op import phase_extrapolate, phase_rotate
from ..ops.transform.op import collapse_vjp
from ..pyramid.functional import Pyramid, collapse


class PixelSpace:
    """q = additive intensity change."""

    def __init__(self, images: Tensor, joint: bool, backend: str) -> None:
        if joint:
            raise ValueError("the pixel space has no amplitudes to edit jointly; use edit='phase'")
        self.images = images

    def zeros(self) -> list[Tensor]:
        return [torch.zeros_like(self.images)]

    def render(self, params: list[Tensor]) -> Tensor:
        return self.images + params[0]

    def pullback(self, grad: Tensor) -> list[Tensor]:
        return [grad]

    def extrapolate(self, grads: list[Tensor], scales: Tensor, group: int, images=None):
        source = self.images if images is None else self.images[images]
        frames = source - scales.reshape(-1, *([1] * source.dim())) * grads[0]
        yield slice(None), slice(None) if images is None else images, frames

    def elements(self) -> int:
        return self.images[0].numel()


class _PhaseSpace:
    """Shared logic of spaces whose parameters are phases (and log-amplitudes) of complex
    coefficients ``self.coeffs``; subclasses define ``_synthesize(coeffs, images)``, where
    ``images`` (a slice or int64 indices) are the source images the coefficients belong to."""

    coeffs: list[Tensor]

    def __init__(self, joint: bool, backend: str) -> None:
        self.joint, self.backend = joint, backend

    def zeros(self) -> list[Tensor]:
        fields = [torch.zeros_like(c.real) for c in self.coeffs]
        return fields + [torch.zeros_like(f) for f in fields] if self.joint else fields

    def _split(self, params: list[Tensor]):
        n = len(self.coeffs)
        phases = params[:n]
        amps = params[n:] if self.joint else [torch.zeros_like(p) for p in phases]
        return phases, amps

    def render(self, params: list[Tensor]) -> Tensor:
        phases, amps = self._split(params)
        edited = [
            phase_rotate(c, a, p, self.backend)
            for c, a, p in zip(self.coeffs, amps, phases, strict=True)
        ]
        return self._synthesize(edited, slice(None))

    def pullback(self, grad: Tensor) -> list[Tensor]:
        """By autograd through :meth:`render` at zero parameters."""
        params = [p.requires_grad_(True) for p in self.zeros()]
        with torch.enable_grad():
            return list(torch.autograd.grad(self.render(params), params, grad))

    def elements(self) -> int:
        return sum(c[0].numel() for c in self.coeffs)

    def extrapolate(self, grads: list[Tensor], scales: Tensor, group: int, images=None):
        phases, amps = self._split(grads)
        coeffs = self.coeffs if images is None else [c[images] for c in self.coeffs]
        batch, frames = coeffs[0].shape[0], scales.shape[0]
        for start in range(0, batch, group):  # all frames of a few images at a time
            part = slice(start, start + group)
            which = part if images is None else images[part]
            edited = [
                phase_extrapolate(
                    c[part], ga[part], gp[part], scales.to(c.dtype.to_real()), self.backend
                ).flatten(0, 1)
                for c, ga, gp in zip(coeffs, amps, phases, strict=True)
            ]
            image = self._synthesize(edited, which)
            yield part, which, image.reshape(frames, -1, *image.shape[1:])


class FourierSpace(_PhaseSpace):
    """Phases (and log-amplitudes) of the global DFT: the rfft2 half spectrum, so every edit
    stays Hermitian-consistent and the image real."""

    def __init__(self, images: Tensor, joint: bool, backend: str) -> None:
        super().__init__(joint, backend)
        self.size = tuple(images.shape[-2:])
        self.coeffs = [torch.fft.rfft2(images, norm="ortho")]

    def _synthesize(self, coeffs: list[Tensor], images) -> Tensor:
        return torch.fft.irfft2(coeffs[0], s=self.size, norm="ortho")


class PyramidSpace(_PhaseSpace):
    """Phases (and log-amplitudes) of the complex steerable pyramid bands; residuals fixed."""

    def __init__(self, images: Tensor, joint: bool, backend: str, pyramid) -> None:
        super().__init__(joint, backend)
        self.pyramid = pyramid
        self.source: Pyramid = pyramid.build(images)
        if not self.source.spec.is_complex:
            raise ValueError("pyramid must be complex (is_complex=True) for phase edits")
        if not self.source.bands:
            raise ValueError(
                f"space='csp' needs at least one band level, and images of size "
                f"{tuple(images.shape[-2:])} have none (pyramid height "
                f"{self.source.spec.height}); morph images of at least 8x8 pixels, pass a "
                "pyramid with height >= 1, or use space='fourier'"
            )
        self.coeffs = list(self.source.bands)

    def pullback(self, grad: Tensor) -> list[Tensor]:
        """In closed form: with G the bands' gradient (collapse's vector-Jacobian product, a
        build) and c the source bands, dL/d delta = Im(conj(c) G), dL/d eta = Re(conj(c) G)."""
        backend = resolve_backend(self.pyramid.backend, grad.device.type)
        grads = collapse_vjp(grad, self.source.spec, backend)[1:-1]
        products = [g.conj() * c for g, c in zip(grads, self.coeffs, strict=True)]
        phases = [-p.imag for p in products]
        return phases + [p.real for p in products] if self.joint else phases

    def _synthesize(self, coeffs: list[Tensor], images) -> Tensor:
        """Collapse edited bands (frames x images, ...) with those images' fixed residuals."""
        highpass, lowpass = self.source.highpass[images], self.source.lowpass[images]
        reps = coeffs[0].shape[0] // highpass.shape[0]
        if reps != 1:  # frames: the same residuals for every frame
            highpass = highpass.repeat(reps, 1, 1, 1)
            lowpass = lowpass.repeat(reps, 1, 1, 1)
        edited = Pyramid(highpass, tuple(coeffs), lowpass, self.source.spec)
        return collapse(edited, self.pyramid.backend)
