"""The magnification op family: ``pyramid_kernels::magnify_iir`` (op.py) and its kernels."""
