"""``pyramid_kernels.phase_ops``: the phase ops (the op family lives in ``ops/phase/``)."""

from .ops.phase.op import phase_extrapolate, phase_rotate

__all__ = ["phase_extrapolate", "phase_rotate"]
