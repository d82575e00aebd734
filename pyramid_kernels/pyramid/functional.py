"""The immutable ``Pyramid`` container and the functional ``build`` / ``collapse``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.utils._pytree as pytree
from torch import Tensor

from ..core import steering
from ..core.channels import stack_channels, unstack_channels
from ..core.selection import CoefficientSelection, Selection
from ..core.spec import PyramidSpec
from ..core.validation import check_coefficients, check_image
from ..ops.backends import resolve_backend
from ..ops.transform import op as ops


@dataclass(frozen=True, repr=False)
class Pyramid:
    """Coefficients of a steerable pyramid, with the spec that made them.

    Immutable and validated on construction; pickles, deep-copies, is a pytree and loads with
    ``torch.load(..., weights_only=True)``.

    Parameters
    ----------
    highpass : Tensor
        (..., H, W) real high-pass residual.
    bands : tuple of Tensor
        One tensor per band level l = 0 (finest) .. L-1, L = height * scales_per_octave, each
        (..., K, H_l, W_l), complex when ``spec.is_complex``; (H_l, W_l) =
        ``spec.level_sizes((H, W))[l]``: for octave bands H_0 = H and H_{l+1} = ceil(H_l / 2),
        for sub-octave ones the crop of the level's frequency support, and H_l = H for an
        undecimated pyramid (``spec.downsample=False``).
    lowpass : Tensor
        (..., H_L, W_L) real low-pass residual (the last entry of ``spec.level_sizes``).
    spec : PyramidSpec
        The resolved spec (integer height) that made the coefficients.
    """

    highpass: Tensor
    bands: tuple[Tensor, ...]
    lowpass: Tensor
    spec: PyramidSpec

    def __post_init__(self) -> None:
        object.__setattr__(self, "bands", tuple(self.bands))
        check_coefficients(self.highpass, self.bands, self.lowpass, self.spec)

    @classmethod
    def _of_build(cls, outputs: list[Tensor], spec: PyramidSpec) -> Pyramid:
        """The Pyramid of the build op's ``outputs`` for ``spec``: valid by construction, so
        the checks of user-made coefficients (host time on every build) are skipped."""
        if torch.compiler.is_compiling():
            return cls(outputs[0], tuple(outputs[1:-1]), outputs[-1], spec)
        self = object.__new__(cls)
        object.__setattr__(self, "highpass", outputs[0])
        object.__setattr__(self, "bands", tuple(outputs[1:-1]))
        object.__setattr__(self, "lowpass", outputs[-1])
        object.__setattr__(self, "spec", spec)
        return self

    def replace(self, **changes) -> Pyramid:
        """A new Pyramid with some of highpass / bands / lowpass replaced; same spec, validated.

        Parameters
        ----------
        **changes : Tensor or sequence of Tensor
            ``highpass=``, ``bands=`` and / or ``lowpass=``, shaped like the ones they replace.

        Returns
        -------
        Pyramid
        """
        unknown = set(changes) - {"highpass", "bands", "lowpass"}
        if unknown:
            raise TypeError(
                f"replace() got unexpected fields {sorted(unknown)}; it accepts highpass, bands, "
                "lowpass (build a new pyramid to change the spec)"
            )
        return dataclasses.replace(self, **changes)

    @property
    def height(self) -> int:
        """Octaves of band levels (``spec.height``)."""
        return self.spec.height

    @property
    def levels(self) -> int:
        """Band levels: height * scales_per_octave (``len(bands)``)."""
        return self.spec.levels

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.highpass.shape[-2:])

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        """(highpass, *bands, lowpass)."""
        return (self.highpass, *self.bands, self.lowpass)

    def steer(self, angles: Tensor | Sequence[float]) -> tuple[Tensor, ...]:
        """Each level's responses at ``angles``: linear combinations of the level's K bands.

        Exact for real bands and for the real part of complex ones
        (:mod:`pyramid_kernels.steering`). Differentiable in the bands and the angles.

        Parameters
        ----------
        angles : Tensor or sequence of float
            (A,) real angles in radians, or a scalar.

        Returns
        -------
        tuple of Tensor
            Per level (..., A, H_l, W_l), complex when the bands are.
        """
        return tuple(steering.steer(b, angles) for b in self.bands)

    def select(self, levels: Selection = "all", bands: Selection = "all") -> Pyramid:
        """These coefficients with everything outside the selection set to zero.

        Parameters
        ----------
        levels : "all", int, or iterable of int and str
            Level indices 0..height-1 and "highpass" / "lowpass" (residuals not listed are zeroed);
            Python or NumPy integers, integer arrays and tensors, ranges.
        bands : "all", int, or iterable of int
            Band indices 0..K-1, kept in every selected level.

        Returns
        -------
        Pyramid
            Same shapes and spec.

        Examples
        --------
        >>> import torch, pyramid_kernels as pk
        >>> c = pk.build(torch.rand(32, 32), height=3)
        >>> float(c.select(levels=[0]).lowpass.abs().max())
        0.0
        """
        chosen = CoefficientSelection.of(levels, bands, self.levels, self.spec.orientations)
        if chosen is None:
            return self
        new = []
        for level, b in enumerate(self.bands):
            if level not in chosen.levels:
                new.append(torch.zeros_like(b))
            elif chosen.bands is None:
                new.append(b)
            else:
                new.append(b * chosen.band_mask(b))
        return Pyramid(
            self.highpass if chosen.highpass else torch.zeros_like(self.highpass),
            tuple(new),
            self.lowpass if chosen.lowpass else torch.zeros_like(self.lowpass),
            self.spec,
        )

    def to_tensor(self, split_complex: bool = False) -> Tensor:
        """The coefficients as channels of an undecimated pyramid (``downsample=False``).

        Channels: highpass, level 0's K bands, ..., level L-1's, lowpass.

        Parameters
        ----------
        split_complex : bool
            False: complex bands stay complex and the residuals are cast to complex
            (C = K L + 2). True: each complex band becomes a (Re, Im) pair of real channels
            (C = 2 K L + 2).

        Returns
        -------
        Tensor
            (..., C, H, W). Inverse: :meth:`from_tensor`.
        """
        parts = [self.highpass.unsqueeze(-3), *self.bands, self.lowpass.unsqueeze(-3)]
        return stack_channels(parts, split_complex)

    @staticmethod
    def from_tensor(tensor: Tensor, spec: PyramidSpec, split_complex: bool = False) -> Pyramid:
        """Inverse of :meth:`to_tensor`.

        Parameters
        ----------
        tensor : Tensor
            (..., C, H, W), complex for a complex spec unless ``split_complex``, real otherwise.
        spec : PyramidSpec
            An undecimated spec (``downsample=False``); height "auto" resolves against (H, W).
        split_complex : bool
            Whether the complex bands were stored as (Re, Im) channel pairs.

        Returns
        -------
        Pyramid
        """
        if not isinstance(spec, PyramidSpec):
            raise TypeError(f"spec must be a PyramidSpec, got {type(spec).__name__}")
        if spec.downsample:
            raise ValueError(
                "from_tensor needs an undecimated spec (downsample=False): only then do all "
                "levels share the image size"
            )
        _check_channel_tensor(tensor, spec, split_complex)
        spec = spec.resolve(tuple(tensor.shape[-2:]))
        k, height = spec.orientations, spec.levels
        counts = [1, *([k] * height), 1]
        complex_parts = [False, *([spec.is_complex] * height), False]
        parts = unstack_channels(tensor, counts, complex_parts, split_complex)
        return Pyramid(parts[0].squeeze(-3), tuple(parts[1:-1]), parts[-1].squeeze(-3), spec)

    def __reduce__(self):
        """Pickle through the constructor, so a loaded Pyramid is validated like a new one."""
        return (Pyramid, (self.highpass, self.bands, self.lowpass, self.spec))

    def __repr__(self) -> str:
        bands = ", ".join(str(tuple(b.shape)) for b in self.bands)
        return (
            f"Pyramid(highpass={tuple(self.highpass.shape)}, bands=[{bands}], "
            f"lowpass={tuple(self.lowpass.shape)}, dtype={self.highpass.dtype}, spec={self.spec})"
        )


def _check_channel_tensor(tensor: Tensor, spec: PyramidSpec, split_complex: bool) -> None:
    """Raise TypeError/ValueError unless ``tensor`` can be :meth:`Pyramid.from_tensor`'s
    input for ``spec``: floating, complex exactly when the spec's bands are and not split."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    if not isinstance(split_complex, bool):
        raise TypeError(f"split_complex must be True or False, got {split_complex!r}")
    if not (tensor.is_floating_point() or tensor.is_complex()):
        raise TypeError(f"tensor must be floating or complex, got {tensor.dtype}")
    if split_complex and not spec.is_complex:
        raise ValueError(
            "split_complex=True needs a complex spec (is_complex=True): a real pyramid has no "
            "(Re, Im) channel pairs"
        )
    if tensor.is_complex() and not spec.is_complex:
        raise TypeError(
            f"a real pyramid's channels are real, got a {tensor.dtype} tensor: pass a spec "
            "with is_complex=True, or tensor.real if the imaginary parts are meant to go"
        )
    if spec.is_complex and not split_complex and not tensor.is_complex():
        raise TypeError(
            f"a complex pyramid's channels are complex, got a {tensor.dtype} tensor: pass "
            "split_complex=True if it holds (Re, Im) channel pairs"
        )
    if tensor.dim() < 3 or min(tensor.shape[-2:]) < 4:
        raise ValueError(
            f"tensor of shape {tuple(tensor.shape)} is too small to be a pyramid's channels: "
            "it must be (..., C, H, W) with H and W >= 4"
        )


