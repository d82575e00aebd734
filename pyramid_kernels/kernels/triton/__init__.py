"""Triton kernels (CUDA; the interpreter on CPU tensors with TRITON_INTERPRET=1) behind the
backend contract of :class:`pyramid_kernels.backends.KernelBackend`.

Import this package only after deciding on TRITON_INTERPRET (tests set it to run on CPU).
"""

from .phase import phase_extrapolate, phase_rotate
from .spectral import analysis, synthesis

SYNTHESIS_CHUNK_BYTES = None  # the GPU collapses a whole batch at once

__all__ = ["SYNTHESIS_CHUNK_BYTES", "analysis", "phase_extrapolate", "phase_rotate", "synthesis"]
