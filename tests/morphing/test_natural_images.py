"""Natural images: the pretrained ImageNet models, their class names, the bundled photos, and
morphs, the CLI and generate by class name on a photo."""

import csv

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import pyramid_kernels as pk
from pyramid_kernels.apps.cli import main
from pyramid_kernels.generating.model_input import Normalized, parse_normalize
from pyramid_kernels.io.image_files import read_image, resize_images
from pyramid_kernels.io.image_io import save_png
from pyramid_kernels.models import class_index, model_labels
from pyramid_kernels.models.class_names import class_indices

CAT, TIGER_CAT, TIGER, LION, ESPRESSO, TRIPOD, MOPED = 285, 282, 292, 291, 967, 872, 665


@pytest.fixture(scope="module")
def driver():
    return pk.models.load("imagenet-lite0")


@pytest.fixture(scope="module")
def photos():
    return pk.data.photos(224)


def _reference_logits(name: str, x: torch.Tensor) -> torch.Tensor:
    """The efficientnet-lite-pytorch package's own loading and forward, normalised by hand."""
    from efficientnet_lite_pytorch import EfficientNet

    from pyramid_kernels.models.imagenet import VARIANTS, weights_path

    network, _, _, _ = VARIANTS[name]
    net = EfficientNet.from_pretrained(network, weights_path=weights_path(name)).eval()
    with torch.no_grad():
        return net((x - 0.5) / 0.5)


@pytest.mark.parametrize("name", ["imagenet-lite0", "imagenet-lite2"])
def test_logits_equal_the_reference_package_on_photos(name):
    spec = pk.models.INPUTS[name]
    x, _ = pk.data.photos(spec.size)
    model = pk.models.load(name)
    assert not model.training and spec.channels == 3
    with torch.no_grad():
        ours = model(x)
    reference = _reference_logits(name, x)
    assert ours.shape == (8, 1000)
    assert (ours - reference).abs().max().item() <= 1e-4


def test_expected_top1_classes_of_the_photos(driver, photos):
    x, names = photos
    with torch.no_grad():
        top1 = dict(zip(names, driver(x).argmax(1).tolist(), strict=True))
    assert top1["cat"] in range(281, 286)  # the domestic cat classes
    assert top1["coffee"] == ESPRESSO
    assert top1["cameraman"] == TRIPOD
    assert top1["motorcycle"] == MOPED
    assert driver.labels[top1["coffee"]] == "espresso"


def test_other_sizes_are_resized_to_the_native_one(driver, photos):
    x, _ = photos
    big = F.interpolate(x[:2], size=(300, 300), mode="bilinear", antialias=True)
    with torch.no_grad():
        assert driver(big).argmax(1).tolist() == driver(x[:2]).argmax(1).tolist()
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\) RGB"):
        driver(x[:, :1])


def test_class_names_come_from_the_package_and_resolve():
    labels = pk.models.labels("imagenet-lite0")
    assert len(labels) == 1000 and labels[0] == "tench" and labels[TIGER] == "tiger"
    assert pk.models.labels("digits-driver") == tuple("0123456789")
    _, synonyms = model_labels(pk.models.load("imagenet-lite1"))
    assert class_index("tiger", labels, synonyms) == TIGER
    assert class_index("Tiger_Cat", labels, synonyms) == TIGER_CAT
    assert class_index("Panthera tigris", labels, synonyms) == TIGER  # a synonym
    assert class_index("tank suit", labels, synonyms) == 639
    with pytest.raises(ValueError, match=r"'crane' names 2 classes \(134: crane; 517: crane\)"):
        class_index("crane", labels, synonyms)
    with pytest.raises(ValueError, match=r"'tigr' is not a class.*closest: 'tiger' \(292\)"):
        class_index("tigr", labels, synonyms)
    with pytest.raises(ValueError, match="name must be one of"):
        pk.models.labels("resnet50")
    for value in (b"tiger", {"tiger"}, frozenset({292})):  # refused, never passed through
        with pytest.raises(TypeError, match="target must be a class index"):
            class_indices(value, (labels, synonyms))
    with pytest.raises(TypeError, match="name must be one model's name"):
        pk.models.load(["imagenet-lite0"])


