"""plenoptic's ``SteerablePyramidFreq`` interface on pyramid_kernels' kernels.

Switch with one import line::

    from pyramid_kernels.compat.plenoptic import SteerablePyramidFreq

The constructor arguments and defaults, ``forward`` (an OrderedDict keyed
"residual_highpass", 0 .. num_scales-1, "residual_lowpass"; bands (B, C, K, h, w)),
``recon_pyr``, ``steer_coeffs``, ``convert_pyr_to_tensor`` / ``convert_tensor_to_pyr`` and
``.to(device)`` follow plenoptic 2.1.1. Differences on purpose:

- masks are closed-form (no lookup tables, no mask buffers: ``named_buffers()`` is empty), so
  coefficients agree with plenoptic's to its tables' accuracy (~1e-6 relative), not bitwise;
- odd and non-square sizes reconstruct exactly, and no "Reconstruction will not be perfect"
  warning is raised for them;
- the masks depend only on the input's shape: ``image_shape`` is checked, as in plenoptic,
  but the kernels need no per-size setup; float64 inputs compute in float64;
- ``forward(x, scales)`` skips the levels below the coarsest one asked for (the coarser
  levels and the low-pass residual), not the finer ones;
- ``backend`` (an extra keyword) picks the kernels: "auto" (Triton on CUDA, C++ on CPU);
- arguments are strict where plenoptic relies on Python truthiness or ``int()``: the flags
  must be bools (``is_complex="no"`` is an error, not True), ``twidth`` and ``height``
  integers (0.5 is an error, not 0), ``image_shape`` at least 4 x 4.
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from torch import Tensor, nn

from ..core.channels import stack_channels, unstack_channels
from ..core.selection import selection_items
from ..core.spec import PyramidSpec, max_height
from ..core.steering import steer, steering_weights
from ..ops.backends import BACKENDS
from ..pyramid.functional import Pyramid, build_with_spec, collapse
from ..pyramid.module import NotScriptableError

HIGHPASS, LOWPASS = "residual_highpass", "residual_lowpass"


def _positive_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``: Python and NumPy integers and integral floats (as
    plenoptic's int(value) would take them); bools, other floats and strings are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be an integer >= {minimum}, but got {value!r}!")
    if not math.isfinite(value) or value != int(value) or value < minimum:
        raise ValueError(
            f"{name} must be an integer >= {minimum}, but got {value!r}! (plenoptic casts it "
            "with int(), which would turn 0.5 into 0 and 2.5 into 2)"
        )
    return int(value)


_OURS = {HIGHPASS: "highpass", LOWPASS: "lowpass"}


class SteerablePyramidFreq(nn.Module):
    """plenoptic's steerable pyramid (same arguments and defaults) on these kernels.

    A real pyramid of order 3 with pyrtools amplitudes unless told otherwise.

    Parameters
    ----------
    image_shape : (int, int)
        (H, W), at least 4 x 4; inputs must have it.
    height : int or "auto"
        Number of scales.
    order : int
        0..15; ``order`` n gives n + 1 orientations.
    twidth : int
        Radial transition width (an integer >= 1, as plenoptic's int() takes it).
    is_complex : bool
        Complex (analytic) bands.
    downsample : bool
        False keeps every level at the image size.
    tight_frame : bool
        Orthonormal scaling.
    backend : {"auto", "torch", "cpp", "triton"}
        The kernels (an extra keyword).
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        height: int | str = "auto",
        order: int = 3,
        twidth: int = 1,
        is_complex: bool = False,
        downsample: bool = True,
        tight_frame: bool = False,
        *,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        try:
            shape = tuple(int(i) for i in image_shape)
        except (TypeError, ValueError):
            raise ValueError(
                f"image_shape must be castable to ints, but got {image_shape}!"
            ) from None
        if shape != tuple(image_shape):
            raise ValueError(f"image_shape must be castable to ints, but got {image_shape}!")
        if len(shape) != 2:
            raise ValueError(f"image_shape must be a tuple of length 2, but got {shape}!")
        if min(shape) < 4:
            raise ValueError(
                f"image_shape must hold two sizes of at least 4 pixels (the smallest image a "
                f"steerable pyramid takes), but got {shape}!"
            )
        if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order <= 15:
            raise ValueError("order must be an integer in the range [0, 15].")
        for name, flag in [
            ("is_complex", is_complex),
            ("downsample", downsample),
            ("tight_frame", tight_frame),
        ]:
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, but got {flag!r}!")
        if order == 0 and is_complex:
            raise ValueError(
                "Complex pyramid cannot have order=0! Its one band has no analytic pair."
            )
        twidth = _positive_int("twidth", twidth)
        top = max_height(shape)
        if isinstance(height, str):
            if height != "auto":
                raise ValueError(f"Height must be a non-negative integer or 'auto', got {height!r}")
            num_scales = top
        elif isinstance(height, (int, float)) and height < 0:  # plenoptic's words for it
            raise ValueError("Height must be a non-negative integer.")
        elif _positive_int("height", height, minimum=0) > top:
            raise ValueError(f"Cannot build pyramid higher than {top:.0f} levels.")
        else:
            num_scales = int(height)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.image_shape = shape
        self.order = order
        self.num_orientations = order + 1
        self.num_scales = num_scales
        self.is_complex, self.downsample = bool(is_complex), bool(downsample)
        self.tight_frame = bool(tight_frame)
        self.fft_norm = "ortho" if tight_frame else "backward"
        self.backend = backend
        # plenoptic's "real" reconstruction: complex bands contribute their real parts
        self.spec = PyramidSpec(
            num_scales,
            self.num_orientations,
            float(twidth),
            self.is_complex,
            self.tight_frame,
            "real",
            self.downsample,
        )
        self.scales = [LOWPASS, *reversed(range(num_scales)), HIGHPASS]
        self.pyr_size = OrderedDict((k, ()) for k in reversed(self.scales))

    def forward(self, image: Tensor, scales: list[int | str] | None = None) -> OrderedDict:
        """The coefficients of a batch, fine to coarse.

        Parameters
        ----------
        image : Tensor
            (B, C, H, W).
        scales : list of int and str, or None
            The scales to return (default all): level indices, "residual_highpass",
            "residual_lowpass".

        Returns
        -------
        OrderedDict
            residual_highpass (B, C, H, W), level l (B, C, K, h_l, w_l), residual_lowpass.
        """
        if tuple(image.shape[-2:]) != self.image_shape:
            raise ValueError(
                f"Input tensor height/width {tuple(image.shape[-2:])} does not match "
                f"image_shape set at initialization {self.image_shape}. "
                "Either resize the input or re-initialize this model."
            )
        if image.dim() != 4:
            raise ValueError("Input image must be 4d (batch, channel, height, width)!")
        scales = self.scales if scales is None else selection_items(scales, "scales", tuple(_OURS))
        levels = [s for s in scales if isinstance(s, int)]
        unknown = [s for s in scales if not isinstance(s, int) and s not in _OURS]
        if unknown or any(not 0 <= s < self.num_scales for s in levels):
            raise ValueError(
                f"scales must hold ints from 0 to {self.num_scales - 1} and {list(_OURS)}, "
                f"got {scales}"
            )
        # band l depends only on the levels above it: stop below the coarsest one asked for
        height = self.num_scales if LOWPASS in scales else max(levels, default=-1) + 1
        spec = dataclasses.replace(self.spec, height=height)
        coeffs = build_with_spec(image, spec, self.backend)
        out = OrderedDict()
        if HIGHPASS in scales:
            out[HIGHPASS] = coeffs.highpass
        for level in range(height):
            if level in scales:
                out[level] = coeffs.bands[level]
        if LOWPASS in scales:
            out[LOWPASS] = coeffs.lowpass
        for key, value in out.items():
            self.pyr_size[key] = tuple(value.shape[-2:])
        return out

    def __prepare_scriptable__(self):
        """torch.jit.script calls this on every submodule first: refuse clearly."""
        raise NotScriptableError(type(self).__name__)

    def _pyramid(self, pyr_coeffs: OrderedDict) -> Pyramid:
        for s in self.scales:
            if s not in pyr_coeffs:
                raise ValueError(
                    f"scale {s} not in pyr_coeffs! pyr_coeffs must include all scales, so make "
                    "sure forward() was called with arg scales=None"
                )
        bands = tuple(pyr_coeffs[i] for i in range(self.num_scales))
        return Pyramid(pyr_coeffs[HIGHPASS], bands, pyr_coeffs[LOWPASS], self.spec)

    def recon_pyr(
        self,
        pyr_coeffs: OrderedDict,
        levels: str | list[int | str] = "all",
        bands: str | list[int] = "all",
    ) -> Tensor:
        """The image from all coefficients, or from the chosen levels and bands only.

        Parameters
        ----------
        pyr_coeffs : OrderedDict
            All scales, as :meth:`forward` returns them.
        levels : "all" or list of int and str
            Level indices and residual names.
        bands : "all" or list of int
            Orientation indices.

        Returns
        -------
        Tensor
            (B, C, H, W).
        """
        pyramid = self._pyramid(pyr_coeffs)
        if not isinstance(levels, str):
            if not hasattr(levels, "__iter__"):
                raise TypeError(
                    f"levels must be a list of levels or the string 'all' but got {levels}"
                )
            levels = [
                _OURS.get(level, level) if isinstance(level, str) else level for level in levels
            ]
        if not isinstance(bands, str) and not hasattr(bands, "__iter__"):
            raise TypeError(f"bands must be a list of ints or the string 'all' but got {bands}")
        return collapse(pyramid, self.backend, levels=levels, bands=bands)

    def steer_coeffs(
        self, pyr_coeffs: OrderedDict, angles: Sequence[float] | Tensor, even_phase: bool = True
    ) -> tuple[dict, dict]:
        """Each scale's responses at given angles (real pyramids only, as in plenoptic).

        Parameters
        ----------
        pyr_coeffs : OrderedDict
            The coefficients.
        angles : sequence of float or Tensor
            (A,) angles in radians.
        even_phase : bool
            Cosine-phase (True) or sine-phase (False) weights.

        Returns
        -------
        steered : dict
            {scale: (B, C, A, h, w)}.
        weights : dict
            {scale: (K, A)}.
        """
        assert not pyr_coeffs[0].is_complex(), "steering only implemented for real coefficients"
        steered, weights = {}, {}
        for i in range(self.num_scales):
            steered[i] = steer(pyr_coeffs[i], angles, even_phase)
            weights[i] = steering_weights(
                self.num_orientations, angles, pyr_coeffs[i].dtype, pyr_coeffs[i].device, even_phase
            ).T
        return steered, weights

    @staticmethod
    def convert_pyr_to_tensor(
        pyr_coeffs: OrderedDict, split_complex: bool = False
    ) -> tuple[Tensor, tuple[int, list, list[int], bool]]:
        """Coefficients of an undecimated pyramid stacked into channels.

        Per input channel: the residual highpass, each band fine to coarse, the residual lowpass.

        Parameters
        ----------
        pyr_coeffs : OrderedDict
            The coefficients.
        split_complex : bool
            Store complex bands as (Re, Im) channel pairs.

        Returns
        -------
        tensor : Tensor
            (B, C * n, H, W).
        pyr_info : tuple
            What :meth:`convert_tensor_to_pyr` needs, unpacked.
        """
        keys = list(pyr_coeffs)
        values = [pyr_coeffs[k] for k in keys]
        num_channels = values[0].shape[1]
        parts = [
            v.unsqueeze(2) if isinstance(k, str) else v for k, v in zip(keys, values, strict=True)
        ]
        split = split_complex and any(v.is_complex() for v in values)
        try:
            stacked = stack_channels(parts, split)
        except ValueError as error:
            raise RuntimeError(
                f"feature maps could not be concatenated into tensor: {error}"
            ) from None
        counts = [p.shape[2] for p in parts]
        return stacked.flatten(1, 2), (num_channels, keys, counts, split)

    @staticmethod
    def convert_tensor_to_pyr(
        pyr_tensor: Tensor,
        num_channels: int,
        pyr_keys: list,
        pack_info: list[int],
        split_complex_pack_info: bool,
    ) -> OrderedDict:
        """Inverse of :meth:`convert_pyr_to_tensor`.

        Parameters
        ----------
        pyr_tensor : Tensor
            (B, C * n, H, W).
        num_channels, pyr_keys, pack_info, split_complex_pack_info
            The ``pyr_info`` of :meth:`convert_pyr_to_tensor`, unpacked.

        Returns
        -------
        OrderedDict
        """
        per_channel = pyr_tensor.unflatten(1, (num_channels, -1))
        complex_band = pyr_tensor.is_complex() or split_complex_pack_info
        flags = [not isinstance(k, str) and complex_band for k in pyr_keys]
        parts = unstack_channels(per_channel, list(pack_info), flags, split_complex_pack_info)
        return OrderedDict(
            (k, p.squeeze(2) if isinstance(k, str) else p)
            for k, p in zip(pyr_keys, parts, strict=True)
        )
