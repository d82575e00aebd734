"""Drop-in interfaces of other pyramid libraries, built on this library's kernels."""
