"""``pyramid-kernels magnify``: a video file (or image sequence) in, its magnified video out.

Causal filters stream: a thread decodes the next chunk while the current one is magnified and
encoded, so memory holds a few chunks whatever the video's length. The ideal filter needs the
whole clip: it is decoded into memory, then magnified in two passes over it (the temporal
filter's projections, then the frames, encoded as they come: :mod:`..magnifying.ideal`); its
peak memory is estimated first and a clip that cannot fit is refused.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import torch

from ..io.progress import Progress
from ..io.video import read_frames, video_info, write_video
from ..magnifying import Magnifier, MagnifyOptions
from ..magnifying.ideal import IdealMagnification, ideal_peak_bytes
from .system import available_memory


def _causal_bytes(size: tuple[int, int], chunk: int, orientations: int) -> int:
    """About the memory of a causal run: 4 chunks of frames (two decoded ahead, one in work,
    one out) and two pyramids of one frame (complex64, 4/3 of the frame per orientation)."""
    return size[0] * size[1] * (4 * chunk * 3 * 4 + 2 * orientations * 8 * 4 // 3)


def _check_ideal(options: MagnifyOptions, count: int, channels: int, size) -> None:
    """Refuse an ideal-filter clip whose estimated peak memory exceeds what is available."""
    need, limit = ideal_peak_bytes(options, count, channels, size), available_memory()
    if limit is not None and need > limit:
        raise ValueError(
            f"{count} frames of {size[0]}x{size[1]} with --filter ideal need about "
            f"{need / 2**30:.1f} GiB, more than the {limit / 2**30:.1f} GiB available: use a "
            "causal filter (--filter butterworth), which streams, or --scale below 1"
        )


def _ideal_frames(
    frames: Iterator[torch.Tensor], options: MagnifyOptions, device, shape, total: int, progress
) -> Iterator[torch.Tensor]:
    """The clip decoded into memory, then magnified in two passes, its frames yielded as they
    come; the bar counts every frame three times (decoded, accumulated, magnified). ``shape``:
    (channels, H, W) of the frames; ``total``: the container's frame count (0: unknown)."""
    with Progress(3 * total, "magnify (ideal)", enabled=progress, unit="frames") as bar:
        clip = []
        for frame in frames:
            clip.append(frame)
            bar.update()
        if len(clip) != total:  # the container did not say, or said wrong
            _check_ideal(options, len(clip), shape[0], shape[1:])
            bar.total = max(1, 3 * len(clip))
        if len(clip) < 2:  # one frame: the caller says so
            yield from clip
            return
        clip = torch.stack(clip).to(device)
        magnifier = IdealMagnification(options, clip.shape[0])
        for chunk in magnifier.passes(clip, accumulated=bar.update):
            for frame in chunk:
                bar.update()
                yield frame


def _causal_frames(
    frames: Iterator[torch.Tensor], magnifier: Magnifier, chunk: int, device, total: int, progress
) -> Iterator[torch.Tensor]:
    """The frames magnified as they are decoded, ``chunk`` at a time, one chunk decoded ahead."""
    with Progress(total, "magnify", enabled=progress, unit="frames") as bar:
        for frames_in in _chunks(frames, chunk):
            for frame in magnifier(frames_in.to(device)):
                bar.update()
                yield frame


def _chunks(frames: Iterator[torch.Tensor], size: int) -> Iterator[torch.Tensor]:
    """Stacks of ``size`` frames, decoded in a background thread one chunk ahead."""
    ready: queue.Queue = queue.Queue(maxsize=2)

    def decode() -> None:
        try:
            batch = []
            for frame in frames:
                batch.append(frame)
                if len(batch) == size:
                    ready.put(torch.stack(batch))
                    batch = []
            if batch:
                ready.put(torch.stack(batch))
            ready.put(None)
        except BaseException as error:  # handed to the consumer, raised there
            ready.put(error)

    threading.Thread(target=decode, daemon=True).start()
    while (item := ready.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        yield item


def run(
    source: str,
    out: str,
    *,
    fps: float | None,
    scale: float,
    device: str | torch.device,
    gray: bool,
    progress: bool,
    **settings,
) -> tuple[int, float, tuple[int, int]]:
    """Magnify ``source`` into ``out`` with :class:`MagnifyOptions` of ``settings`` (all its
    fields but ``fps``, which is the container's unless given); returns (frames written, frame
    rate used, (H, W) of the frames written)."""
    rate, (h, w), count = video_info(source)
    rate = fps if fps is not None else rate
    if rate is None:
        raise ValueError(f"{source!r} has no frame rate (an image sequence): pass --fps")
    if not 0 < scale <= 1:
        raise ValueError(f"--scale must be in (0, 1], got {scale}")
    size = (max(4, round(h * scale)), max(4, round(w * scale)))
    options = MagnifyOptions(fps=rate, **settings)  # validated before decoding
    chunk_size = options.chunk_size
    channels = 1 if gray else 3
    if options.filter == "ideal":
        _check_ideal(options, count or 0, channels, size)
    else:
        magnifier = Magnifier(options=options)
        orientations = options.pyramid.orientations
        need, limit = _causal_bytes(size, chunk_size, orientations), available_memory()
        if limit is not None and need > limit:
            raise ValueError(
                f"frames of {size[0]}x{size[1]} in chunks of {chunk_size} need about "
                f"{need / 2**30:.1f} GiB, more than the {limit / 2**30:.1f} GiB available: "
                "pass --scale below 1 (or a smaller --chunk-size)"
            )
    resize = None if size == (h, w) else size
    frames = read_frames(source, gray=gray, size=resize, constant_rate=fps is None)
    total = count or 0
    written = 0

    def magnified() -> Iterator[torch.Tensor]:
        nonlocal written
        if options.filter == "ideal":
            stream = _ideal_frames(frames, options, device, (channels, *size), total, progress)
        else:
            stream = _causal_frames(frames, magnifier, chunk_size, device, total, progress)
        for frame in stream:
            written += 1
            yield frame
        if written == 1:  # the write is atomic: raising here leaves no file
            raise ValueError(f"{source!r} has one frame: there is no motion to magnify")

    write_video(out, magnified(), rate)
    return written, rate, size