# torch.load(..., weights_only=True) may rebuild a Pyramid and its spec (both through their
# validating constructors)
torch.serialization.add_safe_globals([Pyramid, PyramidSpec])

pytree.register_pytree_node(
    Pyramid,
    lambda p: (list(p.tensors), p.spec),
    lambda values, spec: Pyramid(values[0], tuple(values[1:-1]), values[-1], spec),
    serialized_type_name="pyramid_kernels.Pyramid",
)


def build(
    x: Tensor,
    height: int | str = "auto",
    orientations: int = 4,
    twidth: float = 1.0,
    is_complex: bool = True,
    tight_frame: bool = True,
    synthesis: str = "adjoint",
    backend: str = "auto",
    downsample: bool = True,
    scales_per_octave: int = 1,
) -> Pyramid:
    """Steerable pyramid of real images.

    Parameters
    ----------
    x : Tensor
        (..., H, W) real images, float32 or float64 (half precision computes in float32), on
        CPU or CUDA; H, W >= 4.
    height : int or "auto"
        Octaves of band-pass levels; "auto" is ``max_height((H, W))``.
    orientations : int
        K bands per level (>= 2 when complex).
    twidth : float
        Width of the radial transition in octaves (> 0).
    is_complex : bool
        Complex (analytic, one-sided) bands, or real bands.
    tight_frame : bool
        Orthonormal scaling (sum of squared coefficients = that of x); False gives pyrtools /
        plenoptic amplitudes.
    synthesis : {"adjoint", "real"}
        How :func:`collapse` treats complex bands: their analytic projection (the exact adjoint)
        or their real parts (pyrtools / plenoptic). Stored in the spec.
    backend : {"auto", "torch", "cpp", "triton"}
        The kernels; "auto" picks Triton on CUDA and C++ on CPU when built.
    downsample : bool
        False builds the undecimated pyramid (every level at the image size).
    scales_per_octave : int
        Band levels per octave: 1 (octave), 2 (half-octave), 4 (quarter-octave) or any n >= 1;
        the pyramid has ``height * scales_per_octave`` band levels, band level k centred at
        2^(-(k+1)/n) of the Nyquist and stored at the crop of its frequency support
        (:func:`pyramid_kernels.core.spec.level_sizes`).

    Returns
    -------
    Pyramid
        Differentiable in x.

    Examples
    --------
    >>> import torch, pyramid_kernels as pk
    >>> c = pk.build(torch.rand(2, 64, 64), height=3)
    >>> [tuple(b.shape) for b in c.bands]
    [(2, 4, 64, 64), (2, 4, 32, 32), (2, 4, 16, 16)]
    """
    spec = PyramidSpec(
        height, orientations, twidth, is_complex, tight_frame, synthesis, downsample,
        scales_per_octave,
    )  # fmt: skip
    return build_with_spec(x, spec, backend)


