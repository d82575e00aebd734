"""Video files through PyAV (FFmpeg's libraries inside its wheel): read frames with their
frame rate, write them atomically. Containers: whatever FFmpeg reads (mp4, mov, avi, mkv,
webm, gif, ...); written: .mp4 (H.264), .gif, .avi (MPEG-4 part 2), .mkv / .mov (H.264). A
folder or a glob pattern of images is read as an image sequence (its frame rate must be
given)."""

from __future__ import annotations

import glob
import math
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .image_files import IMAGE_SUFFIXES, read_image
from .image_io import check_writable, write_atomic

CODECS = {".mp4": "libx264", ".mkv": "libx264", ".mov": "libx264", ".avi": "mpeg4", ".gif": None}


class VideoError(ValueError):
    """A video that cannot be read (missing, unreadable, truncated, without frames)."""


def _image_sequence(source: str) -> list[Path] | None:
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    elif any(c in source for c in "*?["):
        files = sorted(Path(p) for p in glob.glob(source))
    else:
        return None
    if not files:
        raise VideoError(f"{source!r}: no image files for an image sequence")
    return files


def video_files(source: str | os.PathLike) -> list[Path]:
    """The files a video source is read from: the image sequence's files, else the video file
    itself (existing or not)."""
    return _image_sequence(os.fspath(source)) or [Path(source)]


