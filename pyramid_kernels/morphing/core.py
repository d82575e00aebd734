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
import inspect
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..core.color import ColorEdit
from ..core.sizing import group_budget, images_per_forward, images_per_group
from ..io.progress import Progress
from ..models.class_names import (
    class_indices,
    class_name,
    is_runner_up,
    model_labels,
    runner_up,
)
from ..ops.backends import resolve_backend
from ..pyramid.module import SteerablePyramid
from .budget import BUDGET_TOLERANCE, search
from .graphs import FROZEN_GRAPHS
from .options import COLORS, EDITS, LOSSES, REGIMES, SPACES, MorphOptions
from .spaces import FourierSpace, PixelSpace, PyramidSpace

__all__ = ["COLORS", "EDITS", "LOSSES", "REGIMES", "SPACES", "MorphOptions", "MorphResult", "morph"]


@dataclass
class MorphResult:
    """Frames and scores of a morph (what :func:`pyramid_kernels.morph` returns).

    Parameters
    ----------
    frames : Tensor
        (steps + 1, B, C, H, W); frame 0 is the input.
    target_prob : Tensor
        (steps + 1, B) the model's softmax probability of the target.
    distance : Tensor
        (steps + 1, B) pixel L2 distance of each frame from the input.
    attained : Tensor
        (B,) bool; False for budget runs that could not reach the budget, and for images whose
        frames are not finite (the model's gradient was NaN or inf).
    step : Tensor
        (B,) the per-image step size u.
    target : Tensor
        (B,) int64 target classes.
    source : Tensor
        (B,) int64 source classes.
    top1 : Tensor
        (steps + 1, B) int64 the model's most likely class per frame.
    settings : dict
        The morph's options (:meth:`MorphOptions.settings`).
    labels : tuple of str or None
        The model's class names (``model.labels``), or None.
    """

    frames: Tensor
    target_prob: Tensor
    distance: Tensor
    attained: Tensor
    step: Tensor
    target: Tensor
    source: Tensor
    top1: Tensor
    settings: dict = field(default_factory=dict)
    labels: tuple[str, ...] | None = None

    def class_name(self, index: int) -> str:
        """The name of a class (its number when the model has no labels).

        Parameters
        ----------
        index : int
            A class index.

        Returns
        -------
        str
        """
        return class_name(self.labels, index)

    def __repr__(self) -> str:
        steps, batch = self.frames.shape[0] - 1, self.frames.shape[1]
        reached = int(self.attained.sum())
        last = ", ".join(f"{p:.2f}" for p in self.target_prob[-1, :4].tolist())
        return (
            f"MorphResult({batch} image(s) {tuple(self.frames.shape[2:])}, {steps} steps, "
            f"attained {reached}/{batch}, last-frame target p [{last}"
            f"{', ...' if batch > 4 else ''}], {self.frames.dtype})"
        )

    def coherence(
        self, gain: bool = True, frames: list[int] | None = None, progress: bool = False
    ) -> Tensor:
        """E of each frame: the share of its change from the input that a smooth warp of the
        input explains (:func:`pyramid_kernels.metrics.warp_explained`, 8x8 control grid).

        Parameters
        ----------
        gain : bool
            Warp times a smooth gain field (True) or warp only.
        frames : list of int or None
            Which frames (default: all).
        progress : bool
            Show a progress bar on stderr, one step per frame fitted.

        Returns
        -------
        Tensor
            (len(frames), B) float32 E in [0, 1]; NaN for frame 0 and any frame equal to the
            input or not finite (E is undefined there).
        """
        from ..metrics import warp_explained

        chosen = list(range(self.frames.shape[0])) if frames is None else list(frames)
        source = self.frames[0]
        out = torch.full((len(chosen), source.shape[0]), float("nan"))
        label = f"E fit, warp{' + gain' if gain else ''}"
        with Progress(len(chosen), label, enabled=progress, unit="frames") as bar:
            for row, t in enumerate(chosen):
                frame = self.frames[t]
                change = (frame - source).flatten(1).square().sum(1)
                ok = (change > 0) & torch.isfinite(frame).flatten(1).all(1)
                if ok.any():
                    out[row, ok] = warp_explained(source[ok], frame[ok], gain=gain).float().cpu()
                bar.update()
        return out

    def coherence_families(
        self, every_frame: bool = False, progress: bool = False
    ) -> dict[str, Tensor]:
        """E in both families, warp only and warp + gain (which also absorbs a smooth change of
        brightness, such as low-frequency haze, that no warp can make), of the last frame or of
        every frame.

        Parameters
        ----------
        every_frame : bool
            Fit every frame (about steps times the work) instead of the last one.
        progress : bool
            Show a progress bar per family on stderr.

        Returns
        -------
        dict of str to Tensor
            {"warp": (steps + 1, B), "warp+gain": (steps + 1, B)} float32; NaN where not
            fitted or undefined (see :meth:`coherence`).
        """
        count = self.frames.shape[0]
        chosen = list(range(1, count)) if every_frame else [count - 1]
        out = {}
        for name, gain in (("warp", False), ("warp+gain", True)):
            values = torch.full((count, self.frames.shape[1]), float("nan"))
            values[chosen] = self.coherence(gain, chosen, progress)
            out[name] = values
        return out

    def save(
        self,
        path,
        scale: int | None = None,
        captions: bool = True,
        coherence: bool | Tensor | dict = False,
    ) -> None:
        """Write the morph as a picture, atomically.

        Refuses frames that are not finite (they would be written as black pixels).

        Parameters
        ----------
        path : str or PathLike
            ``.gif`` (an animation, the batch side by side) or ``.png`` (a strip: one row per
            image, one column per frame). Missing folders are made.
        scale : int or None
            Integer upscaling factor (default: to about 128 pixels).
        captions : bool
            Head each PNG row with its source and target class and caption each frame with the
            target probability and the top class.
        coherence : bool, Tensor or dict
            Also caption frames with E: True fits the last frame in both families
            (:meth:`coherence_families`; about 0.5 s per family for a 224x224 frame on a
            CPU); or the values :meth:`coherence_families` or :meth:`coherence` returned.
        """
        from ..io.image_io import save_morph

        if scale is not None and (
            isinstance(scale, bool) or not isinstance(scale, int) or scale < 1
        ):
            raise ValueError(f"scale must be None or an int >= 1, got {scale!r}")
        if self.frames.numel() == 0:
            raise ValueError("this morph has no images to save (the batch was empty)")
        if not torch.isfinite(self.frames).all():
            bad = (~torch.isfinite(self.frames)).flatten(2).any(2).any(0).nonzero().flatten()
            raise ValueError(
                f"frames of images {bad.tolist()} contain NaN or inf (see attained); "
                "save the others with result.frames[:, good] and save_morph"
            )
        words = None
        if captions:
            if coherence is True:
                coherence = self.coherence_families()
            words = self.captions(coherence if coherence is not False else None)
        save_morph(path, self.frames, scale, words)

    def captions(self, coherence: Tensor | dict | None = None) -> tuple[list[str], list[list[str]]]:
        """The words a saved strip shows.

        Parameters
        ----------
        coherence : Tensor, dict or None
            E to show: (steps + 1, B) per frame (:meth:`coherence`), or both families
            (:meth:`coherence_families`, shown as warp / warp + gain), or None.

        Returns
        -------
        headings : list of str
            Per image, "source -> target".
        captions : list of list of str
            Per image and frame, "p=0.42 top=name" (the target's probability, the top class),
            with "E=0.24" (one family) or "E=0.12/0.24" (warp / warp + gain) between them when
            ``coherence`` is given, left out for frames whose E is undefined or not fitted.
        """
        headings = [
            f"{self.class_name(s)} -> {self.class_name(t)}"
            for s, t in zip(self.source.tolist(), self.target.tolist(), strict=True)
        ]
        probs, top = self.target_prob.T.tolist(), self.top1.T.tolist()
        if coherence is None:
            families = []
        elif isinstance(coherence, dict):
            families = [coherence["warp"].T.tolist(), coherence["warp+gain"].T.tolist()]
        else:
            families = [coherence.T.tolist()]
        frames = []
        for b, (row, classes) in enumerate(zip(probs, top, strict=True)):
            texts = []
            for t, (p, c) in enumerate(zip(row, classes, strict=True)):
                e = _e_text([values[b][t] for values in families])
                texts.append(f"p={p:.2f} {e}top={self.class_name(c)}")
            frames.append(texts)
        return headings, frames


