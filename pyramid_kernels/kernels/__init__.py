"""Kernel backends behind the contract in :mod:`pyramid_kernels.backends`: the pure-torch
``reference``, the C++ CPU kernels (``cpp``) and the Triton kernels (``triton``)."""
