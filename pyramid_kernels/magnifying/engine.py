"""The engine of phase-based video motion magnification (Wadhwa, Rubinstein, Durand, Freeman
2013) on the library's pyramid and phase ops: one video's state and its band edits.

Per frame and band of a complex steerable pyramid: the phase difference to the reference
frame (frame 0), wrapped to (-pi, pi]; a temporal band-pass of it (:mod:`.filters`);
optionally an amplitude-weighted Gaussian smoothing, blur(A dphi) / blur(A) with ``sigma``
pixels of each level; then the band is rotated by alpha times the filtered phase through the
fused ``phase_rotate`` op (with ``attenuate``, by (1 + alpha) filtered - dphi, which also
removes the motion outside the band). With a causal filter and no smoothing, the difference,
the filter step and the rotation run as one fused kernel (the ``magnify_iir`` op of
``ops/magnify/``: C++ on CPU, Triton in float32 on CUDA). Residuals are kept, as spectra
between analysis and synthesis. Colour video is edited in the luminance Y of YIQ by default
(chroma untouched), or per channel.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor

from ..core.color import yiq_matrices
from ..core.sizing import group_budget, images_per_group
from ..ops import edit_bands, magnify_iir
from ..ops.backends import resolve_backend
from ..ops.phase.op import phase_rotate
from .filters import make_filter
from .options import MagnifyOptions

# the warning: this share of the coarsest band's energy more than pi/2 off the first frame's
LARGE_MOTION_SHARE = 0.3


class Magnification:
    """The state of one video's magnification: its options, reference bands, filters, frame
    shape."""

    def __init__(self, options: MagnifyOptions) -> None:
        self.options = options
        self.reference: list[Tensor] = []  # per level, set by the first frames
        self.filters: list = []
        self.frame_shape: tuple | None = None
        self.warned = False  # the large-motion warning is said once per video

    def _check(self, frames: Tensor) -> Tensor:
        """``frames`` validated (float16/bfloat16 as float32); the Magnifier's state (frame
        shape, colour mode) is set only once every check has passed."""
        if not isinstance(frames, Tensor) or not frames.is_floating_point() or frames.dim() != 4:
            raise TypeError(
                "video must be a floating tensor (T, C, H, W) of frames in [0, 1], got "
                + (
                    f"shape {tuple(frames.shape)} {frames.dtype}"
                    if isinstance(frames, Tensor)
                    else type(frames).__name__
                )
            )
        if frames.device.type == "meta":
            raise ValueError("video is on the meta device: magnification needs its pixels")
        if frames.requires_grad:
            raise ValueError(
                "video requires grad, but magnification is not differentiable (its kernels "
                "write in place and its filters keep state); pass video.detach()"
            )
        if frames.shape[1] not in (1, 3):
            raise ValueError(f"video must have 1 or 3 channels, got {frames.shape[1]}")
        if frames.shape[0] == 0:
            raise ValueError("video has no frames")
        spec = self.options.pyramid.resolve(tuple(frames.shape[-2:]))  # a height too large says so
        if self.options.pyramid.height == 0:
            raise ValueError(
                "height=0 leaves no band level to magnify (only the residuals): pass height "
                ">= 1 or 'auto'"
            )
        if spec.height < 1:
            raise ValueError(
                f"frames of {frames.shape[-2]}x{frames.shape[-1]} pixels are too small for one "
                "pyramid band level: both sides must be at least 8 pixels"
            )
        if not torch.isfinite(frames.sum()) and not torch.isfinite(frames).all():  # one pass
            raise ValueError("video contains NaN or inf pixels")
        color = self.options.color_for(frames.shape[1])
        if color == "luminance" and frames.shape[1] != 3:
            raise ValueError("color='luminance' needs 3 channels (RGB); pass color='rgb'")
        shape = (*frames.shape[1:], frames.dtype, frames.device)
        if self.frame_shape is not None and shape != self.frame_shape:
            raise ValueError(
                f"frames of shape {tuple(frames.shape[1:])} {frames.dtype} on {frames.device} "
                f"follow frames of {self.frame_shape}: a Magnifier takes one video"
            )
        self.frame_shape = shape
        self._luminance = color == "luminance"
        return frames.float() if frames.dtype in (torch.float16, torch.bfloat16) else frames

    def _edited_channels(self, frames: Tensor) -> Tensor:
        """(T, C', H, W): the frames' luminance Y of YIQ (C' = 1) or the frames themselves."""
        if not self._luminance:
            return frames
        to_yiq, _ = yiq_matrices(frames.device, frames.dtype)
        return torch.einsum("c,tchw->thw", to_yiq[0], frames).unsqueeze(1)

    def _run(self, frames: Tensor, band_pass, out: Tensor | None = None) -> Tensor:
        """Magnify ``frames`` with ``band_pass(level, dphi (T, C', K, h, w))``, into ``out``
        (like ``frames``) when given."""
        if self._luminance:  # only Y changes: RGB + (YIQ -> RGB column of Y) * (Y' - Y)
            _, to_rgb = yiq_matrices(frames.device, frames.dtype)
            luma = self._edited_channels(frames)
            change = self._edit(luma, band_pass).sub_(luma)
            return torch.addcmul(frames, to_rgb[:, 0].view(1, 3, 1, 1), change, out=out)
        edited = self._edit(frames, band_pass)
        return edited if out is None else out.copy_(edited)

    def _edit(self, x: Tensor, band_pass) -> Tensor:
        o = self.options
        spec = o.pyramid.resolve(tuple(x.shape[-2:]))
        backend = resolve_backend(o.backend, x.device.type)
        lead = x.shape[:2]  # (T, C')

        def edit(level: int, flat: Tensor) -> Tensor:
            b = flat.reshape(*lead, *flat.shape[1:])  # (T, C', K, h, w)
            if level == len(self.reference):  # the first frames: set this level up
                self.reference.append(b[:1].clone())
                self.filters.append(make_filter(o.filter, o.band, o.fps))
            ref = self.reference[level]
            if level == spec.levels - 1 and not self.warned:
                self._check_motion(b, ref)
            if band_pass is None:  # the causal chain in one fused pass (C++ or Triton)
                return self._fused(level, b, ref, backend).reshape(flat.shape)
            delta = torch.angle(b * ref.conj())  # (T, C', K, h, w) in (-pi, pi]
            filtered = band_pass(level, delta)
            if o.sigma > 0:
                filtered = _smooth(filtered, b.abs(), o.sigma)
            theta = (1.0 + o.alpha) * filtered - delta if o.attenuate else o.alpha * filtered
            return phase_rotate(b, torch.zeros_like(theta), theta, backend).reshape(flat.shape)

        out = edit_bands(x.reshape(-1, *x.shape[-2:]), spec, edit, backend)
        return out.reshape(x.shape)

    def _check_motion(self, bands: Tensor, reference: Tensor) -> None:
        """Warn once when the coarsest level's phases differ from the reference frame's by more
        than pi/2 over much of its energy: motion of many pixels, or a scene cut, which phase
        magnification turns into ghosts."""
        amplitude = bands.abs()
        far = (bands * reference.conj()).real < 0  # |phase difference| > pi/2, without atan2
        share = (amplitude * far).flatten(1).sum(1) / amplitude.flatten(1).sum(1).clamp_min(1e-30)
        worst = float(share.max())
        if worst > LARGE_MOTION_SHARE:
            self.warned = True
            warnings.warn(
                f"{100 * worst:.0f}% of the coarsest band's energy moved by more than a quarter "
                "of its wavelength from the first frame: motion of many pixels or a scene cut, "
                "which phase magnification turns into ghosts; magnify a steadier or shorter clip "
                "(cut at scene changes), or a smaller alpha",
                stacklevel=2,
            )

    def _fuses(self, frames: Tensor) -> bool:
        """Whether the causal chain runs fused, without smoothing: the C++ kernel on CPU, the
        Triton kernel (float32) on CUDA or in the interpreter."""
        backend = resolve_backend(self.options.backend, frames.device.type)
        fused = backend == "cpp" or (backend == "triton" and frames.dtype == torch.float32)
        return fused and self.options.sigma == 0

    def _fused(self, level: int, bands: Tensor, reference: Tensor, backend: str) -> Tensor:
        """One level's bands (T, C', K, h, w) magnified by the ``magnify_iir`` op (C++ or
        Triton): phase difference, this level's filter step per frame (its state kept in the
        filter) and rotation, one pass over the coefficients, written over them."""
        flat = bands.reshape(bands.shape[0], -1)
        bandpass = self.filters[level]
        if not isinstance(bandpass.state, Tensor):  # the fused form: (2, N), at rest
            bandpass.state = flat.real.new_zeros((2, flat.shape[1]))
        difference = bandpass.kind == "difference"
        coefficients = [bandpass.r_hi, bandpass.r_lo] if difference else [*bandpass.b, *bandpass.a]
        out = magnify_iir(
            flat, reference.reshape(-1), bandpass.state, coefficients, difference,
            self.options.alpha, self.options.attenuate, backend, out=flat,
        )  # fmt: skip
        return out.reshape(bands.shape)

    def _frames_per_group(self, frames: Tensor) -> int:
        """Frames magnified at once: on CPU as many as keep a group's coefficients near the
        cache (one frame of a large video), on CUDA a quarter of the free memory's worth."""
        h, w = frames.shape[-2:]
        channels = 1 if self._luminance else frames.shape[1]
        spec = self.options.pyramid
        per_octave = spec.scales_per_octave  # the bands of every level: a geometric sum
        area = 1.0 / (1.0 - 4.0 ** (-1.0 / per_octave))  # of the level areas (4/3 per octave)
        elements = int(channels * spec.orientations * h * w * area)
        budget = group_budget(frames.device, None)
        return images_per_group(elements, 1, 2 * frames.element_size(), budget)


def _smooth(phase: Tensor, amplitude: Tensor, sigma: float) -> Tensor:
    """blur(A phase) / blur(A), a periodic Gaussian of ``sigma`` pixels over (h, w) (on a level
    narrower than the Gaussian, its taps wrap around the level as many times as they need)."""

    def kernel(size: int) -> tuple[Tensor, int]:
        """(the Gaussian's taps folded onto at most ``size`` bins, their radius)."""
        radius = max(1, math.ceil(3 * sigma))
        x = torch.arange(-radius, radius + 1, dtype=phase.dtype, device=phase.device)
        taps = torch.exp(-0.5 * (x / sigma) ** 2)
        taps = taps / taps.sum()
        if 2 * radius + 1 <= size:
            return taps, radius
        folded = torch.zeros(size, dtype=phase.dtype, device=phase.device)
        folded.index_add_(0, (x.long() + size // 2) % size, taps)  # centred at size // 2
        return folded, size // 2

    (ky, ry), (kx, rx) = kernel(phase.shape[-2]), kernel(phase.shape[-1])

    def blur(t: Tensor) -> Tensor:
        flat = t.reshape(-1, 1, *t.shape[-2:])
        left, right = rx, len(kx) - 1 - rx
        flat = F.conv2d(F.pad(flat, (left, right, 0, 0), mode="circular"), kx.view(1, 1, 1, -1))
        top, bottom = ry, len(ky) - 1 - ry
        flat = F.conv2d(F.pad(flat, (0, 0, top, bottom), mode="circular"), ky.view(1, 1, -1, 1))
        return flat.reshape(t.shape)

    eps = torch.finfo(phase.dtype).tiny ** 0.5
    return blur(amplitude * phase) / (blur(amplitude) + eps)
