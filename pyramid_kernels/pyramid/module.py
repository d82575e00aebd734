"""``SteerablePyramid``: the transform as an ``nn.Module`` (no parameters, no fixed image size)."""

from __future__ import annotations

from torch import Tensor, nn

from ..core.selection import Selection
from ..core.spec import PyramidSpec
from ..ops.backends import BACKENDS
from .functional import Pyramid, build_with_spec, collapse


class NotScriptableError(TypeError):
    """torch.jit.script of a module holding a pyramid: TorchScript cannot compile its Python
    (dataclass specs, custom-op dispatch), so say what works instead."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"{name} cannot be compiled by torch.jit.script (TorchScript does not support its "
            "Python: pyramid dataclasses and custom-op dispatch). Use torch.compile(model), "
            "or torch.export.export(model, (example_input,)) for a graph to save and deploy"
        )


class SteerablePyramid(nn.Module):
    """Complex (or real) steerable pyramid as an ``nn.Module``; ``forward`` is :meth:`build`.

    It has no parameters and no buffers (the masks are closed-form).

    Parameters
    ----------
    height : int or "auto"
        Octaves of band-pass levels, or "auto" for floor(log2 min(H, W)) - 2.
    orientations : int
        K bands per level (>= 2 when complex).
    twidth : float
        Width of the radial transition in octaves (> 0).
    is_complex : bool
        Complex (analytic, one-sided) bands, or real bands.
    tight_frame : bool
        Orthonormal scaling (||coeffs|| = ||x||); False gives pyrtools amplitudes.
    synthesis : {"adjoint", "real"}
        Analytic projection of complex bands, or their real parts, at collapse.
    backend : {"auto", "torch", "cpp", "triton"}
        The kernels.
    downsample : bool
        False gives the undecimated pyramid (every band at the image size; still a tight frame
        when ``tight_frame``).
    scales_per_octave : int
        Band levels per octave (1 octave, 2 half-octave, 4 quarter-octave); ``height *
        scales_per_octave`` band levels.
    """

    def __init__(
        self,
        height: int | str = "auto",
        orientations: int = 4,
        twidth: float = 1.0,
        is_complex: bool = True,
        tight_frame: bool = True,
        synthesis: str = "adjoint",
        backend: str = "auto",
        downsample: bool = True,
        scales_per_octave: int = 1,
    ) -> None:
        super().__init__()
        self.spec = PyramidSpec(
            height, orientations, twidth, is_complex, tight_frame, synthesis, downsample,
            scales_per_octave,
        )  # fmt: skip
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.backend = backend

    def build(self, x: Tensor) -> Pyramid:
        """The pyramid of real images.

        Parameters
        ----------
        x : Tensor
            (..., H, W) real images.

        Returns
        -------
        Pyramid
        """
        return build_with_spec(x, self.spec, self.backend)

    def collapse(
        self, coeffs: Pyramid, *, levels: Selection = "all", bands: Selection = "all"
    ) -> Tensor:
        """Real images from coefficients; gradients flow to the coefficients.

        Parameters
        ----------
        coeffs : Pyramid
            The coefficients.
        levels : "all", int, or iterable of int and str
            Reconstruct from part of them (:meth:`Pyramid.select`).
        bands : "all", int, or iterable of int
            Band indices kept in each selected level.

        Returns
        -------
        Tensor
            (..., H, W).
        """
        return collapse(coeffs, self.backend, levels=levels, bands=bands)

    forward = build

    def __prepare_scriptable__(self):
        """torch.jit.script calls this on every submodule first: refuse clearly."""
        raise NotScriptableError(type(self).__name__)

    def extra_repr(self) -> str:
        """The module's settings, as ``print(module)`` shows them.

        Returns
        -------
        str
        """
        s = self.spec
        return (
            f"height={s.height!r}, orientations={s.orientations}, twidth={s.twidth}, "
            f"is_complex={s.is_complex}, tight_frame={s.tight_frame}, "
            f"synthesis={s.synthesis!r}, downsample={s.downsample}, "
            + (f"scales_per_octave={s.scales_per_octave}, " if s.scales_per_octave != 1 else "")
            + f"backend={self.backend!r}"
        )