def test_photos_are_named_cropped_and_in_range():
    x, names = pk.data.photos(64)
    assert x.shape == (8, 3, 64, 64) and x.dtype == torch.float32
    assert names == tuple(pk.data.PHOTOS) and len(set(names)) == 8
    assert 0 <= x.min() and x.max() <= 1 and x.flatten(1).std(1).min() > 0.05
    assert all(p.licence and p.source for p in pk.data.PHOTOS.values())
    cat, _ = pk.data.photos((32, 48), ["cat"], fit="stretch")
    assert cat.shape == (1, 3, 32, 48)
    padded, _ = pk.data.photos(64, ["coffee"], fit="pad")  # 400x600: black bars top and bottom
    assert padded[0, :, :8].abs().max() == 0 and padded[0, :, 32].std() > 0
    with pytest.raises(ValueError, match="names must be"):
        pk.data.photos(64, ["dog"])
    with pytest.raises(ValueError, match="size must be"):
        pk.data.photos(4)
    for size in (10**6, (64, 10**7)):  # refused before any allocation
        with pytest.raises(ValueError, match=r"ints in \[8, 4096\]"):
            pk.data.photos(size)
    with pytest.raises(ValueError, match="names must be"):
        pk.data.photos(32, names=7)
    assert pk.data.photos(32, names="cat")[1] == ("cat",)


def test_the_photos_export_to_files_the_commands_read(tmp_path, capsys):
    assert main(["photos", "--out", str(tmp_path / "photos"), "cat", "cameraman"]) == 0
    assert sorted(p.name for p in (tmp_path / "photos").iterdir()) == ["cameraman.png", "cat.png"]
    cat = read_image(tmp_path / "photos" / "cat.png", 3)
    assert cat.shape == (3, 300, 451)  # the photo's own size
    assert main(["photos", "--out", str(tmp_path / "more"), "dog"]) == 2
    assert "names must be" in capsys.readouterr().err and not (tmp_path / "more").exists()


def test_resize_fits_keep_the_aspect_ratio():
    # a 40x80 image: left half 0, right half 1
    image = torch.cat([torch.zeros(1, 1, 40, 40), torch.ones(1, 1, 40, 40)], dim=3)
    crop = resize_images(image, (20, 20), "crop")  # the centre 40x40: half dark, half bright
    assert crop.shape == (1, 1, 20, 20) and crop[..., :9].max() == 0 and crop[..., 11:].min() == 1
    pad = resize_images(image, (20, 20), "pad")  # 10x20 content between black bars
    assert pad[..., :5, :].max() == 0 and pad[..., 15:, :].max() == 0 and pad[..., 7, 15] == 1
    stretch = resize_images(image, (20, 20), "stretch")
    assert stretch[..., :9].max() == 0 and stretch[..., 11:].min() == 1
    with pytest.raises(ValueError, match="fit must be one of"):
        resize_images(image, (20, 20), "fill")


def test_morph_by_class_name(driver, photos):
    x, _ = photos
    by_name = pk.morph(driver, x[:2], ["tiger cat", "cup"], steps=2, phase_step=0.05)
    by_index = pk.morph(driver, x[:2], [TIGER_CAT, 968], steps=2, phase_step=0.05)
    assert by_name.target.tolist() == [TIGER_CAT, 968]
    assert torch.equal(by_name.frames, by_index.frames)
    assert by_name.labels == driver.labels and by_name.top1.shape == (3, 2)
    assert by_name.top1[0].tolist() == [CAT, ESPRESSO]
    headings, captions = by_name.captions()
    assert headings == ["Egyptian cat -> tiger cat", "espresso -> cup"]
    assert captions[1][0] == f"p={by_name.target_prob[0, 1]:.2f} top=espresso"
    assert repr(by_name).startswith("MorphResult(2 image(s) (3, 224, 224), 2 steps, attained")
    assert len(repr(by_name)) < 200  # a summary, not the frames
    with pytest.raises(ValueError, match="'lino' is not a class"):
        pk.morph(driver, x[:1], "lino", steps=1)
    anonymous = torch.nn.Sequential(*driver.children()).eval()  # no labels
    with pytest.raises(TypeError, match="target must be class indices: 'tiger' names a class"):
        pk.morph(lambda t: driver(t), x[:1], "tiger", steps=1)
    assert model_labels(anonymous) is None
    wrapped = Normalized(driver, 0.0, 1.0)  # a wrapper keeps the names
    assert model_labels(wrapped)[0] == driver.labels


