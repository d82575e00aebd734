"""pk.generate and `pyramid-kernels generate`: outputs against pk.morph, resuming, torchrun
sharding, killing mid-run, and bad inputs."""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

import pyramid_kernels as pk
from pyramid_kernels.apps.cli import main
from pyramid_kernels.generating import load_frames, read_manifest
from pyramid_kernels.generating.distributed import deal
from pyramid_kernels.generating.model_input import Normalized, parse_normalize, weights_sha256
from pyramid_kernels.io.image_files import ImageFileError, image_size, read_image

HERE = Path(__file__).parent
DRIVER = "digits-driver"
COUNT = 22


def write_digits(folder: Path, count: int = COUNT) -> torch.Tensor:
    """The first ``count`` test digits as 8-bit PNGs, half of them in a subfolder; returns
    them as decoded (N, 1, 32, 32), in the id order (sorted relative paths)."""
    x = pk.data.digits("test")[0][:count]
    pixels = (x[:, 0] * 255).round().to(torch.uint8).numpy()
    names = []
    for n in range(count):
        name = f"d{n:03d}.png" if n % 2 else f"sub/d{n:03d}.png"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[n]).save(folder / name)
        names.append(name)
    order = sorted(range(count), key=lambda n: names[n])
    return torch.from_numpy(pixels[order]).float()[:, None] / 255


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    return folder, write_digits(folder)


@pytest.fixture(scope="module")
def driver():
    return pk.models.load(DRIVER)


def frames_of(out: Path) -> dict[str, torch.Tensor]:
    rows = read_manifest(out)
    return {r["image"]: load_frames(out, r["image"]) for r in rows if r["status"] == "ok"}


def test_outputs_match_morph(digits_dir, driver, tmp_path):
    folder, x = digits_dir
    out = tmp_path / "out"
    summary = pk.generate(
        driver,
        folder,
        out,
        gray=True,
        batch_size=5,
        frames_dtype="float32",
        pictures=["png", "gif"],
        steps=6,
    )
    assert (summary.images, summary.morphed, summary.errors, summary.skipped) == (
        COUNT,
        COUNT,
        0,
        0,
    )
    with torch.no_grad():
        target = driver(x).topk(2, 1).indices[:, 1]  # runner-up
    expected = pk.morph(driver, x, target, steps=6)
    rows = read_manifest(out)
    assert [r["image"] for r in rows] == sorted(r["image"] for r in rows)
    assert len(rows) == COUNT and any(r["image"].startswith("sub/") for r in rows)
    for b, row in enumerate(rows):
        assert row["status"] == "ok" and row["error"] == ""
        assert int(row["target"]) == target[b] and int(row["source"]) == expected.source[b]
        assert row["attained"] == int(expected.attained[b])  # typed: ints and floats
        assert row["reached_target"] == int(expected.top1[-1, b] == target[b])
        assert float(row["step"]) == pytest.approx(expected.step[b].item(), rel=1e-6)
        probs = [float(row[f"target_prob_{k}"]) for k in range(7)]
        l2 = [float(row[f"l2_{k}"]) for k in range(7)]
        torch.testing.assert_close(
            torch.tensor(probs), expected.target_prob[:, b], rtol=1e-5, atol=1e-7
        )
        torch.testing.assert_close(torch.tensor(l2), expected.distance[:, b], rtol=1e-6, atol=1e-6)
        frames = load_frames(out, row["image"])
        assert frames.dtype == torch.float32 and frames.shape == (7, 1, 32, 32)
        assert (frames - expected.frames[:, b]).abs().max() <= 1e-6
        stem = row["image"].rsplit(".", 1)[0]  # "x.png" -> strips/x.png, not x.png.png
        strip = np.asarray(Image.open(out / "strips" / f"{stem}.png"))
        # 32-pixel frames upscaled 4x, side by side, under a heading and over their captions
        assert strip.shape == (128 + 2 * 12, 7 * 128)
        assert Image.open(out / "gifs" / f"{stem}.gif").n_frames == 7
    # the shard files hold whole batches, named in their metadata
    shards = sorted((out / "frames").glob("*.safetensors"))
    assert len(shards) == 5
    with safe_open(shards[0], framework="pt") as shard:
        ids = json.loads(shard.metadata()["images"])
        assert shard.get_tensor("frames").shape == (len(ids), 7, 1, 32, 32)
    # default: uint8 frames, the float frames rounded; decoding in DataLoader workers
    out8 = tmp_path / "out8"
    pk.generate(driver, folder, out8, gray=True, batch_size=5, pictures=[], steps=6, workers=2)
    assert not (out8 / "strips").exists()
    for image, frames in frames_of(out).items():
        stored = load_frames(out8, image)
        assert stored.dtype == torch.uint8
        assert torch.equal(stored, frames.double().mul(255).round().to(torch.uint8))
    run = json.loads((out / "run.json").read_text())
    assert run["settings"]["model"]["sha256"] == weights_sha256(driver)
    assert run["settings"]["morph"]["steps"] == 6 and run["settings"]["seed"] == 0
    assert run["versions"]["torch"] == torch.__version__
    assert run["sessions"][0]["images_done"] == COUNT


