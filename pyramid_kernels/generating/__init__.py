"""Morphs for a whole dataset: :func:`generate` (resumable, sharded over torchrun ranks) and
readers of what it writes."""

from .options import GenerateOptions
from .run import GenerateSummary, generate
from .store import load_frames, read_manifest

__all__ = ["GenerateOptions", "GenerateSummary", "generate", "load_frames", "read_manifest"]
