"""core.steering: the steering weights rotate the angular mask exactly and match plenoptic's."""

import math

import pytest
import torch

from pyramid_kernels.core.steering import steering_weights


@pytest.mark.parametrize("orientations", range(1, 9))
def test_steering_weights_rotate_the_angular_mask_exactly(orientations):
    theta = torch.linspace(-math.pi, math.pi, 257, dtype=torch.float64)
    angles = torch.tensor([0.0, 0.3, 1.7, -2.9], dtype=torch.float64)
    n = orientations - 1
    basis = torch.stack(
        [torch.cos(theta - math.pi * b / orientations) ** n for b in range(orientations)]
    )
    steered = steering_weights(orientations, angles) @ basis
    assert torch.allclose(steered, torch.cos(theta[None] - angles[:, None]) ** n, atol=1e-13)
    own = steering_weights(orientations, [math.pi * b / orientations for b in range(orientations)])
    assert torch.allclose(own, torch.eye(orientations, dtype=torch.float64), atol=1e-13)


def test_sine_phase_weights_match_plenoptic():
    from plenoptic.process.signal import _steer

    for k in range(1, 6):
        basis = torch.randn(1, 1, 3, 3, k, dtype=torch.float64)
        _, expected = _steer(basis, 0.7, even_phase=False)
        ours = steering_weights(k, [0.7], even_phase=False)[0]
        assert torch.allclose(ours, expected.flatten(), atol=1e-12), k
