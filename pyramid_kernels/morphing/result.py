"""What :func:`pyramid_kernels.morph` returns: the frames and their scores, with E, saving and
captions."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..io.progress import Progress
from ..models.class_names import (
    class_name,
)


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
                e = e_text([values[b][t] for values in families])
                texts.append(f"p={p:.2f} {e}top={self.class_name(c)}")
            frames.append(texts)
        return headings, frames


def e_text(values: list[float]) -> str:
    """ "E=0.12/0.24 " for the families' values of a frame; "" when none is a number."""
    if not values or all(v != v for v in values):
        return ""
    return "E=" + "/".join("-" if v != v else f"{v:.2f}" for v in values) + " "