def _e_text(values: list[float]) -> str:
    """ "E=0.12/0.24 " for the families' values of a frame; "" when none is a number."""
    if not values or all(v != v for v in values):
        return ""
    return "E=" + "/".join("-" if v != v else f"{v:.2f}" for v in values) + " "


def _validate_inputs(model, x, options: MorphOptions) -> None:
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
        lowest, highest = _host_read(torch.stack(torch.aminmax(x.detach())))  # NaN propagates
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


def _host_read(values: Tensor) -> list:
    """``values`` on the host: the checks of a morph call read through here, once before its
    run and once after on the graph route (on CUDA each read waits for the device)."""
    return values.tolist()


def _labels(value, batch: int, name: str, device) -> Tensor:
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


def _input_gradient(total: Tensor, inputs: list[Tensor]) -> list[Tensor]:
    """d total / d inputs; ValueError when the model's logits do not depend on the inputs."""
    grads = None
    if total.requires_grad:
        grads = torch.autograd.grad(total, inputs, allow_unused=True)
    if grads is None or any(g is None for g in grads):
        raise ValueError(
            "the model's logits carry no gradient to the image: the output does not depend on "
            "the input, or the forward detaches it (.detach(), torch.no_grad(), a NumPy round "
            "trip); morph needs a model differentiable in its input"
        )
    return list(grads)