def test_rerun_skips_finished_images_and_refuses_other_settings(digits_dir, driver, tmp_path):
    folder, _ = digits_dir
    out = tmp_path / "out"
    pk.generate(driver, folder, out, gray=True, batch_size=8, pictures=[], steps=2)
    before = (out / "manifest.csv").read_bytes()
    again = pk.generate(driver, folder, out, gray=True, batch_size=3, pictures=[], steps=2)
    assert (again.morphed, again.skipped) == (0, COUNT)
    assert (out / "manifest.csv").read_bytes() == before
    with pytest.raises(
        ValueError, match=r"other settings \(morph\.steps: 2 -> 3\); use another out_dir"
    ):
        pk.generate(driver, folder, out, gray=True, pictures=[], steps=3)
    # a new image is added to the folder: only it is morphed
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(folder / "zzz_new.png")
    try:
        more = pk.generate(driver, folder, out, gray=True, batch_size=8, pictures=[], steps=2)
    finally:
        (folder / "zzz_new.png").unlink()
    assert (more.morphed, more.skipped) == (1, COUNT)
    rows = read_manifest(out)
    assert len(rows) == COUNT + 1 and rows[-1]["image"] == "zzz_new.png"
    mixed = pk.generate(driver, folder, out, gray=True, pictures=[], steps=3, allow_mixed=True)
    assert mixed.morphed == 0  # every image is finished; the run record keeps both settings
    run = json.loads((out / "run.json").read_text())
    assert run["settings"]["morph"]["steps"] == 3
    assert run["earlier_settings"][0]["morph"]["steps"] == 2
    assert len(run["sessions"]) == 4
    pk.generate(driver, folder, out, gray=True, pictures=[], steps=3)  # same settings again
    run = json.loads((out / "run.json").read_text())
    assert [s["morph"]["steps"] for s in run["earlier_settings"]] == [2]  # still recorded
    assert len(run["sessions"]) == 5


