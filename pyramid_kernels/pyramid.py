"""The immutable ``Pyramid`` container and the functional ``build`` / ``collapse``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.utils._pytree as pytree
from torch import Tensor

from . import ops
from .backends import resolve_backend
from .spec import PyramidSpec
from .validation import check_coefficients, check_image


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
