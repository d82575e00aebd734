"""``pyramid_kernels.steering``: steer oriented bands to any angle (lives in ``core/``)."""

from .core.steering import steer, steering_weights

__all__ = ["steer", "steering_weights"]
