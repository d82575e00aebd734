"""pyramid_kernels: a fast, exact, differentiable complex steerable pyramid for PyTorch."""

from . import data, metrics, models
from ._version import __version__ as __version__
from .backends import available_backends
from .generating import generate
from .magnifying import Magnifier, magnify
from .module import SteerablePyramid
from .morphing import BandProbe, MorphResult, morph, probe_bands
from .pyramid import Pyramid, build, collapse
from .spec import PyramidSpec, max_height

__all__ = [
    "BandProbe",
    "Magnifier",
    "MorphResult",
    "Pyramid",
    "PyramidSpec",
    "SteerablePyramid",
    "available_backends",
    "build",
    "collapse",
    "data",
    "generate",
    "magnify",
    "metrics",
    "models",
    "morph",
    "max_height",
    "probe_bands",
]
