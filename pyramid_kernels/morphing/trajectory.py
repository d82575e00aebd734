"""The trajectory engine of a morph: groups of images with their edit space and source
gradient, their frames for a step scale, and the budget search over the whole batch."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..core.color import ColorEdit
from ..core.sizing import images_per_group
from ..io.progress import Progress
from .budget import BUDGET_TOLERANCE, search
from .checks import check_classes, check_finite, in_range, model_logits
from .options import MorphOptions
from .spaces import FourierSpace, PixelSpace, PyramidSpace


def input_gradient(total: Tensor, inputs: list[Tensor]) -> list[Tensor]:
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


def max_abs(grads: list[Tensor]) -> Tensor:
    """(B,) largest |g| per image over all parameter fields."""
    return torch.stack([g.flatten(1).abs().amax(1) for g in grads]).amax(0)


def scale_grads(grads: list[Tensor], u: Tensor) -> list[Tensor]:
    return [g * u.reshape(-1, *([1] * (g.dim() - 1))).to(g.dtype) for g in grads]


class MorphGroup:
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
        t = in_range(self.target, logits)[:, None]
        if self.o.loss == "nll":
            return -torch.log_softmax(logits, dim=1).gather(1, t)[:, 0]
        s = in_range(self.source, logits)[:, None]
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
            total = self.loss(model_logits(self.model, image)).sum()
            return input_gradient(total, params)

    def image_gradient(self, edited: Tensor, inspect: Callable | None = None) -> Tensor:
        """dL/d(edited channels) (B, C', H, W) of the image made from ``edited``."""
        with torch.enable_grad():
            edited = edited.detach().requires_grad_(True)
            logits = model_logits(self.model, self.to_image(edited, straight_through=True))
            if inspect is not None:
                inspect(logits.detach())
            return input_gradient(self.loss(logits).sum(), [edited])[0]

    def step_size(self, grads: list[Tensor], sigma: Tensor | None, peak=None) -> Tensor:
        """(n,) u for the gradients of n images (``peak``: their largest |g|, if known)."""
        o = self.o
        if o.amplification is not None:
            return torch.full((grads[0].shape[0],), float(o.amplification), device=self.x.device)
        peak = max_abs(grads) if peak is None else peak
        size = sigma if sigma is not None else torch.full_like(peak, o.phase_step)
        return torch.where(peak > 0, size / peak.clamp_min(1e-30), torch.zeros_like(peak))

    @functools.cached_property
    def source_peak(self) -> Tensor:
        """(B,) largest |g| of each image's source gradient (the budget search's every
        evaluation needs it)."""
        return max_abs(self.source_grads)

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
            for part, which, edited in space.extrapolate(
                scale_grads(grads, u), scales, group, images
            ):
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
            scaled = scale_grads(grads, u)
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
        step = scale_grads(scaled, tau)
        return self.to_image(space.render([p - g for p, g in zip(params, step, strict=True)]))

    def distance(self, frames: Tensor, x: Tensor | None = None) -> Tensor:
        """(T', n) pixel L2 distances of frames (T', n, C, H, W) from their inputs x (n, C, H,
        W) (default: the group's)."""
        return (frames - (self.x if x is None else x)).flatten(2).norm(dim=2)


def split_groups(groups: list[MorphGroup], values: Tensor | None):
    """(group, its slice of the batch, its part of the batch-wide ``values`` or None)."""
    start = 0
    for g in groups:
        part = slice(start, start + g.x.shape[0])
        yield g, part, None if values is None else values[part]
        start = part.stop


def last_distances(groups: list[MorphGroup], sigma: Tensor, active: Tensor) -> Tensor:
    """(B,) distances of the last frames at budget scales sigma (B,) from the inputs: the
    budget search's evaluation. Frozen morphs render the ``active`` images only (one read of
    the mask for the batch) and give NaN for the others; the iterative regimes' coarse search
    renders all (each trajectory is a whole morph)."""
    rows = active.nonzero()[:, 0].tolist() if groups[0].o.regime == "frozen" else None
    if rows is None or len(rows) == sigma.shape[0]:
        return cat([g.last_distance(v, None) for g, _, v in split_groups(groups, sigma)])
    out = torch.full_like(sigma, math.nan)
    for g, part, v in split_groups(groups, sigma):
        mine = [r - part.start for r in rows if part.start <= r < part.stop]
        if mine:
            index = torch.tensor(mine, device=sigma.device)
            out[index + part.start] = g.last_distance(v[index], index)
    return out


def morph_groups(
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

    def check_labels_of(logits: Tensor) -> None:  # the whole batch, on the first forward
        check_classes(logits.shape[1], target, source)

    groups = []
    for start in range(0, x.shape[0], group):
        part = slice(start, start + group)
        given = None if source is None else source[part]
        check = check_labels_of if check_labels and not groups else None
        groups.append(MorphGroup(model, x[part], target[part], given, options, budget, check))
    logits = cat([g.logits for g in groups])
    if check_labels:
        check_finite(logits)
    source = cat([g.source for g in groups])
    o = options
    attained = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
    sigma = None
    with torch.no_grad():
        if o.budget is not None:
            # iterative regimes refine the last step below, so a coarse scale is enough
            coarse = o.regime != "frozen"
            sigma, attained = search(
                functools.partial(last_distances, groups),
                o.budget,
                torch.full((x.shape[0],), 0.5, device=x.device),
                tolerance=0.02 * o.budget if coarse else BUDGET_TOLERANCE,
            )
        frames = x.new_empty((o.steps + 1, *x.shape))  # each group writes its frames here
        frames[0] = x
        runs = [
            g.frames(v, bar, out=frames[1:, part]) for g, part, v in split_groups(groups, sigma)
        ]
        step = cat([u for _, u in runs])
        if o.budget is not None and o.regime != "frozen":
            # the gradient changes along iterative trajectories, so the final distance can
            # jump with sigma: fix the earlier steps and search the last step's length
            tau, attained = search(
                lambda t, _: cat([g.last_step_distance(v) for g, _, v in split_groups(groups, t)]),
                o.budget,
                torch.ones_like(step),
            )
            for g, part, v in split_groups(groups, tau):
                frames[-1, part] = g.last_frame(v)
    return frames, step, attained, logits, source


def cat(parts: list[Tensor], dim: int = 0) -> Tensor:
    """torch.cat, without a copy for a single part (one group)."""
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=dim)


def target_probability(model, frames: Tensor, logits: Tensor, target: Tensor, per_forward: int):
    """((T, B) softmax probability of the target, (T, B) top-1 class) for every frame: the
    frames after the input are scored by forwards of ``per_forward`` images (frames x images
    flattened); frame 0 (the input) reuses its logits."""
    steps, batch = frames.shape[0] - 1, frames.shape[1]
    with torch.no_grad():
        rest = frames[1:].flatten(0, 1)
        probs = [torch.softmax(model_logits(model, c), 1) for c in rest.split(per_forward)]
        probs = torch.cat([torch.softmax(logits, 1), *probs]).reshape(steps + 1, batch, -1)
    index = in_range(target, logits)[None, :, None].expand(steps + 1, batch, 1)
    return probs.gather(2, index)[..., 0], probs.argmax(2)