def _logits(model, images: Tensor) -> Tensor:
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


def _max_abs(grads: list[Tensor]) -> Tensor:
    """(B,) largest |g| per image over all parameter fields."""
    return torch.stack([g.flatten(1).abs().amax(1) for g in grads]).amax(0)


def _scale(grads: list[Tensor], u: Tensor) -> list[Tensor]:
    return [g * u.reshape(-1, *([1] * (g.dim() - 1))).to(g.dtype) for g in grads]


class _Group:
    """Images morphed together (everything per image is independent): their edit space and
    source gradient, made on construction, and their frames for a step scale.

    The source gradient's forward sees the images themselves, so its logits are the source
    frame's (``self.logits``): ``source`` None is resolved from them (the model's prediction),
    and ``check(logits)`` (label checks, or None) runs on them before the loss.
    """

    def __init__(
        self,
        model,
        x,
        target,
        source,
        options: MorphOptions,
        budget: int | None,
        check: Callable | None = None,
    ):
        self.model, self.x, self.target, self.source, self.o = model, x, target, source, options
        self.color = ColorEdit(options.color, x)
        self.budget = budget
        self.source_space = self.space(self.color.edit)
        self.logits = None

        def labels(logits: Tensor) -> None:
            if check is not None:
                check(logits)
            self.logits = logits
            if self.source is None:
                self.source = logits.argmax(1)

        self.source_grads = self.gradient(self.source_space, at=self.color.edit, inspect=labels)
        self.last_state = None

    def space(self, edit_channels: Tensor):
        o = self.o
        if o.space == "pixel":
            return PixelSpace(edit_channels, o.joint, o.backend)
        if o.space == "fourier":
            return FourierSpace(edit_channels, o.joint, o.backend)
        return PyramidSpace(edit_channels, o.joint, o.backend, o.pyramid)

    def to_image(
        self,
        edited: Tensor,
        straight_through: bool = False,
        images: slice = slice(None),
        out: Tensor | None = None,
    ) -> Tensor:
        """Images (..., n, C, H, W) from edited channels of this group's ``images``: colour
        merged and clamped (``straight_through``: the clamp passes gradients), written into
        ``out`` when given."""
        image = self.color.merge(edited, images, out=out)
        if self.o.clamp is None:
            return image if out is None or image is out else out.copy_(image)
        if straight_through:
            return image + (image.clamp(*self.o.clamp) - image).detach()
        if image is out:
            return image.clamp_(*self.o.clamp)
        return torch.clamp(image, *self.o.clamp, out=out)

    def loss(self, logits: Tensor) -> Tensor:
        t = _in_range(self.target, logits)[:, None]
        if self.o.loss == "nll":
            return -torch.log_softmax(logits, dim=1).gather(1, t)[:, 0]
        s = _in_range(self.source, logits)[:, None]
        return logits.gather(1, s)[:, 0] - logits.gather(1, t)[:, 0]

    def gradient(
        self,
        space,
        params: list[Tensor] | None = None,
        at: Tensor | None = None,
        inspect: Callable[[Tensor], None] | None = None,
    ) -> list[Tensor]:
        """dL/dparams at ``params``, or at zero params (``params`` None), where the space
        renders ``at`` (the analysed image): the model then sees ``at`` bit for bit, not its
        re-synthesis, whose rounding (which differs with threads and backends) can flip a
        max-pool tie or a ReLU and move the gradient by percents, and the image gradient is
        pulled back without rendering (:meth:`pullback` of the space). ``inspect`` gets the
        forward's logits (detached) before the loss is taken."""
        if params is None:
            return space.pullback(self.image_gradient(at, inspect))
        params = [p.detach().requires_grad_(True) for p in params]
        with torch.enable_grad():
            image = self.to_image(space.render(params), straight_through=True)
            total = self.loss(_logits(self.model, image)).sum()
            return _input_gradient(total, params)

    def image_gradient(self, edited: Tensor, inspect: Callable | None = None) -> Tensor:
        """dL/d(edited channels) (B, C', H, W) of the image made from ``edited``."""
        with torch.enable_grad():
            edited = edited.detach().requires_grad_(True)
            logits = _logits(self.model, self.to_image(edited, straight_through=True))
            if inspect is not None:
                inspect(logits.detach())
            return _input_gradient(self.loss(logits).sum(), [edited])[0]

    def step_size(self, grads: list[Tensor], sigma: Tensor | None, peak=None) -> Tensor:
        """(n,) u for the gradients of n images (``peak``: their largest |g|, if known)."""
        o = self.o
        if o.amplification is not None:
            return torch.full((grads[0].shape[0],), float(o.amplification), device=self.x.device)
        peak = _max_abs(grads) if peak is None else peak
        size = sigma if sigma is not None else torch.full_like(peak, o.phase_step)
        return torch.where(peak > 0, size / peak.clamp_min(1e-30), torch.zeros_like(peak))

    @functools.cached_property
    def source_peak(self) -> Tensor:
        """(B,) largest |g| of each image's source gradient (the budget search's every
        evaluation needs it)."""
        return _max_abs(self.source_grads)

    def last_distance(self, sigma: Tensor, images: Tensor | None) -> Tensor:
        """(n,) distance from the input of the last frame of the group's ``images`` (n,)
        int64 indices, or all B for None) at budget scales ``sigma`` (n,): the budget search's
        evaluation, of the images still searched only (frozen regime)."""
        x = self.x if images is None else self.x[images]
        return self.distance(self.frames(sigma, last_only=True, images=images)[0], x)[-1]

    def frames(
        self,
        sigma: Tensor | None,
        progress: Progress | None = None,
        last_only: bool = False,
        out: Tensor | None = None,
        images: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """(frames (T', B, C, H, W), u (B,)) for a budget scale sigma or the knob's step,
        written into ``out`` when given; ``progress`` advances by the group's images at every
        step. ``images`` (frozen regime): only those (n,) of the group, sigma (n,) theirs.
        The iterative regimes keep the last step's state (space, params before it, its
        scaled gradient) so that :meth:`last_frame` can refine its length."""
        count = self.x.shape[0]
        o, steps = self.o, self.o.steps
        if out is None:
            n = count if images is None else images.shape[0]
            out = self.x.new_empty((1 if last_only else steps, n, *self.x.shape[1:]))
        if o.regime == "frozen":
            grads, peak = self.source_grads, self.source_peak
            if images is not None:
                grads, peak = [g[images] for g in grads], peak[images]
            u = self.step_size(grads, sigma, peak)
            first = steps if last_only else 1
            scales = torch.arange(first, steps + 1, dtype=self.x.dtype, device=self.x.device)
            space = self.source_space
            group = images_per_group(
                space.elements(), len(scales), 2 * self.x.element_size(), self.budget
            )
            for part, which, edited in space.extrapolate(_scale(grads, u), scales, group, images):
                self.to_image(edited, images=which, out=out[:, part])
            if progress is not None:
                progress.update(count * steps)
            return out, u
        u_first, space, params, analysed, current = None, self.source_space, None, None, None
        for k in range(steps):
            if o.regime == "live" and k:  # re-analyse the current image
                analysed = ColorEdit(o.color, current).edit
                space = self.space(analysed)
            if params is None or o.regime == "live":
                params = space.zeros()
            if k == 0:
                grads = self.source_grads
            elif o.regime == "live":
                grads = self.gradient(space, at=analysed)
            else:
                grads = self.gradient(space, params)
            u = self.step_size(grads, sigma)
            u_first = u if u_first is None else u_first
            scaled = _scale(grads, u)
            self.last_state = (space, params, scaled)
            params = [p - g for p, g in zip(params, scaled, strict=True)]
            slot = out[k] if not last_only else (out[0] if k == steps - 1 else None)
            if slot is not None or o.regime == "live":  # live re-analyses every frame
                with torch.no_grad():
                    current = self.to_image(space.render(params), out=slot)
            if progress is not None:
                progress.update(count)
        return out, u_first

    def last_step_distance(self, tau: Tensor) -> Tensor:
        """(B,) distance from the input of :meth:`last_frame` (tau)."""
        return self.distance(self.last_frame(tau)[None])[-1]

    def last_frame(self, tau: Tensor) -> Tensor:
        """(B, C, H, W): the last step of an iterative trajectory scaled by tau (B,)."""
        space, params, scaled = self.last_state
        step = _scale(scaled, tau)
        return self.to_image(space.render([p - g for p, g in zip(params, step, strict=True)]))

    def distance(self, frames: Tensor, x: Tensor | None = None) -> Tensor:
        """(T', n) pixel L2 distances of frames (T', n, C, H, W) from their inputs x (n, C, H,
        W) (default: the group's)."""
        return (frames - (self.x if x is None else x)).flatten(2).norm(dim=2)


def _split(groups: list[_Group], values: Tensor | None):
    """(group, its slice of the batch, its part of the batch-wide ``values`` or None)."""
    start = 0
    for g in groups:
        part = slice(start, start + g.x.shape[0])
        yield g, part, None if values is None else values[part]
        start = part.stop


def _last_distances(groups: list[_Group], sigma: Tensor, active: Tensor) -> Tensor:
    """(B,) distances of the last frames at budget scales sigma (B,) from the inputs: the
    budget search's evaluation. Frozen morphs render the ``active`` images only (one read of
    the mask for the batch) and give NaN for the others; the iterative regimes' coarse search
    renders all (each trajectory is a whole morph)."""
    rows = active.nonzero()[:, 0].tolist() if groups[0].o.regime == "frozen" else None
    if rows is None or len(rows) == sigma.shape[0]:
        return _cat([g.last_distance(v, None) for g, _, v in _split(groups, sigma)])
    out = torch.full_like(sigma, math.nan)
    for g, part, v in _split(groups, sigma):
        mine = [r - part.start for r in rows if part.start <= r < part.stop]
        if mine:
            index = torch.tensor(mine, device=sigma.device)
            out[index + part.start] = g.last_distance(v[index], index)
    return out


def _options_of(settings: dict, options: MorphOptions | None) -> MorphOptions:
    """``options``, or MorphOptions of the keyword ``settings`` (only one of the two)."""
    if options is None:
        return MorphOptions(**settings)
    if not isinstance(options, MorphOptions):
        raise TypeError(f"options must be MorphOptions, got {type(options).__name__}")
    defaults = inspect.signature(morph).parameters
    changed = [name for name, value in settings.items() if value is not defaults[name].default
               and value != defaults[name].default]  # fmt: skip
    if changed:
        raise ValueError(f"pass either options= or {', '.join(changed)}, not both")
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
    pyramid: SteerablePyramid | None = None,
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
    pyramid : SteerablePyramid or None
        A complex pyramid for ``space="csp"`` (default ``SteerablePyramid(backend=backend)``).
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
    _validate_inputs(model, x, options)
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
            target = runner_up(_logits(model, x))
    target = _labels(class_indices(target, names, "target"), x.shape[0], "target", x.device)
    if source is not None:
        source = _labels(class_indices(source, names, "source"), x.shape[0], "source", x.device)
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
            _check_run(outputs[-1], target, source)
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
    frames, step, attained, logits, source = _morph_groups(
        model, x, target, source, options, group, budget, progress, check_labels
    )
    distance = (frames - x).flatten(2).norm(dim=2)
    # never faked: a frame with NaN or inf has a NaN or inf distance
    attained = attained & torch.isfinite(distance).all(0)
    target_prob, top1 = _target_probability(model, frames, logits, target, per_forward)
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
    target = _labels(class_indices(target, names, "target"), 0, "target", x.device)
    if source is not None:
        source = _labels(class_indices(source, names, "source"), 0, "source", x.device)
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


def _out_of_range(classes: int, target: Tensor, source: Tensor | None) -> Tensor:
    """Whether target (or source, if given) holds a label outside [0, classes): a 0-d bool
    tensor, not read to the host."""
    labels = target if source is None else torch.cat([target, source])
    return ((labels < 0) | (labels >= classes)).any()


def _check_classes(classes: int, target: Tensor, source: Tensor | None) -> None:
    """Raise ValueError unless target (and source, if given) are classes of the model: before
    any loss indexes logits by them (out of range, a GPU gather would abort the process)."""
    if _out_of_range(classes, target, source):  # one read for both
        if _out_of_range(classes, target, None):
            raise ValueError(
                f"target must be in [0, {classes}) for a model with {classes} classes, "
                f"got {target.tolist()}"
            )
        raise ValueError(f"source must be in [0, {classes}), got {source.tolist()}")


def _check_run(logits: Tensor, target: Tensor, source: Tensor | None) -> None:
    """The checks of :func:`_check_finite` and :func:`_check_classes` in one host read, for a
    run whose labels are checked after it (the graph route); they run again, to name the
    error, only when one fails."""
    classes = logits.shape[1]
    out_of_range = _out_of_range(classes, target, source)
    if any(_host_read(torch.stack([torch.isfinite(logits).all().logical_not(), out_of_range]))):
        _check_finite(logits)
        _check_classes(classes, target, source)


def _check_finite(logits: Tensor) -> None:
    if not torch.isfinite(logits).all():
        raise ValueError(
            "model returned NaN or inf logits for the input images; a morph needs finite "
            "logits (check the model on x, its input range and dtype)"
        )


def _morph_groups(
    model,
    x,
    target,
    source,
    options: MorphOptions,
    group: int,
    budget,
    bar: Progress | None,
    check_labels: bool = False,
):
    """Morph ``group`` images at a time: (frames (T, B, C, H, W), step (B,), attained (B,),
    the source frame's logits (B, classes), source (B,)).

    Each group gets its edit space and source gradient first; the budget searches then run
    over the whole batch, so they synchronise once per round, not per group.
    """

    def check_classes(logits: Tensor) -> None:  # the whole batch, on the first forward
        _check_classes(logits.shape[1], target, source)

    groups = []
    for start in range(0, x.shape[0], group):
        part = slice(start, start + group)
        given = None if source is None else source[part]
        check = check_classes if check_labels and not groups else None
        groups.append(_Group(model, x[part], target[part], given, options, budget, check))
    logits = _cat([g.logits for g in groups])
    if check_labels:
        _check_finite(logits)
    source = _cat([g.source for g in groups])
    o = options
    attained = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
    sigma = None
    with torch.no_grad():
        if o.budget is not None:
            # iterative regimes refine the last step below, so a coarse scale is enough
            coarse = o.regime != "frozen"
            sigma, attained = search(
                functools.partial(_last_distances, groups),
                o.budget,
                torch.full((x.shape[0],), 0.5, device=x.device),
                tolerance=0.02 * o.budget if coarse else BUDGET_TOLERANCE,
            )
        frames = x.new_empty((o.steps + 1, *x.shape))  # each group writes its frames here
        frames[0] = x
        runs = [g.frames(v, bar, out=frames[1:, part]) for g, part, v in _split(groups, sigma)]
        step = _cat([u for _, u in runs])
        if o.budget is not None and o.regime != "frozen":
            # the gradient changes along iterative trajectories, so the final distance can
            # jump with sigma: fix the earlier steps and search the last step's length
            tau, attained = search(
                lambda t, _: _cat([g.last_step_distance(v) for g, _, v in _split(groups, t)]),
                o.budget,
                torch.ones_like(step),
            )
            for g, part, v in _split(groups, tau):
                frames[-1, part] = g.last_frame(v)
    return frames, step, attained, logits, source


def _cat(parts: list[Tensor], dim: int = 0) -> Tensor:
    """torch.cat, without a copy for a single part (one group)."""
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=dim)


def _target_probability(model, frames: Tensor, logits: Tensor, target: Tensor, per_forward: int):
    """((T, B) softmax probability of the target, (T, B) top-1 class) for every frame: the
    frames after the input are scored by forwards of ``per_forward`` images (frames x images
    flattened); frame 0 (the input) reuses its logits."""
    steps, batch = frames.shape[0] - 1, frames.shape[1]
    with torch.no_grad():
        rest = frames[1:].flatten(0, 1)
        probs = [torch.softmax(_logits(model, c), 1) for c in rest.split(per_forward)]
        probs = torch.cat([torch.softmax(logits, 1), *probs]).reshape(steps + 1, batch, -1)
    index = _in_range(target, logits)[None, :, None].expand(steps + 1, batch, 1)
    return probs.gather(2, index)[..., 0], probs.argmax(2)


def _in_range(labels: Tensor, logits: Tensor) -> Tensor:
    """labels clamped to the classes of ``logits``: a no-op for checked labels; a run whose
    labels are checked after it (the graph route) must not index out of range (on a GPU an
    out-of-range gather aborts the process)."""
    return labels.clamp(0, logits.shape[-1] - 1)
