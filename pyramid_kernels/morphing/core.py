"""Steerable Lens morphs: move images toward a target class along a classifier's gradient,
taken in pixel, global-Fourier or complex-steerable-pyramid coordinates.

A step moves the space's parameters q (phases delta, and log-amplitudes eta for edit="joint";
pixel values for space="pixel") by -u * g, with g = dL/dq the gradient of the class loss and u a
per-image step size:
    amplification=a   u = a                         (raw gradient x factor, as in the paper)
    phase_step=p      u = p / max|g|                (largest parameter change per step; radians)
    budget=b          u = sigma / max|g|, sigma searched (budget.py) so that the last frame's
                      pixel L2 distance from the input is b (within 1e-3); images that cannot
                      reach b are reported in ``result.attained`` and keep their closest frames.
Regimes: "frozen" computes g once at the source and extrapolates linearly (q_k = -k u g, all
frames in one fused pass: the paper's method); "anchored" refreshes g at every step while the
increments stay on the source decomposition; "live" re-analyses the current image every step.
With a budget, the iterative regimes then fix the earlier steps and search the length of the
last one (the gradient changes along the trajectory, so the end point can jump with sigma).
Each gradient is one forward and one backward of the model; the clamp passes gradients
straight through. In luminance mode I and Q stay at the source's values.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from ..core.options import check_options, keyword_defaults
from ..core.sizing import group_budget, images_per_forward
from ..core.spec import PyramidSpec
from ..io.progress import Progress
from ..models.class_names import (
    class_indices,
    is_runner_up,
    model_labels,
    runner_up,
)
from ..ops.backends import resolve_backend
from ..pyramid.module import SteerablePyramid
from .checks import as_labels, check_run, model_logits, validate_inputs
from .graphs import FROZEN_GRAPHS
from .options import COLORS, EDITS, LOSSES, REGIMES, SPACES, MorphOptions
from .result import MorphResult
from .trajectory import morph_groups, target_probability

__all__ = ["COLORS", "EDITS", "LOSSES", "REGIMES", "SPACES", "MorphOptions", "MorphResult", "morph"]


def _options_of(settings: dict, options: MorphOptions | None) -> MorphOptions:
    """``options``, or MorphOptions of the keyword ``settings`` (only one of the two)."""
    if options is None:
        return MorphOptions(**settings)
    check_options(options, MorphOptions, settings, keyword_defaults(morph))
    return options


def morph(
    model: Callable[[Tensor], Tensor],
    x: Tensor,
    target,
    *,
    source=None,
    space: str = "csp",
    edit: str = "phase",
    loss: str = "nll",
    regime: str = "frozen",
    steps: int = 11,
    amplification: float | None = None,
    phase_step: float | None = None,
    budget: float | None = None,
    pyramid: SteerablePyramid | PyramidSpec | None = None,
    color: str | None = None,
    clamp: Sequence[float] | None = (0.0, 1.0),
    chunk_size: int | None = None,
    group_bytes: int | None = None,
    backend: str = "auto",
    cuda_graph: bool | None = None,
    progress: bool = False,
    options: MorphOptions | None = None,
) -> MorphResult:
    """Morph images toward a target class of a classifier (Steerable Lens).

    Decompose each image, take the gradient of a class loss with respect to the edit space's
    parameters (phases of the complex coefficients by default), extrapolate, and render each
    step back into an image. The library's part gives the same frames for every chunking and
    grouping (to float rounding); only a model whose outputs depend on the other images of its
    batch can make them differ. An empty batch gives an empty result.

    On CUDA a frozen morph without a budget is launch-bound for small batches, so by default
    its second call with the same shapes, model and options captures it in a CUDA graph and
    later calls replay it (``pk.morphing.clear_cuda_graphs()`` frees the graphs' memory).

    Parameters
    ----------
    model : callable
        Maps (B, C, H, W) images to logits (B, classes); an ``nn.Module`` must be in eval mode.
        A model with a ``labels`` attribute (the embedded ones) lets targets be class names.
    x : Tensor
        (B, C, H, W) floating images inside ``clamp`` (default [0, 1]).
    target : int, str, sequence or Tensor
        The class to morph toward: one for all images or one per image, as indices or names.
    source : int, str, sequence, Tensor or None
        The source class (used by ``loss="margin"``); default: the model's prediction on x.
    space : {"csp", "fourier", "pixel"}
        Edit space: complex steerable pyramid, global DFT (Hermitian-consistent), or pixels.
    edit : {"phase", "joint"}
        Edit phases only, or phases and log-amplitudes ("joint" needs a phase space).
    loss : {"nll", "margin"}
        Class loss: negative log-likelihood of the target, or source logit - target logit.
    regime : {"frozen", "anchored", "live"}
        One gradient and linear extrapolation (the paper's method); a gradient refreshed every
        step on the source decomposition; or re-analysis of every frame.
    steps : int
        Frames after the input (T = steps + 1 frames in all).
    amplification : float or None
        Step control: the raw gradient times this factor per step.
    phase_step : float or None
        Step control: the largest parameter change per step, in radians (default 0.2 when no
        step control is given).
    budget : float or None
        Step control: the last frame's pixel L2 distance from the input (within 1e-3), found by
        a safeguarded root search (``morphing/budget.py``).
    pyramid : SteerablePyramid, PyramidSpec or None
        A complex pyramid for ``space="csp"``, as a module or its spec (as in
        :func:`pyramid_kernels.magnify`); default ``SteerablePyramid(backend=backend)``.
    color : {"rgb", "luminance"} or None
        Edit every channel, or the Y of YIQ only (chroma kept; needs 3 channels); None (the
        default): luminance for RGB images, every channel otherwise, as the command line.
    clamp : (float, float) or None
        Frames are clamped to this range (None: no clamping).
    chunk_size : int or None
        Morph that many images at a time (bounded memory; the same frames).
    group_bytes : int or None
        Memory budget of the frozen frames' groups and the scoring forwards (default:
        cache-sized on CPU, a quarter of the free device memory on CUDA; the same frames).
    backend : {"auto", "torch", "cpp", "triton"}
        The pyramid kernels.
    cuda_graph : bool or None
        None: capture frozen budget-free morphs of an ``nn.Module`` in a CUDA graph on their
        second call and replay them after (CUDA only). True: also for plain functions.
        False: never.
    progress : bool
        Show a progress bar.
    options : MorphOptions, optional
        Every setting above (``space`` to ``cuda_graph``) as one validated object, instead of
        the keywords (which must then be left at their defaults).

    Returns
    -------
    MorphResult

    Examples
    --------
    >>> import pyramid_kernels as pk
    >>> model = pk.models.load("digits-driver")
    >>> x, _ = pk.data.digits("test")
    >>> r = pk.morph(model, x[:4], target=8, steps=5, budget=2.0)
    >>> tuple(r.frames.shape), bool(r.attained.all())
    ((6, 4, 1, 32, 32), True)
    """
    given = locals()  # the keywords, read once (a comprehension has its own locals)
    settings = {f.name: given[f.name] for f in dataclasses.fields(MorphOptions)}
    options = _options_of(settings, options)
    validate_inputs(model, x, options)
    concrete = resolve_backend(options.backend, x.device.type)
    options = dataclasses.replace(
        options,
        backend=concrete,
        pyramid=options.pyramid or SteerablePyramid(backend=concrete),
        color=options.color_for(x.shape[1]),
    )
    x = x.float() if x.dtype not in (torch.float32, torch.float64) else x
    if x.shape[0] == 0:
        return _empty_result(x, target, source, options, model_labels(model))
    group = options.chunk_size or x.shape[0]
    names = model_labels(model)
    if is_runner_up(target):  # one forward more, before any morph work
        with torch.no_grad():
            target = runner_up(model_logits(model, x))
    target = as_labels(class_indices(target, names, "target"), x.shape[0], "target", x.device)
    if source is not None:
        source = as_labels(class_indices(source, names, "source"), x.shape[0], "source", x.device)
    budget = group_budget(x.device, options.group_bytes)
    image_bytes = x[0].numel() * x.element_size()
    per_forward = options.chunk_size or images_per_forward(image_bytes, x.shape[0], budget)
    run = functools.partial(
        _run, model, options=options, group=group, budget=budget, per_forward=per_forward
    )
    label = f"morph {options.space}/{options.edit}/{options.regime}"
    # progress counts image steps, so a single image's long iterative morph shows its steps
    with Progress(x.shape[0] * options.steps, label, enabled=progress) as bar:
        if _graphed(model, x, options):  # labels checked after the run, on its logits
            key = _graph_key(model, x, source is None, options)
            if source is None:
                inputs, graphed = (x.detach(), target), lambda x, t: run(x, t, None)
            else:
                inputs, graphed = (x.detach(), target, source), run
            outputs = FROZEN_GRAPHS.run(key, graphed, inputs, owner=model)
            check_run(outputs[-1], target, source)
            bar.update(x.shape[0] * options.steps)
        else:  # labels checked on the source gradient's forward, before its loss
            outputs = run(x, target, source, progress=bar, check_labels=True)
    frames, target_prob, top1, distance, attained, step, source, _ = outputs
    return MorphResult(
        frames,
        target_prob,
        distance,
        attained,
        step,
        target,
        source,
        top1,
        options.settings(),
        names[0] if names else None,
    )


def _run(
    model,
    x: Tensor,
    target: Tensor,
    source: Tensor | None,
    *,
    options: MorphOptions,
    group: int,
    budget: int | None,
    per_forward: int,
    progress: Progress | None = None,
    check_labels: bool = False,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The morph after its inputs are checked: (frames, target_prob, top1, distance,
    attained, step, source, the source frame's logits). ``source`` None is the model's prediction;
    ``check_labels`` checks the labels and logits on the source gradients' forwards (two
    reads for the whole batch; else the caller checks the returned logits). Without it, for
    the frozen regime without a budget, it never synchronises with the host nor copies from
    it (what CUDA-graph capture needs; tests/ops/test_triton_structure.py)."""
    frames, step, attained, logits, source = morph_groups(
        model, x, target, source, options, group, budget, progress, check_labels
    )
    distance = (frames - x).flatten(2).norm(dim=2)
    # never faked: a frame with NaN or inf has a NaN or inf distance
    attained = attained & torch.isfinite(distance).all(0)
    target_prob, top1 = target_probability(model, frames, logits, target, per_forward)
    return frames, target_prob, top1, distance, attained, step, source, logits


def _graphed(model, x: Tensor, options: MorphOptions) -> bool:
    """Whether this morph runs through :data:`graphs.FROZEN_GRAPHS` (see MorphOptions)."""
    if options.cuda_graph is False or x.device.type != "cuda":
        return False
    if options.regime != "frozen" or options.budget is not None:
        return False
    if torch.cuda.is_current_stream_capturing() or torch._C._are_functorch_transforms_active():
        return False  # the caller captures or transforms the morph itself
    return bool(options.cuda_graph) or isinstance(model, nn.Module)


def _graph_key(model, x: Tensor, default_source: bool, options: MorphOptions) -> tuple:
    """Everything a captured morph depends on besides the values of x, target and source:
    the model object and where its parameters and buffers live (a replaced tensor means a
    new capture; values changed in place are read by the replay), the shapes, whether the
    source is the model's prediction, the options and the autocast state. The free-memory
    group budget is left out: grouping changes frames only by float rounding."""
    state = ()
    if isinstance(model, nn.Module):
        tensors = itertools.chain(model.parameters(), model.buffers())
        state = tuple((t.data_ptr(), t.dtype, tuple(t.shape)) for t in tensors)
    pyramid = options.pyramid
    settings = tuple(sorted(options.settings().items()))
    autocast = (torch.is_autocast_enabled("cuda"), torch.get_autocast_dtype("cuda"))
    shapes = (tuple(x.shape), x.dtype, x.device, default_source)
    return (id(model), state, shapes, settings, type(pyramid), pyramid.spec, autocast)


def _empty_result(x: Tensor, target, source, options: MorphOptions, names) -> MorphResult:
    """The morph of an empty batch: correctly shaped empty tensors."""
    frames = x.new_empty((options.steps + 1, *x.shape))
    target = as_labels(class_indices(target, names, "target"), 0, "target", x.device)
    if source is not None:
        source = as_labels(class_indices(source, names, "source"), 0, "source", x.device)
    source = target if source is None else source
    none = x.new_empty((options.steps + 1, 0))
    empty = x.new_empty(0, dtype=torch.bool)
    top1 = torch.empty((options.steps + 1, 0), dtype=torch.int64, device=x.device)
    return MorphResult(
        frames,
        none,
        none.clone(),
        empty,
        x.new_empty(0),
        target,
        source,
        top1,
        options.settings(),
        names[0] if names else None,
    )
