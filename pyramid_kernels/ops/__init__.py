"""The registered ops, one folder per op family, each holding its op (``op.py``: registration,
autograd, vmap), its torch reference (``reference.py``), its C++ binding (``cpp.py`` and the
.cpp beside it) and its Triton kernels (``triton.py``):

- ``transform/``: ``pyramid_kernels::build`` and ``collapse`` (with ``pipeline``, the FFTs
  around the backends' spectral stages, ``levels``, the per-level stages, and ``bands``, the
  band-level access of band editors);
- ``phase/``: ``pyramid_kernels::phase_rotate`` and ``phase_extrapolate``;
- ``magnify/``: ``pyramid_kernels::magnify_iir``, the fused causal magnification chain.

Each family also holds its kernel contract and dispatch (``kernels.py``: a Protocol that
every backend's module provides, and the function that picks one through
:func:`backends.family_kernels`). ``backends`` says which backends run where and imports no
family; ``registration`` holds what the ops share (autograd, vmap, fake kernels). The C++
sources are in the top-level ``csrc/``, laid out by family like this folder.
"""

from .magnify.op import magnify_iir
from .phase.op import phase_extrapolate, phase_rotate
from .transform.bands import analyze_bands, edit_bands
from .transform.op import build_op, collapse_op, collapse_vjp

__all__ = [
    "analyze_bands",
    "edit_bands",
    "build_op",
    "collapse_op",
    "collapse_vjp",
    "magnify_iir",
    "phase_extrapolate",
    "phase_rotate",
]
