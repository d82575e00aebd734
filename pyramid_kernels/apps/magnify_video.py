"""``pyramid-kernels magnify``: a video file (or image sequence) in, its magnified video out.

Causal filters stream: a thread decodes the next chunk while the current one is magnified and
encoded, so memory holds a few chunks whatever the video's length. The ideal filter needs the
whole clip in memory (its size is checked first).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import torch

from ..io.progress import Progress
from ..io.video import read_frames, video_info, write_video
from ..magnifying import Magnifier, MagnifyOptions, magnify_with
from .system import available_memory

MAX_IDEAL_BYTES = 8 * 2**30  # the ideal filter holds the clip and its pyramid's phases
# bytes per pixel of a frame: the ideal filter holds 12 float32 values per pixel and channel
# of the clip; a causal filter about 4 chunks of frames (two decoded ahead, one in work, one
# out) and two pyramids of one frame (complex64, 4/3 of the frame per orientation)
IDEAL_BYTES_PER_PIXEL = 3 * 4 * 12


def _causal_bytes(size: tuple[int, int], chunk: int, orientations: int) -> int:
    return size[0] * size[1] * (4 * chunk * 3 * 4 + 2 * orientations * 8 * 4 // 3)


def _check_ideal(count: int, size: tuple[int, int]) -> None:
    if count * size[0] * size[1] * IDEAL_BYTES_PER_PIXEL > MAX_IDEAL_BYTES:
        raise ValueError(
            f"{count} frames of {size[0]}x{size[1]} are too many for --filter ideal in memory: "
            "use a causal filter (--filter butterworth) or --scale"
        )


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
    if options.filter == "ideal":
        _check_ideal(count or 0, size)
    else:
        magnifier = Magnifier.from_options(options)
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
        with Progress(total, "magnify", enabled=progress, unit="frames") as bar:
            if options.filter == "ideal":
                clip = torch.stack(list(frames)).to(device)
                _check_ideal(clip.shape[0], size)  # the container may not have said
                out_frames = magnify_with(clip, options)
                for frame in out_frames:
                    written += 1
                    bar.update()
                    yield frame
                return
            for chunk in _chunks(frames, chunk_size):
                for frame in magnifier(chunk.to(device)):
                    written += 1
                    bar.update()
                    yield frame
            if written == 1:  # the write is atomic: raising here leaves no file
                raise ValueError(f"{source!r} has one frame: there is no motion to magnify")

    write_video(out, magnified(), rate)
    return written, rate, size