def test_targets_fixed_csv_and_normalize(digits_dir, driver, tmp_path):
    folder, x = digits_dir
    ids = [r for r in sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))]
    table = tmp_path / "targets.csv"
    table.write_text("image,target\n" + "".join(f"{i},{n % 10}\n" for n, i in enumerate(ids)))
    out = tmp_path / "csv"
    pk.generate(driver, folder, out, targets=table, gray=True, pictures=[], steps=2)
    assert [int(r["target"]) for r in read_manifest(out)] == [n % 10 for n in range(COUNT)]
    fixed = tmp_path / "fixed"
    pk.generate(driver, folder, fixed, targets=7, gray=True, pictures=[], steps=2)
    assert {r["target"] for r in read_manifest(fixed)} == {7}
    # normalize: the wrapped model sees (x - mean) / std; the same as a model doing it itself
    plain = tmp_path / "plain"
    pk.generate(
        Normalized(driver, 0.25, 0.5), folder, plain, targets=7, gray=True, pictures=[], steps=2
    )
    wrapped = tmp_path / "wrapped"
    pk.generate(
        driver, folder, wrapped, targets=7, gray=True, pictures=[], steps=2, normalize="0.25,0.5"
    )
    for image, frames in frames_of(plain).items():
        assert torch.equal(load_frames(wrapped, image), frames)
    with pytest.raises(ValueError, match="no target class for 1 images"):
        table.write_text("image,target\n" + "".join(f"{i},1\n" for i in ids[1:]))
        pk.generate(driver, folder, tmp_path / "x", targets=table, gray=True)
    with pytest.raises(ValueError, match=r"classes \[12\] are not in \[0, 10\)"):
        pk.generate(driver, folder, tmp_path / "x", targets=12, gray=True)
    assert not (tmp_path / "x").exists()  # nothing written before the checks pass


def test_weights_fingerprint_covers_every_state_entry(digits_dir, tmp_path):
    """Batch-norm models (0-dim num_batches_tracked, float buffers) hash, and the hash sees
    every parameter and buffer."""
    resnet = pk.models.load("digits-judge-resnet")
    digest = weights_sha256(resnet)
    assert digest == weights_sha256(pk.models.load("digits-judge-resnet"))
    resnet.net[1].running_mean[0] += 1e-3  # a buffer
    assert weights_sha256(resnet) != digest
    assert weights_sha256(lambda x: x) is None
    folder, _ = digits_dir
    summary = pk.generate(
        pk.models.load("digits-judge-resnet"), folder, tmp_path / "out", gray=True, steps=1
    )
    assert summary.morphed == COUNT


def test_parse_normalize():
    assert parse_normalize("imagenet")[0] == (0.485, 0.456, 0.406)
    assert parse_normalize("0.1:0.2:0.3,1:2:3") == ((0.1, 0.2, 0.3), (1.0, 2.0, 3.0))
    for bad in ["0.5", "a,b", "0.5,0", "0.1:0.2,1"]:
        with pytest.raises(ValueError, match="normalize"):
            parse_normalize(bad)


@pytest.mark.parametrize("world", [1, 2, 3, 5])
def test_deal_is_disjoint_covering_and_independent_of_world(world):
    batches = [b for r in range(world) for b in deal(23, 4, r, world)]
    assert sorted(i for b in batches for i in b) == list(range(23))
    assert sorted(batches, key=lambda b: b.start) == deal(23, 4, 0, 1)


def _run(args, env=None, **kwargs):
    environment = {**os.environ, "PYTHONPATH": str(HERE), **(env or {})}
    return subprocess.run(args, env=environment, capture_output=True, text=True, **kwargs)


def _same_outputs(a: Path, b: Path) -> None:
    """Byte-identical manifests and frame shards."""
    assert (a / "manifest.csv").read_bytes() == (b / "manifest.csv").read_bytes()
    names = sorted(p.name for p in (a / "frames").iterdir())
    assert names == sorted(p.name for p in (b / "frames").iterdir()) and names
    for name in names:
        assert (a / "frames" / name).read_bytes() == (b / "frames" / name).read_bytes()


