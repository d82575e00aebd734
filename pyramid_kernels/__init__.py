"""pyramid_kernels: a fast, exact, differentiable complex steerable pyramid for PyTorch."""

from . import data, io, metrics, models
from ._version import __version__ as __version__
from .core.spec import PyramidSpec, max_height
from .generating import GenerateOptions, generate
from .magnifying import Magnifier, MagnifyOptions, magnify
from .morphing import BandProbe, MorphOptions, MorphResult, morph, probe_bands
from .ops.backends import available_backends
from .pyramid.functional import Pyramid, build, collapse
from .pyramid.module import SteerablePyramid

__all__ = [
    "BandProbe",
    "GenerateOptions",
    "MagnifyOptions",
    "Magnifier",
    "MorphOptions",
    "MorphResult",
    "Pyramid",
    "PyramidSpec",
    "SteerablePyramid",
    "available_backends",
    "build",
    "collapse",
    "data",
    "generate",
    "io",
    "magnify",
    "metrics",
    "models",
    "morph",
    "max_height",
    "probe_bands",
]