def video_info(source: str | os.PathLike) -> tuple[float | None, tuple[int, int], int | None]:
    """(frame rate or None, (H, W), frame count or None) of a video file or image sequence,
    without decoding it all."""
    import av

    source = str(source)
    files = _image_sequence(source)
    if files is not None:
        first = read_image(files[0], 3)
        return None, tuple(first.shape[-2:]), len(files)
    if not Path(source).is_file():
        raise VideoError(f"{source!r}: no such video file")
    try:
        with av.open(source) as container:
            if not container.streams.video:
                raise VideoError(f"{source!r} has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            if container.format.name == "gif" and stream.frames and stream.duration:
                # FFmpeg gives a GIF the rate of its first delay; its frames per second of
                # play is what a GIF written at 30 fps (delays 30, 40, 30 ms, ...) says
                rate = stream.frames / float(stream.duration * stream.time_base)
            size = (stream.codec_context.height, stream.codec_context.width)
            return (float(rate) if rate else None), size, (stream.frames or None)
    except av.error.FFmpegError as error:
        raise VideoError(f"{source!r} is not a video FFmpeg can read: {error}") from None


def read_frames(
    source: str | os.PathLike,
    gray: bool = False,
    size: tuple[int, int] | None = None,
    constant_rate: bool = True,
) -> Iterator[Tensor]:
    """The frames of a video file or image sequence, one at a time, as (C, H, W) float32 in
    [0, 1] (C = 1 with ``gray``, else 3); ``size``: resize each to (H, W). With
    ``constant_rate`` a file whose frame intervals vary (variable frame rate: a temporal
    filter would see a warped time axis) raises VideoError."""
    import av

    from .image_files import resize_images

    source = str(source)
    files = _image_sequence(source)
    channels = 1 if gray else 3

    def converted(frame: Tensor) -> Tensor:
        if frame.shape[0] != channels:
            frame = frame.mean(0, keepdim=True) if gray else frame.expand(3, -1, -1)
        if size is not None and tuple(frame.shape[-2:]) != tuple(size):
            frame = resize_images(frame[None], size, "stretch")[0]
        return frame.contiguous()

    if files is not None:
        first = None
        for file in files:
            image = read_image(file, channels)
            if first is None:
                first = (tuple(image.shape[-2:]), file)
            elif tuple(image.shape[-2:]) != first[0]:
                (h, w), name = first
                raise VideoError(
                    f"{str(file)!r} is {image.shape[-2]}x{image.shape[-1]} but {str(name)!r} "
                    f"is {h}x{w}: the frames of an image sequence must share one size"
                )
            yield converted(image)
        return
    if not Path(source).is_file():
        raise VideoError(f"{source!r}: no such video file")
    count = 0
    try:
        with av.open(source) as container:
            stream = container.streams.video[0]
            expected, exact = _expected_frames(container, stream)
            stream.thread_type = "AUTO"  # decode in FFmpeg's threads while we process
            times, last = [], None
            duration = container.duration / 1e6 if container.duration else None
            for frame in container.decode(stream):
                array = frame.to_ndarray(format="rgb24")
                count += 1
                last = frame.time if frame.time is not None else last
                if constant_rate and frame.time is not None and len(times) <= VFR_FRAMES:
                    times.append(frame.time)
                    # the newest interval is checked once a later frame decodes: a cut file's
                    # last frame is reported as truncation, not as a variable rate
                    _check_constant_rate(source, times[:-1])
                yield converted(torch.from_numpy(array).permute(2, 0, 1).float().div_(255.0))
    except av.error.FFmpegError as error:
        raise VideoError(f"{source!r}: decoding failed after {count} frames: {error}") from None
    if count == 0:
        raise VideoError(f"{source!r} has no frames")
    if not exact and expected and duration and last is not None:
        # a count from the duration times an average rate: a variable-rate file holds other
        # counts, so its frames' times decide (truncated: they stop two frames short of it)
        cut = last < duration - 2 * duration / expected
        expected = expected if cut else None
    if expected is not None and count < (expected if exact else expected - 1):
        said = "its" if exact else "the about"
        where = "" if exact else " its duration implies"
        raise VideoError(
            f"{source!r} is truncated: {count} of {said} {expected} frames{where} decode"
        )
    if constant_rate:
        _check_constant_rate(source, times)


def _expected_frames(container, stream) -> tuple[int | None, bool]:
    """(frames the file should hold, whether the container said so exactly): the stream's
    frame count, else (Matroska, WebM, ...) its duration times its rate, rounded (one frame
    short of it is taken as rounding); (None, False) when neither is known."""
    if stream.frames:
        return int(stream.frames), True
    rate = stream.average_rate or stream.guessed_rate
    if container.duration and rate:
        return round(container.duration / 1e6 * float(rate)), False
    return None, False


VFR_FRAMES = 240  # frame intervals checked for a constant rate (the first ones)


def _check_constant_rate(source: str, times: list[float]) -> None:
    """VideoError when the intervals between the frames' timestamps vary by more than half."""
    if len(times) < 3:
        return
    intervals = [b - a for a, b in zip(times, times[1:], strict=False)]
    shortest, longest = min(intervals), max(intervals)
    if shortest <= 0 or longest > 1.5 * shortest + 1e-6:  # timestamps are rounded
        raise VideoError(
            f"{source!r} has a variable frame rate (frame intervals from {1e3 * shortest:.1f} "
            f"to {1e3 * longest:.1f} ms): a temporal band-pass needs evenly spaced frames; "
            "re-encode it at a constant rate, or pass --fps to treat its frames as evenly "
            "spaced at that rate"
        )


def write_video(path: str | os.PathLike, frames: Iterator[Tensor], fps: float) -> Path:
    """Encode frames (C, H, W) floats in [0, 1] (clamped) at ``fps`` to ``path``, written
        under a temporary name and renamed when complete (a failure leaves nothing under
        ``path``). For H.264 and MPEG-4 an odd height or width is padded by one edge row or
    column (their 4:2:0 chroma needs even sizes); GIF stores frame delays in hundredths of a
    second, so its frame rate is the nearest that allows."""
    import av

    path = check_writable(path)
    suffix = path.suffix.lower()
    if suffix not in CODECS:
        raise ValueError(f"the output must end in one of {sorted(CODECS)}, got {path.name!r}")
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a finite number > 0, got {fps!r}")
    rate = Fraction(fps).limit_denominator(1001)
    if suffix == ".gif":  # PIL: an adaptive palette per frame (FFmpeg's GIF dithers to rgb8)
        return write_atomic(path, lambda tmp: _write_gif(tmp, frames, fps))

    def encode(tmp: str) -> None:
        with av.open(
            tmp, mode="w", format={".gif": "gif", ".mkv": "matroska"}.get(suffix, suffix[1:])
        ) as out:
            stream = None
            for frame in frames:
                array = (frame.detach().float().clamp(0, 1) * 255).round().byte()
                array = array.expand(3, -1, -1) if array.shape[0] == 1 else array
                array = array.permute(1, 2, 0).cpu().numpy()
                if stream is None:
                    stream = out.add_stream(CODECS[suffix], rate=rate)
                    height, width = array.shape[:2]
                    stream.height, stream.width = height + height % 2, width + width % 2
                    stream.pix_fmt = "yuv420p"
                    if CODECS[suffix] == "libx264":
                        stream.options = {"crf": "18"}
                pad = (
                    (0, stream.height - array.shape[0]),
                    (0, stream.width - array.shape[1]),
                    (0, 0),
                )
                array = np.pad(array, pad, mode="edge")
                for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                    out.mux(packet)
            if stream is None:
                raise ValueError("there are no frames to write")
            for packet in stream.encode():
                out.mux(packet)

    return write_atomic(path, encode)


def _write_gif(path: str, frames: Iterator[Tensor], fps: float) -> None:
    """Frames (C, H, W) in [0, 1] -> an animated GIF (all frames held: GIFs are short)."""
    from PIL import Image

    pictures = []
    for frame in frames:
        array = (frame.detach().float().clamp(0, 1) * 255).round().byte()
        array = array.expand(3, -1, -1) if array.shape[0] == 1 else array
        pictures.append(Image.fromarray(array.permute(1, 2, 0).cpu().numpy()))
    if not pictures:
        raise ValueError("there are no frames to write")
    pictures[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=pictures[1:],
        duration=gif_delays(len(pictures), fps),
        loop=0,
    )


GIF_MAX_FPS = 50.0  # delays are hundredths of a second, and players treat under 2 as slow


def gif_delays(count: int, fps: float) -> list[int]:
    """Per-frame delays in ms, multiples of 10 (GIF stores hundredths of a second), whose
    running sum follows the frame times i / fps (30 fps: 30, 40, 30, 30, 40, ...), so the clip
    plays, and reads back, at ``fps``; at most ``GIF_MAX_FPS``."""
    fps = min(fps, GIF_MAX_FPS)
    ends = [round((i + 1) * 100 / fps) * 10 for i in range(count)]
    return [b - a for a, b in zip([0, *ends], ends, strict=False)]