@pytest.mark.slow
def test_torchrun_two_ranks_write_what_one_process_writes(digits_dir, tmp_path):
    folder, _ = digits_dir
    common = ["--images", str(folder), "--model", DRIVER, "--batch-size", "4", "--steps", "3"]
    common += ["--workers", "0", "--quiet"]
    one = _run(
        [
            sys.executable,
            "-m",
            "pyramid_kernels",
            "generate",
            *common,
            "--out",
            str(tmp_path / "one"),
        ],
        env={"OMP_NUM_THREADS": "1"},  # what torchrun gives each rank
        timeout=180,
    )
    assert one.returncode == 0, one.stderr
    two = _run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
        + ["-m", "pyramid_kernels", "generate", *common, "--out", str(tmp_path / "two")],
        timeout=180,
    )
    assert two.returncode == 0, two.stderr
    assert "rank 0 of 2" in two.stdout
    _same_outputs(tmp_path / "one", tmp_path / "two")
    run = json.loads((tmp_path / "two" / "run.json").read_text())
    assert run["sessions"][0]["world_size"] == 2


def _parts(out: Path) -> list[Path]:
    """The finished manifest parts: not the hidden temporaries (".name.XXXX.csv") that an
    atomic write leaves behind when it is killed before its rename (pathlib's glob matches
    names starting with a dot)."""
    return [p for p in (out / "parts").glob("*.csv") if not p.name.startswith(".")]


def _no_partial_files(out: Path) -> None:
    """Every file under its final name is whole (temporaries of a killed write are hidden)."""
    for shard in (out / "frames").glob("[!.]*.safetensors"):
        with safe_open(shard, framework="pt") as f:
            f.get_tensor("frames")
    for strip in (out / "strips").rglob("[!.]*.png"):
        Image.open(strip).load()
    for part in _parts(out):
        rows = list(csv.DictReader(part.open()))
        assert rows and all(r["status"] == "ok" for r in rows)