def test_saved_strips_are_captioned(tmp_path, driver, photos):
    result = pk.morph(driver, photos[0][:1], "tiger cat", steps=2, phase_step=0.05)
    result.save(tmp_path / "plain.png", captions=False)
    result.save(tmp_path / "captioned.png")
    e = result.coherence()
    assert e.shape == (3, 1) and e[0].isnan().all()
    assert torch.allclose(
        e[2], pk.metrics.warp_explained(result.frames[0], result.frames[2], gain=True)
    )
    _, texts = result.captions(e)
    assert texts[0][0].startswith("p=") and "E=" not in texts[0][0]  # undefined at frame 0
    assert f"E={float(e[2, 0]):.2f} top=" in texts[0][2]
    both = result.coherence_families(progress=True)  # the last frame, warp and warp + gain
    assert both["warp"][:2].isnan().all() and both["warp+gain"][:2].isnan().all()
    assert torch.equal(both["warp+gain"][2], e[2])
    _, texts = result.captions(both)
    warp, with_gain = float(both["warp"][2, 0]), float(e[2, 0])
    assert f"E={warp:.2f}/{with_gain:.2f} top=" in texts[0][2] and "E=" not in texts[0][1]
    every = result.coherence_families(every_frame=True)
    assert torch.equal(every["warp+gain"][1:], e[1:])
    result.save(tmp_path / "with_e.gif", coherence=True)
    assert Image.open(tmp_path / "with_e.gif").n_frames == 3
    plain, captioned = Image.open(tmp_path / "plain.png"), Image.open(tmp_path / "captioned.png")
    assert plain.size == (3 * 224, 224)
    assert captioned.size == (3 * 224, 224 + 2 * 12)  # a heading and a caption line
    # the caption band holds dark text pixels on white
    band = torch.from_numpy(np.asarray(captioned.crop((0, 236, 224, 248)).convert("L")).copy())
    assert band.min() < 100 and band.float().mean() > 200


def test_normalize_warns_on_0_255_statistics():
    with pytest.warns(UserWarning, match="0-255 pixel values"):
        parse_normalize("127.5,127.5")
    with pytest.warns(UserWarning, match="0-255"):
        parse_normalize("123.7:116.3:103.5,58.4:57.1:57.4")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_normalize("imagenet")
        parse_normalize("0.5,0.5")


@pytest.fixture()
def photo_files(tmp_path):
    folder = tmp_path / "photos"
    x, names = pk.data.photos(256, ["cat", "coffee"], fit="stretch")
    for image, name in zip(x, names, strict=True):
        save_png(folder / f"{name}.png", image)
    gray = Image.fromarray((x[0].mean(0) * 255).byte().numpy())  # a grayscale photo
    gray.save(tmp_path / "gray.png")
    return folder


