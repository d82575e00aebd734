"""The registered ops, one folder per op family, each holding its op (``op.py``: registration,
autograd, vmap), its torch reference (``reference.py``), its C++ binding (``cpp.py`` and the
.cpp beside it) and its Triton kernels (``triton.py``):

- ``transform/``: ``pyramid_kernels::build`` and ``collapse`` (with ``pipeline``, the FFTs
  around the backends' spectral stages, and ``levels``, the per-level stages);
- ``phase/``: ``pyramid_kernels::phase_rotate`` and ``phase_extrapolate``;
- ``magnify/``: ``pyramid_kernels::magnify_iir``, the fused causal magnification chain.

``backends`` says which backends run where and gathers one backend's kernels from every
family; ``registration`` holds what the ops share (autograd, vmap, fake kernels).
"""

from .magnify.op import magnify_iir
from .phase.op import phase_extrapolate, phase_rotate
from .transform.op import build_op, collapse_op, collapse_vjp

__all__ = [
    "build_op",
    "collapse_op",
    "collapse_vjp",
    "magnify_iir",
    "phase_extrapolate",
    "phase_rotate",
]