def build_with_spec(x: Tensor, spec: PyramidSpec, backend: str = "auto") -> Pyramid:
    """:func:`build` with a ready :class:`PyramidSpec`."""
    x = check_image(x)
    spec = spec.resolve(tuple(x.shape[-2:]))
    concrete = resolve_backend(backend, x.device.type)
    return Pyramid._of_build(ops.build_op(x, spec.op_args(), concrete), spec)


def collapse(
    coeffs: Pyramid, backend: str = "auto", *, levels: Selection = "all", bands: Selection = "all"
) -> Tensor:
    """Real images from a :class:`Pyramid`, by its spec's synthesis mode.

    Parameters
    ----------
    coeffs : Pyramid
        The coefficients; gradients flow to them.
    backend : {"auto", "torch", "cpp", "triton"}
        The kernels.
    levels : "all", int, or iterable of int and str
        Reconstruct from these levels only ("highpass" / "lowpass" name the residuals), as if
        the rest were zero (:meth:`Pyramid.select`), without reading or transforming the rest.
    bands : "all", int, or iterable of int
        Reconstruct from these band indices of each selected level only.

    Returns
    -------
    Tensor
        (..., H, W) real images.
    """
    if not isinstance(coeffs, Pyramid):
        raise TypeError(
            f"coeffs must be a pyramid_kernels.Pyramid, got {type(coeffs).__name__}; "
            "wrap tensors with Pyramid(highpass, bands, lowpass, spec)"
        )
    chosen = CoefficientSelection.of(levels, bands, coeffs.levels, coeffs.spec.orientations)
    concrete = resolve_backend(backend, coeffs.highpass.device.type)
    return ops.collapse_op(
        coeffs.highpass,
        list(coeffs.bands),
        coeffs.lowpass,
        coeffs.spec.op_args(),
        concrete,
        "" if chosen is None else chosen.op_arg(),
    )
