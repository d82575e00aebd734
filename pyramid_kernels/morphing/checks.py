"""The checks of a morph's inputs, labels and logits, each error naming the argument (used by
morph and probe_bands). Every read of a device value to the host goes through
:func:`host_read` (a replayed morph on CUDA reads twice: tests/ops/test_triton_structure.py)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .options import MorphOptions


def validate_inputs(model, x, options: MorphOptions) -> None:
    """Raise ValueError/TypeError naming the bad model or images of :func:`morph`."""
    if not callable(model):
        raise TypeError(f"model must be callable (an nn.Module or function), got {type(model)}")
    if isinstance(model, nn.Module) and model.training:
        raise ValueError(
            "model is in training mode; call model.eval() first (batch statistics "
            "would couple the images of a morph)"
        )
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError("x must be a floating torch.Tensor of shape (B, C, H, W) in [0, 1]")
    if x.dim() != 4:
        raise ValueError(
            f"x must have shape (B, C, H, W), got {tuple(x.shape)}; add a batch dim with x[None]"
        )
    if x.numel():
        lowest, highest = host_read(torch.stack(torch.aminmax(x.detach())))  # NaN propagates
        if not (math.isfinite(lowest) and math.isfinite(highest)):
            raise ValueError("x contains NaN or inf; morphs need finite images")
        if options.clamp is not None and (lowest < options.clamp[0] or highest > options.clamp[1]):
            raise ValueError(
                f"x has values in [{lowest:.4g}, {highest:.4g}], outside "
                f"clamp={options.clamp}: rescale the images to the clamp range, or pass "
                "clamp=(low, high) for their range (clamp=None morphs without clamping)"
            )
    if 0 in x.shape[1:]:
        raise ValueError(
            f"x has shape {tuple(x.shape)}: its images are empty; pass (B, C, H, W) images "
            "with C, H and W >= 1 (H and W >= 4 for a pyramid space)"
        )
    if options.color == "luminance" and x.shape[1] != 3:
        raise ValueError(f"color='luminance' needs RGB images (C = 3), got C = {x.shape[1]}")
    if options.cuda_graph and x.device.type != "cuda":
        raise ValueError(
            f"cuda_graph=True needs CUDA images, x is on {x.device}; move x and the model "
            "to a GPU, or pass cuda_graph=None"
        )


def host_read(values: Tensor) -> list:
    """``values`` on the host: the checks of a morph call read through here, once before its
    run and once after on the graph route (on CUDA each read waits for the device)."""
    return values.tolist()


def as_labels(value, batch: int, name: str, device) -> Tensor:
    if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
        return torch.full((batch,), value, device=device)  # a fill, not a host copy
    try:
        labels = torch.as_tensor(value, device=device)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(
            f"{name} must be an int or ({batch},) integer class indices, got {value!r}"
        ) from error
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"{name} must be integer class indices, got {labels.dtype}")
    labels = labels.long()
    if labels.dim() == 0:
        labels = labels.expand(batch)
    if labels.shape != (batch,):
        raise ValueError(f"{name} must be an int or shape ({batch},), got {tuple(labels.shape)}")
    return labels


def model_logits(model, images: Tensor) -> Tensor:
    out = model(images)
    if not isinstance(out, Tensor) or out.dim() != 2 or out.shape[0] != images.shape[0]:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(
            f"model must map (B, C, H, W) images to logits (B, classes); for "
            f"B = {images.shape[0]} it returned {shape}"
        )
    if not out.is_floating_point():
        raise ValueError(f"model must return floating logits, it returned {out.dtype}")
    return out


def out_of_range(classes: int, target: Tensor, source: Tensor | None) -> Tensor:
    """Whether target (or source, if given) holds a label outside [0, classes): a 0-d bool
    tensor, not read to the host."""
    labels = target if source is None else torch.cat([target, source])
    return ((labels < 0) | (labels >= classes)).any()


def check_classes(classes: int, target: Tensor, source: Tensor | None) -> None:
    """Raise ValueError unless target (and source, if given) are classes of the model: before
    any loss indexes logits by them (out of range, a GPU gather would abort the process)."""
    if out_of_range(classes, target, source):  # one read for both
        if out_of_range(classes, target, None):
            raise ValueError(
                f"target must be in [0, {classes}) for a model with {classes} classes, "
                f"got {target.tolist()}"
            )
        raise ValueError(f"source must be in [0, {classes}), got {source.tolist()}")


def check_run(logits: Tensor, target: Tensor, source: Tensor | None) -> None:
    """The checks of :func:`check_finite` and :func:`check_classes` in one host read, for a
    run whose labels are checked after it (the graph route); they run again, to name the
    error, only when one fails."""
    classes = logits.shape[1]
    bad_label = out_of_range(classes, target, source)
    if any(host_read(torch.stack([torch.isfinite(logits).all().logical_not(), bad_label]))):
        check_finite(logits)
        check_classes(classes, target, source)


def check_finite(logits: Tensor) -> None:
    if not torch.isfinite(logits).all():
        raise ValueError(
            "model returned NaN or inf logits for the input images; a morph needs finite "
            "logits (check the model on x, its input range and dtype)"
        )


def in_range(labels: Tensor, logits: Tensor) -> Tensor:
    """labels clamped to the classes of ``logits``: a no-op for checked labels; a run whose
    labels are checked after it (the graph route) must not index out of range (on a GPU an
    out-of-range gather aborts the process)."""
    return labels.clamp(0, logits.shape[-1] - 1)