def test_cli_morph_a_photo_by_name(tmp_path, photo_files, capsys):
    out = tmp_path / "cat.png"
    args = ["morph", str(photo_files / "cat.png"), "--model", "imagenet-lite0"]
    assert main([*args, "--target", "tiger cat", "--steps", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "read " in printed and "centre-cropped (--fit crop) and resized to 224x224" in printed
    assert "source 285 (Egyptian cat) -> target 282 (tiger cat)" in printed
    assert "final top-1" in printed
    assert Image.open(out).size == (3 * 224, 224 + 24)  # captioned strip, no --size needed
    gray = tmp_path / "gray.png"
    assert (
        main(
            [
                "morph",
                str(gray),
                *args[2:],
                "--target",
                "4",
                "--steps",
                "1",
                "--out",
                str(tmp_path / "g.gif"),
            ]
        )
        == 0
    )
    assert "grayscale: repeated over 3 channels" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--target", "lino"], "'lino' is not a class of the model; closest: 'lion' (291)"),
        (["--target", "Egyptian cat"], "already the model's class"),
        (["--target", "tiger", "--budget", "0"], "budget must be a finite number > 0"),
        (["--target", "tiger", "--size", "20000", "20000"], "GiB available; pass a smaller"),
        (["--target", "tiger", "--normalize", "imagenet"], "normalises its input itself"),
        (["--target", "tiger", "--size", "6", "6"], "both sides must be >= 8"),
    ],
)
def test_cli_morph_photo_errors(tmp_path, photo_files, capsys, extra, message):
    out = tmp_path / "never.png"
    args = ["morph", str(photo_files / "cat.png"), "--model", "imagenet-lite0", "--out", str(out)]
    assert main([*args, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.glob("never*")) and not list(tmp_path.glob(".never*"))


def test_cli_unknown_model_and_module_rules(tmp_path, photo_files, capsys, monkeypatch):
    args = [
        "morph",
        str(photo_files / "cat.png"),
        "--target",
        "1",
        "--out",
        str(tmp_path / "o.png"),
    ]
    assert main([*args, "--model", "imagenet-lite9"]) == 2
    assert "imagenet-lite0" in capsys.readouterr().err  # the embedded names are listed
    (tmp_path / "mymodels.py").write_text(
        "import pyramid_kernels as pk\n"
        "def lite():\n    return pk.models.load('imagenet-lite0')\n"
        "class Lite(type(pk.models.load('imagenet-lite0'))):\n"
        "    def __init__(self):\n"
        "        m = pk.models.load('imagenet-lite0')\n"
        "        super().__init__(m.net, 224)\n"
    )
    monkeypatch.chdir(tmp_path)  # the current folder is importable, as with python -m
    monkeypatch.setattr("sys.path", [p for p in __import__("sys").path if p not in ("", ".")])
    rest = ["--size", "64", "64", "--steps", "1", "--target", "tiger"]
    assert (
        main(
            [
                "morph",
                str(photo_files / "cat.png"),
                "--model",
                "mymodels:Lite",
                *rest,
                "--out",
                str(tmp_path / "cls.png"),
            ]
        )
        == 0
    )
    assert (tmp_path / "cls.png").exists()
    help_text = capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["morph", "--help"])
    help_text = capsys.readouterr().out
    assert "a class is instantiated" in help_text and "current folder" in help_text
    # --model errors say that they came from --model, and what to do
    (tmp_path / "broken.py").write_text(
        "import torch\n"
        "class Fails(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        raise ValueError('no weights here')\n"
        "NUMBER = 3\n"
    )
    (tmp_path / "typo.py").write_text("x = 1 +\n")
    torch.save(pk.models.load("digits-driver").state_dict(), tmp_path / "weights.pt")
    for model, message in [
        ("broken:Fails", "--model 'broken:Fails': Fails() failed: ValueError: no weights here"),
        ("broken:NUMBER", "--model 'broken:NUMBER': NUMBER is not a model (not callable: int)"),
        ("typo:x", "--model 'typo:x': importing typo failed: SyntaxError"),
        (str(tmp_path / "weights.pt"), "holds weights (a state_dict), not a model"),
    ]:
        assert main([*args, "--model", model]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("error:") == 1 and "Traceback" not in err, err


def test_generate_photos_by_name(tmp_path, photo_files):
    out = tmp_path / "out"
    args = ["generate", "--images", str(photo_files), "--model", "imagenet-lite0", "--out"]
    assert main([*args, str(out), "--target", "tiger cat", "--steps", "2", "--quiet"]) == 0
    with open(out / "manifest.csv") as f:
        rows = {r["image"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"cat.png", "coffee.png"}
    assert rows["cat.png"]["target"] == str(TIGER_CAT) and rows["cat.png"]["target_name"] == (
        "tiger cat"
    )
    assert rows["coffee.png"]["source_name"] == "espresso"
    assert int(rows["cat.png"]["final_class"]) in range(1000) and rows["cat.png"]["final_name"]
    strip = Image.open(out / "strips" / "cat.png")
    assert strip.size == (3 * 224, 224 + 24)
    run = (out / "run.json").read_text()
    assert '"color": "luminance"' in run and '"fit": "crop"' in run
    csv_targets = tmp_path / "targets.csv"
    csv_targets.write_text("image,target\ncat.png,tiger\ncoffee.png,968\n")
    out2 = tmp_path / "out2"
    assert main([*args, str(out2), "--target", str(csv_targets), "--steps", "1", "--quiet"]) == 0
    with open(out2 / "manifest.csv") as f:
        targets = {r["image"]: r["target_name"] for r in csv.DictReader(f)}
    assert targets == {"cat.png": "tiger", "coffee.png": "cup"}
    assert main([*args, str(tmp_path / "out3"), "--target", "tigerr", "--quiet"]) == 2
    assert not (tmp_path / "out3" / "manifest.csv").exists()


def test_read_image_crops_by_default(tmp_path):
    wide = torch.cat([torch.zeros(3, 20, 20), torch.ones(3, 20, 20), torch.zeros(3, 20, 20)], 2)
    save_png(tmp_path / "wide.png", wide)
    centre = read_image(tmp_path / "wide.png", 3, (10, 10))
    assert centre.min() == 1  # only the bright middle third is kept
    assert read_image(tmp_path / "wide.png", 3, (10, 10), "stretch").min() == 0


def test_cli_refuses_a_photo_too_small_for_a_pyramid(tmp_path, capsys):
    save_png(tmp_path / "tiny.png", torch.rand(3, 6, 6))
    scripted = torch.jit.script(pk.models.load("digits-driver"))  # no input spec: own size
    scripted.save(str(tmp_path / "driver.pt"))
    args = ["morph", str(tmp_path / "tiny.png"), "--model", str(tmp_path / "driver.pt")]
    assert main([*args, "--gray", "--target", "3", "--out", str(tmp_path / "o.png")]) == 2
    assert "is 6x6: too small for a pyramid" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_generate_target_name_needs_a_model_with_names():
    from pyramid_kernels.generating.targets import Targets

    with pytest.raises(ValueError, match="the model has no class names"):
        Targets("tiger", ["a.png"], None)
    assert Targets("tiger", ["a.png"], model_labels(pk.models.load("imagenet-lite0"))).fixed == 292


def test_large_jpegs_decode_reduced_and_huge_images_are_refused_by_name(tmp_path, monkeypatch):
    import warnings

    from pyramid_kernels.io import image_files

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (200, 240, 3), dtype=np.uint8)).save(tmp_path / "a.jpg")
    monkeypatch.setattr(image_files, "MAX_PIXELS", 10_000)  # 200x240 is over it
    with pytest.raises(image_files.ImageFileError, match=r"it is 240x200 \(0 megapixels\)"):
        read_image(tmp_path / "a.jpg", 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no PIL warning on the way
        small = read_image(tmp_path / "a.jpg", 3, (32, 32))  # decoded at 1/4: 60x50
    assert small.shape == (3, 32, 32)


def test_cli_says_what_it_does_to_tiny_and_transparent_images(tmp_path, capsys):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (5, 5, 3), dtype=np.uint8)).save(tmp_path / "t.png")
    Image.fromarray(rng.integers(0, 255, (40, 50, 4), dtype=np.uint8)).save(tmp_path / "a.png")
    args = ["--model", "digits-driver", "--target", "runner-up", "--steps", "1"]
    assert main(["morph", str(tmp_path / "t.png"), *args, "--out", str(tmp_path / "t.gif")]) == 2
    assert "is 5x5: too small to resize to 32x32" in capsys.readouterr().err
    assert main(["morph", str(tmp_path / "a.png"), *args, "--out", str(tmp_path / "a.gif")]) == 0
    said = capsys.readouterr().out
    assert "has transparency: composited over black" in said
    assert "upscaled" not in said  # 40x50 to 32x32 shrinks


def test_cli_warnings_are_one_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "plain_digits.py").write_text(
        "import torch, pyramid_kernels as pk\n"
        "class Net(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.net = pk.models.load('digits-driver')\n"
        "    def forward(self, x):\n"
        "        return self.net(x)\n"
    )
    save_png(tmp_path / "d.png", pk.data.digits("test")[0][0])
    monkeypatch.chdir(tmp_path)
    args = ["morph", "d.png", "--model", "plain_digits:Net", "--gray", "--size", "32", "32"]
    args += ["--normalize", "127.5,127.5", "--target", "runner-up", "--steps", "1"]
    assert main([*args, "--out", str(tmp_path / "o.png")]) == 0
    err = capsys.readouterr().err
    assert "pyramid-kernels morph: warning: normalize: mean (127.5,)" in err
    assert "parse_normalize(" not in err and "UserWarning" not in err
