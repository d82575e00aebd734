"""core.spec: PyramidSpec resolves per size once and still checks its arguments."""

import pytest

from pyramid_kernels.core.spec import PyramidSpec


def test_spec_resolution_is_cached_and_still_checked():
    """resolve() and op_args() run on every build: made once per spec and size; a bad size
    still raises every time (exceptions are not cached)."""
    spec = PyramidSpec(height="auto", orientations=4)
    first = spec.resolve((64, 48))
    assert first is spec.resolve((64, 48)) and first.height == 3  # log2(48) - 2
    assert first.op_args() is first.op_args()
    assert PyramidSpec.from_op_args(first.op_args()) == first
    for _ in range(2):
        with pytest.raises(ValueError, match="too large"):
            PyramidSpec(height=4).resolve((64, 48))
    with pytest.raises(ValueError, match="needs a resolved spec"):
        spec.op_args()
