"""Frozen single-band probes: which pyramid bands carry a classifier's class-sensitive phase
direction (``pk.probe_bands``).

For each band (level l, orientation k) of a complex steerable pyramid of the image, the image
is moved along the phase gradient of the target-minus-source logit margin m restricted to that
band (the phases of every other band and both residuals fixed), to pixel L2 distance ``l2``,
and the change of m is recorded; then the same for ``n_random`` Gaussian phase directions in
the same band at the same distance. The band's *advantage* is the gradient's change minus the
random directions' mean change: large where the model's sensitive direction lives in the band,
about zero where moving the band's phases at that distance does nothing special.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..core.color import ColorEdit
from ..models.class_names import class_indices, class_name, is_runner_up, model_labels, runner_up
from ..ops.backends import resolve_backend
from ..ops.phase.op import phase_rotate
from ..pyramid.functional import Pyramid, collapse
from ..pyramid.module import SteerablePyramid
from .checks import as_labels, model_logits, validate_inputs
from .options import MorphOptions
from .spaces import PyramidSpace

DISTANCE_ROUNDS = 4  # rescalings of each direction toward the distance l2
DIRECTIONS_PER_PASS = 32  # directions rendered and scored together (bounds memory)


@dataclass
class BandProbe:
    """What :func:`probe_bands` returns.

    Parameters
    ----------
    advantage : Tensor
        (B, levels, orientations) margin change along the band's gradient minus the mean
        change along random phase directions of the band.
    gradient_change : Tensor
        (B, levels, orientations) margin change along the band's gradient.
    random_change : Tensor
        (B, levels, orientations, n_random) margin change along each random direction.
    distance : Tensor
        (B, levels, orientations, 1 + n_random) pixel L2 distance of each probed image from
        the input (the gradient's first): ``l2`` up to the clamp's and the phase's curvature.
    margin : Tensor
        (B,) the input's target-minus-source logit margin.
    source, target : Tensor
        (B,) int64 classes.
    l2 : float
        The requested distance.
    labels : tuple of str or None
        The model's class names.
    """

    advantage: Tensor
    gradient_change: Tensor
    random_change: Tensor
    distance: Tensor
    margin: Tensor
    source: Tensor
    target: Tensor
    l2: float
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

    def peak(self) -> list[tuple[int, int]]:
        """The (level, orientation) of the largest advantage, per image.

        Returns
        -------
        list of (int, int)
        """
        flat = self.advantage.flatten(1).argmax(1)
        k = self.advantage.shape[2]
        return [(int(i) // k, int(i) % k) for i in flat]

    def save(self, path: str | Path) -> Path:
        """A heat map per image (levels x orientations, value = advantage) as PNG, atomically.

        Parameters
        ----------
        path : str or PathLike
            A ``.png`` file.

        Returns
        -------
        Path
        """
        from ..io.image_io import write_atomic

        path = Path(path)
        if path.suffix.lower() != ".png":
            raise ValueError(f"path must end in .png, got {path.name!r}")
        return write_atomic(path, self._figure)

    def _figure(self, tmp: str) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        batch, levels, orientations = self.advantage.shape
        fig, axes = plt.subplots(
            1, batch, figsize=(1.2 + 0.7 * orientations * batch, 0.9 + 0.55 * levels),
            squeeze=False,
        )  # fmt: skip
        for b, ax in enumerate(axes[0]):
            values = self.advantage[b].double().cpu().numpy()
            bound = max(abs(values).max(), 1e-12)
            shown = ax.imshow(values, cmap="RdBu_r", vmin=-bound, vmax=bound)
            for (i, j), v in ((ij, values[ij]) for ij in _cells(levels, orientations)):
                ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=6)
            ax.set_xticks(range(orientations))
            ax.set_yticks(range(levels))
            ax.set_xlabel("orientation", fontsize=7)
            ax.set_ylabel("level (0 = finest)", fontsize=7)
            source, target = int(self.source[b]), int(self.target[b])
            ax.set_title(f"{self.class_name(source)} -> {self.class_name(target)}", fontsize=7)
            fig.colorbar(shown, ax=ax, fraction=0.05)
        fig.suptitle(
            f"margin advantage of each band's phase gradient\nover random phase directions "
            f"(image L2 {self.l2:g})",
            fontsize=7,
        )
        fig.tight_layout()
        fig.savefig(tmp, format="png", dpi=150)
        plt.close(fig)


def _cells(rows: int, cols: int):
    return [(i, j) for i in range(rows) for j in range(cols)]


def probe_bands(
    model,
    x: Tensor,
    target,
    *,
    l2: float = 0.5,
    n_random: int = 8,
    pyramid: SteerablePyramid | None = None,
    source=None,
    color: str | None = None,
    clamp: tuple[float, float] | None = (0.0, 1.0),
    seed: int = 0,
) -> BandProbe:
    """Frozen single-band probes of a classifier at images ``x`` (module docstring).

    Parameters
    ----------
    model : callable
        (B, C, H, W) images -> logits (B, classes); an nn.Module must be in eval mode.
    x : Tensor
        (B, C, H, W) floating images inside ``clamp``.
    target : int, str, sequence or Tensor
        The target class, one for all images or one per image (names need ``model.labels``),
        or "runner-up": each image's second most likely class.
    l2 : float
        Pixel L2 distance of every probed image from its input (> 0).
    n_random : int
        Random phase directions per band (>= 1).
    pyramid : SteerablePyramid or None
        A complex pyramid (default ``SteerablePyramid()``).
    source : int, str, sequence, Tensor or None
        The source class of the margin (default: the model's prediction on x).
    color : {"rgb", "luminance"} or None
        Probe the phases of every channel, or of the Y of YIQ only; None (the default):
        luminance for RGB images, every channel otherwise.
    clamp : (float, float) or None
        Probed images are clamped to this range.
    seed : int
        Seed of the random directions.

    Returns
    -------
    BandProbe
        ``.advantage`` (B, levels, orientations) and a heat map ``.save(path)``.
    """
    options = MorphOptions(color=color, clamp=clamp, pyramid=pyramid)
    validate_inputs(model, x, options)
    color = options.color_for(x.shape[1])
    if (
        isinstance(l2, bool)
        or not isinstance(l2, (int, float))
        or not (math.isfinite(l2) and l2 > 0)
    ):
        raise ValueError(f"l2 must be a finite number > 0, got {l2!r}")
    if isinstance(n_random, bool) or not isinstance(n_random, int) or n_random < 1:
        raise ValueError(f"n_random must be an int >= 1, got {n_random!r}")
    x = x.float() if x.dtype not in (torch.float32, torch.float64) else x
    backend = resolve_backend("auto", x.device.type)
    pyramid = options.pyramid or SteerablePyramid(backend=backend)
    names = model_labels(model)
    batch = x.shape[0]
    with torch.no_grad():
        logits = model_logits(model, x)
    if is_runner_up(target):
        target = runner_up(logits)
    target = as_labels(class_indices(target, names, "target"), batch, "target", x.device)
    if source is None:
        source = logits.argmax(1)
    else:
        source = as_labels(class_indices(source, names, "source"), batch, "source", x.device)
    for name, labels in (("target", target), ("source", source)):
        if ((labels < 0) | (labels >= logits.shape[1])).any():
            raise ValueError(f"{name} must be in [0, {logits.shape[1]}), got {labels.tolist()}")
    same = (source == target).nonzero().flatten().tolist()
    if same:
        raise ValueError(
            f"target equals the source class for images {same[:10]}: their target-minus-source "
            "margin is 0 everywhere; pick another target (or pass source)"
        )
    color_edit = ColorEdit(color, x)
    space = PyramidSpace(color_edit.edit, False, pyramid.backend, pyramid)

    def margin(images: Tensor, which: Tensor) -> Tensor:
        out = model_logits(model, images)
        return out.gather(1, target[which, None])[:, 0] - out.gather(1, source[which, None])[:, 0]

    with torch.enable_grad():
        start = x.detach().clone().requires_grad_(True)
        (image_grad,) = torch.autograd.grad(margin(start, torch.arange(batch)).sum(), start)
    if color == "luminance":  # the Y channel's gradient: chain rule through the merge
        image_grad = torch.einsum("c,bchw->bhw", color_edit.luma[:, 0, 0], image_grad)[:, None]
    phase_grads = space.pullback(image_grad)  # d margin / d phase, per level
    with torch.no_grad():
        base = margin(x, torch.arange(batch))
        probe = _Prober(space, color_edit, options.clamp, x, margin)
        generator = torch.Generator().manual_seed(seed)
        shape = (batch, len(phase_grads), phase_grads[0].shape[2])
        change = x.new_zeros(*shape, 1 + n_random)
        distance = x.new_zeros(*shape, 1 + n_random)
        for level, grad in enumerate(phase_grads):
            for k in range(grad.shape[2]):
                band = grad[:, :, k]
                noise = torch.randn((n_random, *band.shape), generator=generator)
                directions = torch.cat([band[None], noise.to(band)])  # (1 + n, B, C', h, w)
                moved, dist = probe.run(level, k, directions, l2)
                change[:, level, k] = (moved - base[None]).T
                distance[:, level, k] = dist.T
    random = change[..., 1:]
    return BandProbe(
        advantage=change[..., 0] - random.mean(-1),
        gradient_change=change[..., 0],
        random_change=random,
        distance=distance,
        margin=base,
        source=source,
        target=target,
        l2=float(l2),
        labels=names[0] if names else None,
    )


class _Prober:
    """Moves images along phase directions of one band to a pixel distance and scores them."""

    def __init__(self, space: PyramidSpace, color: ColorEdit, clamp, x: Tensor, margin) -> None:
        self.space, self.color, self.clamp, self.x, self.margin = space, color, clamp, x, margin

    def render(self, level: int, k: int, phases: Tensor) -> Tensor:
        """Images (D * B, C, H, W) with band (level, k)'s phases moved by ``phases`` (D, B, C',
        h, w); every other band and the residuals as at the source."""
        source: Pyramid = self.space.source
        reps = phases.shape[0]
        bands = []
        for i, band in enumerate(source.bands):
            tiled = band.repeat(reps, *([1] * (band.dim() - 1)))
            if i == level:
                field = torch.zeros_like(tiled.real)
                field[:, :, k] = phases.flatten(0, 1)
                tiled = phase_rotate(tiled, torch.zeros_like(field), field, self.space.backend)
            bands.append(tiled)
        tile = (reps, 1, 1, 1)
        edited = Pyramid(
            source.highpass.repeat(tile), tuple(bands), source.lowpass.repeat(tile), source.spec
        )
        images = self.color.merge(
            collapse(edited, self.space.pyramid.backend).unflatten(0, (reps, -1))
        )
        images = images if self.clamp is None else images.clamp(*self.clamp)
        return images.flatten(0, 1)

    def run(self, level: int, k: int, directions: Tensor, l2: float) -> tuple[Tensor, Tensor]:
        """(margin (D, B), distance (D, B)) of the images moved along each direction to L2
        distance ``l2`` (DISTANCE_ROUNDS rescalings of the step, from a linear first guess)."""
        moved, distances = [], []
        for part in directions.split(DIRECTIONS_PER_PASS):
            reps, batch = part.shape[:2]
            unit = part / part.flatten(2).abs().amax(2).clamp_min(1e-30)[..., None, None, None]
            scale = part.new_full((reps, batch), 1e-3)  # radians of the largest phase change
            for _ in range(DISTANCE_ROUNDS):
                dist = self._distance(level, k, unit * scale[..., None, None, None])
                scale = torch.where(dist > 0, scale * l2 / dist.clamp_min(1e-30), scale)
            images = self.render(level, k, unit * scale[..., None, None, None])
            distances.append((images.unflatten(0, (reps, batch)) - self.x).flatten(2).norm(dim=2))
            which = torch.arange(batch, device=self.x.device).repeat(reps)
            moved.append(self.margin(images, which).view(reps, batch))
        return torch.cat(moved), torch.cat(distances)

    def _distance(self, level: int, k: int, phases: Tensor) -> Tensor:
        images = self.render(level, k, phases).unflatten(0, (phases.shape[0], -1))
        return (images - self.x).flatten(2).norm(dim=2)
