"""The phase op family: ``pyramid_kernels::phase_rotate`` and ``phase_extrapolate`` (op.py) and
their kernels."""
