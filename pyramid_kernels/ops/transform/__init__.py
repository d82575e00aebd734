"""The transform op family: ``pyramid_kernels::build`` and ``collapse`` (op.py), the FFTs around
the spectral stages (pipeline.py), the per-level stages (levels.py) and their kernels."""
