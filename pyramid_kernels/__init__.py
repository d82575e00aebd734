"""pyramid_kernels: a fast, exact, differentiable complex steerable pyramid for PyTorch."""

from .backends import available_backends
from .module import SteerablePyramid
from .pyramid import Pyramid, build, collapse
from .spec import PyramidSpec, max_height

__all__ = [
    "Pyramid",
    "PyramidSpec",
    "SteerablePyramid",
    "available_backends",
    "build",
    "collapse",
    "max_height",
]
__version__ = "0.1.0"
