"""Image files, pictures and progress: reading and resizing images, atomic writes, morph
strips and GIFs, the progress bar. Imports nothing else of the package, so every layer above
(data, models, morphing, generating, apps) may use it."""

from .image_files import ImageFileError, load_image

__all__ = ["ImageFileError", "load_image"]
