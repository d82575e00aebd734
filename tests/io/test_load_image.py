"""pk.io.load_image: an image file as a batch of one, as the command line reads it."""

import numpy as np
import pytest
import torch
from PIL import Image

import pyramid_kernels as pk


def test_an_image_file_becomes_a_batch_of_one(tmp_path):
    array = np.arange(24 * 32 * 3, dtype=np.uint8).reshape(24, 32, 3)
    Image.fromarray(array).save(tmp_path / "a.png")
    x = pk.io.load_image(tmp_path / "a.png")
    assert x.shape == (1, 3, 24, 32) and x.dtype == torch.float32
    assert torch.equal((x[0] * 255).round().byte().permute(1, 2, 0), torch.from_numpy(array))
    gray = pk.io.load_image(str(tmp_path / "a.png"), size=16, gray=True)
    assert gray.shape == (1, 1, 16, 16) and 0 <= gray.min() and gray.max() <= 1
    assert pk.io.load_image(tmp_path / "a.png", size=(12, 8), fit="stretch").shape[-2:] == (12, 8)


def test_bad_files_and_arguments_are_refused_with_the_reason(tmp_path):
    (tmp_path / "not.png").write_bytes(b"text, not an image")
    with pytest.raises(pk.io.ImageFileError):
        pk.io.load_image(tmp_path / "not.png")
    with pytest.raises(pk.io.ImageFileError):
        pk.io.load_image(tmp_path / "missing.png")
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(tmp_path / "b.png")
    for kwargs, message in [
        (dict(size=0), "size must be"),
        (dict(size=(4, 4, 4)), "size must be"),
        (dict(fit="zoom"), "fit must be one of"),
    ]:
        with pytest.raises(ValueError, match=message):
            pk.io.load_image(tmp_path / "b.png", **kwargs)
