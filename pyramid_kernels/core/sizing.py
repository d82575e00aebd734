"""How much work a morph does at a time, by device.

The frozen regime extrapolates and collapses all frames of a group of images at once, and the
frames are scored by model forwards over frames x images. On CPU the groups are cache-sized
(CPU_GROUP_ELEMENTS complex coefficients over all frames of a group, so the intermediates stay
in cache and under the allocator's fresh-mapping threshold). On CUDA they are sized by a memory
budget, ``MorphOptions.group_bytes`` or by default a quarter of the device memory free when the
morph starts, so a batch of thousands of small images is a handful of launches per stage.
"""

from __future__ import annotations

import torch

CPU_GROUP_ELEMENTS = 1 << 21
CUDA_FREE_FRACTION = 0.25  # default group budget: this fraction of the free device memory
# bytes a frozen group holds per coefficient byte of its frames: the extrapolated bands, their
# spectra, the merged spectrum and the collapsed image, with slack
INTERMEDIATES = 4
# a model forward is given at most budget / (ACTIVATIONS x image bytes) images at a time
ACTIVATIONS = 64


def group_budget(device: torch.device, group_bytes: int | None) -> int | None:
    """The byte budget of a group on ``device`` (None: CPU, cache-sized groups)."""
    if group_bytes is not None:
        return group_bytes
    if device.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(device)
    return int(CUDA_FREE_FRACTION * free)


def images_per_group(elements: int, frames: int, element_bytes: int, budget: int | None) -> int:
    """Images whose ``frames`` frames of ``elements`` coefficients each fit one group."""
    per_image = elements * frames
    if budget is None:
        return max(1, CPU_GROUP_ELEMENTS // per_image)
    return max(1, budget // (per_image * element_bytes * INTERMEDIATES))


def images_per_forward(image_bytes: int, images: int, budget: int | None) -> int:
    """Images per model forward when scoring the frames (``images`` per frame): one frame's
    batch on CPU; on CUDA as many as the budget allows, at least one frame's batch."""
    if budget is None:
        return images
    return max(images, budget // (ACTIVATIONS * image_bytes))
