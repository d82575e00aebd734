"""The immutable ``Pyramid`` container and the functional ``build`` / ``collapse``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.utils._pytree as pytree
from torch import Tensor

from . import ops
from .backends import resolve_backend
from .spec import PyramidSpec, level_sizes


@dataclass(frozen=True, repr=False)
class Pyramid:
    """Coefficients of a steerable pyramid, with the spec that made them.

    highpass: (..., H, W) real residual.
    bands:    tuple with one tensor per level l = 0 (finest) .. height-1, each (..., K, H_l, W_l),
              complex when ``spec.is_complex``; H_0 = H and H_{l+1} = ceil(H_l / 2).
    lowpass:  (..., H_L, W_L) real residual, L = height.
    spec:     the resolved :class:`PyramidSpec` (integer height).
    """

    highpass: Tensor
    bands: tuple[Tensor, ...]
    lowpass: Tensor
    spec: PyramidSpec

    def __post_init__(self) -> None:
        object.__setattr__(self, "bands", tuple(self.bands))
        check_coefficients(self.highpass, self.bands, self.lowpass, self.spec)

    def replace(self, **changes) -> Pyramid:
        """A new Pyramid with some of highpass / bands / lowpass replaced, same spec; validated."""
        unknown = set(changes) - {"highpass", "bands", "lowpass"}
        if unknown:
            raise TypeError(
                f"replace() got unexpected fields {sorted(unknown)}; it accepts highpass, bands, "
                "lowpass (build a new pyramid to change the spec)"
            )
        return dataclasses.replace(self, **changes)

    @property
    def height(self) -> int:
        return self.spec.height

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.highpass.shape[-2:])

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        """(highpass, *bands, lowpass)."""
        return (self.highpass, *self.bands, self.lowpass)

    def __reduce__(self):
        """Pickle through the constructor, so a loaded Pyramid is validated like a new one."""
        return (Pyramid, (self.highpass, self.bands, self.lowpass, self.spec))

    def __repr__(self) -> str:
        bands = ", ".join(str(tuple(b.shape)) for b in self.bands)
        return (
            f"Pyramid(highpass={tuple(self.highpass.shape)}, bands=[{bands}], "
            f"lowpass={tuple(self.lowpass.shape)}, dtype={self.highpass.dtype}, spec={self.spec})"
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


def check_image(x: Tensor, name: str = "x") -> Tensor:
    """Validate a real image batch (..., H, W); return it in float32 or float64."""
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (..., H, W), got {type(x).__name__}"
        )
    if x.is_complex():
        raise ValueError(
            f"{name} must be real, got {x.dtype}; the pyramid analyses real images "
            f"(pass {name}.real or {name}.abs())"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating tensor, got {x.dtype}; convert with {name}.float()"
        )
    if x.dim() < 2:
        raise ValueError(f"{name} must have shape (..., H, W), got shape {tuple(x.shape)}")
    if x.dtype not in (torch.float32, torch.float64):
        x = x.float()  # float16 / bfloat16 compute in float32
    return x


def check_coefficients(highpass: Tensor, bands, lowpass: Tensor, spec: PyramidSpec) -> None:
    """Raise ValueError/TypeError unless the coefficients have exactly the shapes of ``spec``."""
    for name, t in [("highpass", highpass), ("lowpass", lowpass)] + [
        (f"bands[{i}]", b) for i, b in enumerate(bands)
    ]:
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not isinstance(spec, PyramidSpec) or not isinstance(spec.height, int):
        raise TypeError("spec must be a resolved PyramidSpec (integer height)")
    if highpass.dim() < 2 or highpass.is_complex() or not highpass.is_floating_point():
        raise ValueError(
            f"highpass must be a real floating tensor (..., H, W), got "
            f"{highpass.dtype} of shape {tuple(highpass.shape)}"
        )
    if highpass.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"highpass must be float32 or float64, got {highpass.dtype}")
    if len(bands) != spec.height:
        raise ValueError(
            f"bands must have one tensor per level: spec.height={spec.height}, got {len(bands)}"
        )
    lead, size = tuple(highpass.shape[:-2]), tuple(highpass.shape[-2:])
    sizes = level_sizes(size, spec.height)
    band_dtype = ops.complex_dtype(highpass.dtype) if spec.is_complex else highpass.dtype
    expected = [("lowpass", lowpass, lead + sizes[-1], highpass.dtype)] + [
        (f"bands[{i}]", b, lead + (spec.orientations, *sizes[i]), band_dtype)
        for i, b in enumerate(bands)
    ]
    for name, t, shape, dtype in expected:
        if tuple(t.shape) != shape:
            raise ValueError(
                f"{name} has shape {tuple(t.shape)} but the spec and highpass "
                f"{tuple(highpass.shape)} require {shape}"
            )
        if t.dtype != dtype:
            raise ValueError(
                f"{name} must be {dtype} to match highpass ({highpass.dtype}) and "
                f"is_complex={spec.is_complex}, got {t.dtype}"
            )
        if t.device != highpass.device:
            raise ValueError(
                f"{name} is on {t.device} but highpass is on {highpass.device}; "
                "move all coefficients to one device"
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
) -> Pyramid:
    """Steerable pyramid of real images x (..., H, W), float32 or float64 (halves -> float32).

    Differentiable; ``synthesis`` is stored in the spec and used by :func:`collapse`.
    """
    spec = PyramidSpec(height, orientations, twidth, is_complex, tight_frame, synthesis)
    return build_with_spec(x, spec, backend)


def build_with_spec(x: Tensor, spec: PyramidSpec, backend: str = "auto") -> Pyramid:
    """:func:`build` with a ready :class:`PyramidSpec`."""
    x = check_image(x)
    spec = spec.resolve(tuple(x.shape[-2:]))
    concrete = resolve_backend(backend, x.device.type)
    out = ops.build_op(x, spec.op_args(), concrete)
    return Pyramid(out[0], tuple(out[1:-1]), out[-1], spec)


def collapse(coeffs: Pyramid, backend: str = "auto") -> Tensor:
    """Real images (..., H, W) from a :class:`Pyramid`, using its spec's synthesis mode."""
    if not isinstance(coeffs, Pyramid):
        raise TypeError(
            f"coeffs must be a pyramid_kernels.Pyramid, got {type(coeffs).__name__}; "
            "wrap tensors with Pyramid(highpass, bands, lowpass, spec)"
        )
    concrete = resolve_backend(backend, coeffs.highpass.device.type)
    return ops.collapse_op(
        coeffs.highpass, list(coeffs.bands), coeffs.lowpass, coeffs.spec.op_args(), concrete
    )