@pytest.mark.slow
def test_killed_run_resumes_to_the_uninterrupted_result(digits_dir, tmp_path):
    folder, _ = digits_dir
    command = [sys.executable, "-m", "pyramid_kernels", "generate", "--images", str(folder)]
    command += ["--model", "generate_helpers:SlowDriver", "--gray", "--batch-size", "2"]
    command += ["--steps", "3", "--workers", "0", "--quiet", "--out"]
    whole = _run(command + [str(tmp_path / "whole")], timeout=180)
    assert whole.returncode == 0, whole.stderr
    out = tmp_path / "killed"
    environment = {**os.environ, "PYTHONPATH": str(HERE)}
    process = subprocess.Popen(command + [str(out)], env=environment, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(_parts(out)) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = len(_parts(out))
    assert 3 <= finished < COUNT // 2, "the run was not killed mid-way"
    assert not (out / "manifest.csv").exists()
    _no_partial_files(out)
    resumed = _run(command + [str(out)], timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{COUNT - 2 * finished} images morphed" in resumed.stdout
    _same_outputs(tmp_path / "whole", out)
    assert not [p for p in out.rglob(".*") if p.is_file()]  # temporary files cleaned


def test_cli_generate_embedded(tmp_path, capsys):
    out = tmp_path / "out"
    status = main(
        ["generate", "--embedded", "digits-test", "--model", DRIVER, "--out", str(out)]
        + ["--steps", "1", "--pictures", "none", "--batch-size", "300", "--quiet", "--workers", "0"]
        + ["--no-cuda-graph"]
    )
    assert status == 0
    rows = read_manifest(out)
    assert len(rows) == 597 and rows[0]["image"] == "00000"
    assert "597 images morphed" in capsys.readouterr().out
    run = json.loads((out / "run.json").read_text())
    assert run["model_name"] == DRIVER and run["settings"]["size"] == [32, 32]
    assert run["settings"]["morph"]["cuda_graph"] is False


def _save(path: Path, array: np.ndarray, mode: str | None = None) -> None:
    picture = Image.fromarray(array) if mode is None else Image.fromarray(array).convert(mode)
    picture.save(path)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares its size and holds almost no data."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IEND", b"")


def test_bad_and_unusual_files(tmp_path, driver):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    _save(folder / "a_rgb.png", rgb)
    _save(folder / "b_gray.png", rgb[..., 0])
    rgba = np.concatenate([rgb, np.full((32, 32, 1), 128, np.uint8)], axis=2)
    _save(folder / "c_rgba.png", rgba)
    _save(folder / "d_palette.png", rgb, mode="P")
    _save(folder / "e_gray16.png", (rng.integers(0, 65536, (32, 32))).astype(np.uint16))
    _save(folder / "f_big.png", rng.integers(0, 256, (48, 40, 3), dtype=np.uint8))
    (folder / "g_corrupt.png").write_bytes(b"\x89PNG not really a png")
    whole = (folder / "a_rgb.png").read_bytes()
    (folder / "h_truncated.png").write_bytes(whole[: len(whole) // 2])
    (folder / "notes.txt").write_text("not an image, not listed")
    # sorted first: a file that declares 100000x100000 pixels (beyond PIL's limit) and one
    # that declares 12000x12000 (under it, over the library's): neither sets the run's size
    for name, side in (("0_huge.png", 100_000), ("1_large.png", 12_000)):
        (folder / name).write_bytes(_png_header(side, side))
    # and a JPEG of 3000x3000 cut after 1% of its data: its header reads, its pixels do not;
    # a truncated file must not set the run's size either (it did, and every other image
    # then differed from it)
    cut = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (3000, 3000), dtype=np.uint8)).save(cut, "JPEG")
    (folder / "2_cut.jpg").write_bytes(cut.getvalue()[: len(cut.getvalue()) // 100])
    out = tmp_path / "out"
    summary = pk.generate(driver, folder, out, gray=True, targets=3, pictures=["png"], steps=2)
    assert (summary.morphed, summary.errors) == (5, 6)
    assert json.loads((out / "run.json").read_text())["settings"]["size"] == [32, 32]
    rows = {r["image"]: r for r in read_manifest(out)}
    assert sorted(rows) == sorted(p.name for p in folder.glob("*.*g"))
    for name in ["a_rgb.png", "b_gray.png", "c_rgba.png", "d_palette.png", "e_gray16.png"]:
        assert rows[name]["status"] == "ok", rows[name]
    assert "differs from the run's 32x32; pass --size H W" in rows["f_big.png"]["error"]
    assert "cannot read it as an image" in rows["g_corrupt.png"]["error"]
    assert "cannot read it as an image" in rows["h_truncated.png"]["error"]
    assert "exceeds limit" in rows["0_huge.png"]["error"]
    assert "it is 12000x12000 (144 megapixels)" in rows["1_large.png"]["error"]
    assert "truncated" in rows["2_cut.jpg"]["error"]
    for name in ["f_big.png", "g_corrupt.png", "h_truncated.png"]:
        assert rows[name]["status"] == "error" and rows[name]["shard"] == ""
        assert not (out / "strips" / f"{name}.png").exists()
    # with a size every readable file is resized
    resized = tmp_path / "resized"
    summary = pk.generate(driver, folder, resized, gray=True, size=(32, 32), targets=3, steps=2)
    assert (summary.morphed, summary.errors) == (6, 5)  # the cut JPEG is an error row too


def test_non_ascii_file_names_survive_the_manifest(tmp_path, driver):
    folder = tmp_path / "images"
    folder.mkdir()
    _save(folder / "chiffre_é_漢.png", np.zeros((32, 32), np.uint8))
    out = tmp_path / "out"
    pk.generate(driver, folder, out, gray=True, targets=3, pictures=["png"], steps=1)
    assert read_manifest(out)[0]["image"] == "chiffre_é_漢.png"
    assert (out / "strips" / "chiffre_é_漢.png").exists()
    assert "漢" in (out / "manifest.csv").read_bytes().decode("utf-8")


def test_retry_errors_after_fixing_a_file(tmp_path, driver):
    folder = tmp_path / "images"
    write_digits(folder, count=4)
    (folder / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    first = pk.generate(driver, folder, out, gray=True, targets=3, pictures=[], steps=2)
    assert (first.morphed, first.errors) == (4, 1)
    _save(folder / "broken.png", np.full((32, 32), 200, np.uint8))  # fixed
    again = pk.generate(driver, folder, out, gray=True, targets=3, pictures=[], steps=2)
    assert (again.morphed, again.errors, again.skipped) == (0, 0, 5)  # errors stay by default
    assert read_manifest(out)[0]["status"] == "error"
    retried = pk.generate(
        driver, folder, out, gray=True, targets=3, pictures=[], steps=2, retry_errors=True
    )
    assert (retried.morphed, retried.skipped) == (1, 4)
    rows = read_manifest(out)
    assert len(rows) == 5 and rows[0]["image"] == "broken.png" and rows[0]["status"] == "ok"
    run = json.loads((out / "run.json").read_text())
    assert run["sessions"][-1]["images_done"] == 5  # images, not rows (the error row stays)
    assert load_frames(out, "broken.png").shape == (3, 1, 32, 32)


def test_output_folder_inside_the_images_and_hidden_files_are_not_images(tmp_path, driver):
    folder = tmp_path / "images"
    write_digits(folder, count=3)
    (folder / ".hidden.png").write_bytes(b"AppleDouble junk")
    (folder / ".cache").mkdir()
    _save(folder / ".cache" / "thumb.png", np.zeros((32, 32), np.uint8))
    out = folder / "morphs"
    first = pk.generate(driver, folder, out, gray=True, targets=3, steps=2)
    assert (first.images, first.morphed) == (3, 3)
    assert any((out / "strips").rglob("*.png"))
    again = pk.generate(driver, folder, out, gray=True, targets=3, steps=2)
    assert (again.images, again.morphed, again.skipped) == (3, 0, 3)  # not its own strips
    pattern = str(folder / "**" / "*.png")
    globbed = pk.generate(driver, pattern, tmp_path / "g", gray=True, targets=3, steps=1)
    assert globbed.images == 3 + len(list((out / "strips").rglob("*.png")))
    inside = pk.generate(driver, pattern, folder / "g2", gray=True, targets=3, steps=1)
    assert inside.images == globbed.images  # the glob's own output folder is left out


def test_conversions_of_read_image(tmp_path):
    values = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    _save(tmp_path / "g16.png", values)
    image = read_image(tmp_path / "g16.png", 1)
    assert torch.allclose(image[0].double(), torch.from_numpy(values / 65535.0), atol=1e-7)
    rgba = np.array([[[200, 100, 50, 255], [200, 100, 50, 0]]], dtype=np.uint8)
    _save(tmp_path / "rgba.png", rgba)
    image = read_image(tmp_path / "rgba.png", 3)
    assert torch.allclose(image[:, 0, 0], torch.tensor([200, 100, 50]) / 255.0)
    assert torch.equal(image[:, 0, 1], torch.zeros(3))  # transparent: over black
    gray = read_image(tmp_path / "rgba.png", 1)
    assert gray[0, 0, 0].item() == pytest.approx((0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255)
    assert read_image(tmp_path / "g16.png", 3).shape == (3, 2, 2)
    assert read_image(tmp_path / "g16.png", 1, size=(8, 6)).shape == (1, 8, 6)
    # EXIF orientation 6 (the camera was turned): read upright, the header size too
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:5, :10] = 255  # a bright block top left, as stored
    picture = Image.fromarray(wide)
    exif = picture.getexif()
    exif[0x0112] = 6
    picture.save(tmp_path / "turned.jpg", exif=exif.tobytes(), quality=95)
    assert image_size(tmp_path / "turned.jpg") == (40, 20)
    upright = read_image(tmp_path / "turned.jpg", 1)[0]
    assert upright.shape == (40, 20)
    assert upright[:10, -5:].mean() > 0.95 and upright[:10, :5].mean() < 0.05  # top right
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(ImageFileError, match="cannot read it as an image"):
        read_image(tmp_path / "bad.png", 1)


def test_errors_before_any_work(tmp_path, capsys, digits_dir):
    folder, _ = digits_dir
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out"
    cases = [
        (["--images", str(empty), "--model", DRIVER], "the folder holds no image files"),
        (["--images", str(tmp_path / "none*.png"), "--model", DRIVER], "matches no files"),
        (["--images", str(folder), "--model", "no-such-model"], "not an embedded model"),
        (["--images", str(folder), "--model", DRIVER, "--target", "10"], "not in [0, 10)"),
        (["--images", str(folder), "--model", DRIVER, "--target", "x.csv"], "--target 'x.csv'"),
        (["--images", str(folder), "--model", DRIVER, "--normalize", "1,0"], "std > 0"),
        (["--images", str(folder), "--model", DRIVER, "--size", "40", "40"], "failed on a"),
        (["--images", str(folder), "--model", DRIVER, "--batch-size", "0"], "batch_size must"),
        (["--model", DRIVER], "pass --images"),
        (["--images", str(folder), "--model", DRIVER, "--color", "luminance"], "needs RGB"),
        (["--images", str(folder), "--model", DRIVER, "--clamp", "0.2", "1"], "outside clamp"),
    ]
    for args, message in cases:
        status = main(["generate", *args, "--out", str(out), "--quiet"])
        assert status == 2, args
        assert message in capsys.readouterr().err, args
        assert not out.exists(), args
    before = sorted(folder.rglob("*"))
    status = main(["generate", "--images", str(folder), "--model", DRIVER, "--out",
                   str(folder / "sub" / ".."), "--quiet"])  # fmt: skip
    assert status == 2 and "is the input" in capsys.readouterr().err
    assert sorted(folder.rglob("*")) == before
    with pytest.raises(TypeError, match="unknown options \\['stpes'\\]"):
        pk.generate(pk.models.load(DRIVER), folder, out, stpes=3)
    with pytest.raises(ValueError, match="training mode"):
        pk.generate(pk.models.load(DRIVER).train(), folder, out)


def test_a_failure_mid_run_keeps_the_finished_batches(tmp_path, capsys):
    folder = tmp_path / "images"
    write_digits(folder, count=7)
    out = tmp_path / "out"
    args = ["generate", "--images", str(folder), "--model", "generate_helpers:BatchOfThreeFails"]
    status = main(args + ["--gray", "--batch-size", "4", "--out", str(out), "--quiet"])
    assert status == 2
    error = capsys.readouterr().err
    assert "stopped by RuntimeError: CUDA out of memory (simulated)" in error
    assert "rerun the same command to resume" in error
    assert sum(int(p.name.split(".n")[1][:-4]) for p in (out / "parts").glob("*.csv")) == 4


def test_the_package_runs_as_the_command_and_pk_generate_stays_a_function():
    import inspect

    import pyramid_kernels.__main__  # noqa: F401  (what `python -m pyramid_kernels` runs)

    assert inspect.isfunction(pk.generate)
    done = _run([sys.executable, "-m", "pyramid_kernels", "generate", "--help"], timeout=60)
    assert done.returncode == 0 and "--images" in done.stdout, done.stderr


def test_ctrl_c_stops_in_one_line_and_the_rerun_resumes(digits_dir, tmp_path, monkeypatch, capsys):
    from pyramid_kernels.apps.cli import main
    from pyramid_kernels.generating.batch import BatchMorpher

    folder, _ = digits_dir
    out = tmp_path / "out"
    argv = ["generate", "--model", DRIVER, "--images", str(folder), "--out", str(out)]
    argv += ["--steps", "2", "--batch-size", "8", "--workers", "0", "--pictures", "none"]
    argv += ["--quiet"]
    real, calls = BatchMorpher._morph, []

    def interrupted(self, batch, x):
        calls.append(len(batch.good))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, batch, x)

    monkeypatch.setattr(BatchMorpher, "_morph", interrupted)
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted: its finished batches are kept" in err
    assert "Traceback" not in err
    assert len(list((out / "parts").glob("*.csv"))) == 1  # the first batch, whole
    assert not [p for p in out.rglob(".*") if p.is_file()]  # no temporary left
    monkeypatch.setattr(BatchMorpher, "_morph", real)
    assert main(argv) == 0
    assert "8 finished before" in capsys.readouterr().out
    assert len(read_manifest(out)) == COUNT


def test_picture_names_drop_the_suffix_unless_two_images_share_a_stem():
    from pyramid_kernels.generating.store import colliding_stems, picture_path

    ids = ["a/x.jpg", "a/x.png", "a/y.jpg", "z.png", "../up.png"]
    keep = colliding_stems(ids)
    assert keep == {"a/x.jpg", "a/x.png"}
    names = [picture_path(Path("gifs"), i, ".gif", i in keep).as_posix() for i in ids]
    assert names == ["gifs/a/x.jpg.gif", "gifs/a/x.png.gif", "gifs/a/y.gif", "gifs/z.gif",
                     "gifs/__/up.gif"]  # fmt: skip


def test_coherence_is_captioned_and_in_the_manifest(digits_dir, driver, tmp_path):
    folder, _ = digits_dir
    out, plain = tmp_path / "out", tmp_path / "plain"
    pk.generate(driver, folder, plain, gray=True, pictures=[], steps=2, batch_size=32)
    assert all(r["coherence"] is None and r["coherence_warp"] is None for r in read_manifest(plain))
    pk.generate(driver, folder, out, gray=True, pictures=["png"], steps=2, coherence=True)
    rows = read_manifest(out)
    first = rows[0]
    frames = load_frames(out, first["image"]).float() / 255
    expected = pk.metrics.warp_explained(frames[:1], frames[2:], gain=True)
    assert first["coherence"] == pytest.approx(float(expected), abs=0.02)  # 8-bit frames here
    warp_only = pk.metrics.warp_explained(frames[:1], frames[2:])  # side by side
    assert first["coherence_warp"] == pytest.approx(float(warp_only), abs=0.02)
    assert all(0 <= r["coherence"] <= 1 and 0 <= r["coherence_warp"] <= 1 for r in rows)
    run = json.loads((out / "run.json").read_text())
    assert run["settings"]["coherence"] is True
    with pytest.raises(ValueError, match="coherence: True -> None"):  # a resume must agree
        pk.generate(driver, folder, out, gray=True, pictures=["png"], steps=2)


def test_the_input_check_of_morph_runs_in_generate(tmp_path, capsys):
    """A file too small to resize is an error row (morph refuses it too), and what the check
    notes (upscaling over 2x, transparency) is said once per kind, not silently done."""
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    _save(folder / "a_tiny.png", rng.integers(0, 256, (5, 5), dtype=np.uint8))
    _save(folder / "b_small.png", rng.integers(0, 256, (16, 16), dtype=np.uint8))
    _save(folder / "c_alpha.png", rng.integers(0, 256, (40, 40, 4), dtype=np.uint8))
    _save(folder / "d_plain.png", rng.integers(0, 256, (32, 32), dtype=np.uint8))
    out = tmp_path / "out"
    model = pk.models.load("mnist-judge-resnet")  # global pooling: takes 40x40 images
    summary = pk.generate(model, folder, out, gray=True, size=(40, 40), steps=1, workers=0)
    assert (summary.morphed, summary.errors) == (3, 1)
    rows = {r["image"]: r for r in read_manifest(out)}
    assert "it is 5x5: too small to resize to 40x40" in rows["a_tiny.png"]["error"]
    err = capsys.readouterr().err
    assert "note: 1 image(s) upscaled more than 2x (the first: b_small.png)" in err
    assert "note: 1 image(s) with transparency (the first: c_alpha.png)" in err
