"""The fast backends against the torch reference: C++ on CPU tensors, Triton on CUDA tensors
(compiled) or on CPU tensors through the interpreter (TRITON_INTERPRET=1, set in conftest)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import DEVICE, FAST_BACKENDS, TOL, rel_max_error, require

import pyramid_kernels as pk
from pyramid_kernels.core.spec import PyramidSpec
from pyramid_kernels.ops.transform.op import build_op, collapse_op

OPS = Path(pk.__file__).resolve().parent / "ops"  # one folder per op family

BACKENDS = FAST_BACKENDS
EXACTNESS_SIZES = [(64, 64), (63, 65), (100, 37), (256, 192)]
# the interpreter runs a program in ~1 ms, so Triton on CPU gets small shapes
INTERPRETER_SIZES = [(32, 32), (33, 29), (20, 37)]
# on a GPU every (height, K, dtype, ...) is a compiled variant: odd, even and non-square sizes
# of one height keep the device check's compile time down
CUDA_SIZES = [(64, 64), (67, 65), (100, 77), (127, 71)]
SIZES = {
    "cpp": EXACTNESS_SIZES,
    "triton": INTERPRETER_SIZES if DEVICE["triton"] == "cpu" else CUDA_SIZES,
}


# every K from 2 to 8 compiled; in the interpreter (a program costs ~1 ms per tile op, and a
# band's work is a loop over K) the smallest, odd, even and largest, which cover its branches,
# and for tight_frame=False (the same kernels with other factors) one odd and one even K
INTERPRETED = DEVICE["triton"] == "cpu"
ORIENTATIONS = {True: (2, 3, 4, 8) if INTERPRETED else range(2, 9)}
ORIENTATIONS[False] = (3, 4) if INTERPRETED else range(2, 9)


def _spec_cases(orientations=range(2, 9)):
    for k in orientations:
        yield dict(is_complex=True, orientations=k, synthesis="adjoint" if k % 2 else "real")
        yield dict(is_complex=False, orientations=k)
    yield dict(is_complex=False, orientations=1)


@pytest.mark.parametrize(
    "backend,size", [(b, s) for b in BACKENDS for s in SIZES[b]], ids=lambda v: str(v)
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("tight_frame", [True, False])
def test_backend_matches_reference(backend, size, dtype, tight_frame):
    x = torch.randn(2, *size, dtype=dtype, device=require(backend))
    for kwargs in _spec_cases(ORIENTATIONS[tight_frame] if backend == "triton" else range(2, 9)):
        ref = pk.build(x, tight_frame=tight_frame, backend="torch", **kwargs)
        fast = pk.build(x, tight_frame=tight_frame, backend=backend, **kwargs)
        for a, b in zip(fast.tensors, ref.tensors, strict=True):
            assert rel_max_error(a, b) <= TOL[dtype], kwargs
        # collapse of coefficients off the range of build, so both synthesis modes matter
        edited = ref.replace(bands=[b * 1.5 + torch.randn_like(b) for b in ref.bands])
        y_ref = pk.collapse(edited, backend="torch")
        assert rel_max_error(pk.collapse(edited, backend=backend), y_ref) <= TOL[dtype], kwargs
        assert rel_max_error(pk.collapse(fast, backend=backend), x) <= TOL[dtype], kwargs


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "is_complex,synthesis", [(True, "adjoint"), (True, "real"), (False, "adjoint")]
)
def test_gradients_match_reference(backend, is_complex, synthesis):
    x = torch.randn(2, 24, 21, dtype=torch.float64, device=require(backend))
    grads = {}
    for name in ("torch", backend):
        xg = x.clone().requires_grad_(True)
        c = pk.build(
            xg,
            orientations=3,
            is_complex=is_complex,
            synthesis=synthesis,
            tight_frame=False,
            backend=name,
        )
        edited = c.replace(bands=[b * b.abs() for b in c.bands])  # nonlinear edit
        y = pk.collapse(edited, backend=name)
        (grads[name],) = torch.autograd.grad((y.sin() * x).sum(), xg)
    assert rel_max_error(grads[backend], grads["torch"]) <= 1e-12


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_opcheck(backend, dtype):
    x = torch.randn(2, 17, 19, dtype=dtype, device=require(backend), requires_grad=True)
    spec = PyramidSpec(2, 3, 1.0, True, True, "real")
    torch.library.opcheck(build_op, (x, spec.op_args(), backend))
    out = [o.requires_grad_(True) for o in build_op(x.detach(), spec.op_args(), "torch")]
    torch.library.opcheck(collapse_op, (out[0], out[1:-1], out[-1], spec.op_args(), backend))


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradcheck(backend):
    x = torch.randn(9, 8, dtype=torch.float64, device=require(backend), requires_grad=True)
    c = pk.build(x.detach(), height=1, orientations=3, backend=backend)
    leaves = [t.clone().requires_grad_(True) for t in c.tensors]

    def synth(*t):
        return pk.collapse(c.replace(highpass=t[0], bands=t[1:-1], lowpass=t[-1]), backend=backend)

    def analysis(x):
        return pk.build(x, height=1, orientations=3, backend=backend).tensors

    assert torch.autograd.gradcheck(analysis, (x,), fast_mode=True)
    assert torch.autograd.gradcheck(synth, tuple(leaves), fast_mode=True)


def test_cpp_reused_buffers_never_reach_results():
    """The C++ analysis reuses per-shape scratch buffers; results must not alias them."""
    require("cpp")
    first = pk.build(torch.randn(2, 40, 36), backend="cpp")
    saved = [t.clone() for t in first.tensors]
    pk.build(torch.randn(2, 40, 36), backend="cpp")  # same shapes: same scratch buffers
    for kept, now in zip(saved, first.tensors, strict=True):
        assert torch.equal(kept, now)


def test_cpp_row_runs_cover_exactly_the_nonzeros():
    require("cpp")
    from pyramid_kernels.ops.transform.cpp import row_runs

    g = torch.Generator().manual_seed(0)
    mask = (torch.rand(5, 7, 33, generator=g) > 0.6) * torch.rand(5, 7, 33, generator=g)
    mask[0, 0], mask[0, 1] = 0.0, 1.0  # an empty row and a full one
    offsets, runs = row_runs(mask)
    rebuilt = torch.zeros(35, 33, dtype=torch.bool)
    for row in range(35):
        last_stop = -1
        for start, stop in runs[offsets[row] : offsets[row + 1]].tolist():
            assert last_stop < start < stop  # ordered, non-empty, never touching
            rebuilt[row, start:stop] = True
            last_stop = stop
    assert torch.equal(rebuilt, (mask != 0).reshape(35, 33))


@pytest.mark.parametrize("workspace", [True, False])
def test_cpp_split_buffers_are_kept_per_mask_support(monkeypatch, workspace):
    """C++ splits write only where the masks are nonzero, into buffers zeroed once per mask
    support: specs with the same shapes but other supports must not see each other's bins."""
    require("cpp")
    from pyramid_kernels.ops.transform import cpp as cpp_spectral

    monkeypatch.setattr(cpp_spectral, "WORKSPACE", workspace)
    cpp_spectral.clear_workspace()
    x = torch.randn(2, 48, 40, dtype=torch.float64)
    specs = [dict(twidth=1.0), dict(twidth=0.6), dict(is_complex=False), dict(), dict(twidth=0.6)]
    for kwargs in specs:
        ref = pk.build(x, backend="torch", **kwargs)
        fast = pk.build(x, backend="cpp", **kwargs)
        for a, b in zip(fast.tensors, ref.tensors, strict=True):
            assert rel_max_error(a, b) <= 1e-12, kwargs


@pytest.mark.parametrize("images_per_chunk", [1, 4])
def test_cpp_synthesis_in_chunks_matches_reference(monkeypatch, images_per_chunk):
    require("cpp")
    from pyramid_kernels.ops.transform import cpp as cpp_spectral

    x = torch.randn(3, 2, 32, 36, dtype=torch.float64)
    per_image = 4 * 32 * 36 * 16  # level-0 band spectra of one image, complex128
    monkeypatch.setattr(cpp_spectral, "SYNTHESIS_CHUNK_BYTES", images_per_chunk * per_image)
    c = pk.build(x, backend="torch")
    edited = c.replace(bands=[b * 1.5 + torch.randn_like(b) for b in c.bands])
    y_ref = pk.collapse(edited, backend="torch")
    assert rel_max_error(pk.collapse(edited, backend="cpp"), y_ref) <= 1e-12
    assert rel_max_error(pk.collapse(c, backend="cpp"), x) <= 1e-12


def _cpp_band_split_args(data=torch.complex64, masks=torch.float32):
    """Arguments of the C++ band_split on one 8x8 level, K = 2, real masks of ``masks`` dtype."""
    from pyramid_kernels.ops.transform import cpp

    spec = pk.SteerablePyramid(height=1, orientations=2).spec
    low = torch.randn(1, 8, 8, dtype=data)
    mask_args = cpp._band_masks(0, (8, 8), (8, 8), spec, masks)
    bands, nxt = torch.zeros(1, 2, 8, 8, dtype=data), torch.zeros(1, 4, 4, dtype=data)
    return low, *mask_args, spec.order, bands, nxt


def test_cpp_kernels_reject_runs_outside_the_row():
    require("cpp")
    low, masks, lomask, offsets, runs, order, bands, nxt = _cpp_band_split_args()
    ops = torch.ops.pyramid_kernels_cpp
    ops.band_split(low, masks, lomask, offsets, runs, order, bands, nxt)  # the real runs work
    for bad in (runs + 8, runs.flip(1), runs - 1):
        with pytest.raises(RuntimeError, match="run"):
            ops.band_split(low, masks, lomask, offsets, bad.contiguous(), order, bands, nxt)
    with pytest.raises(RuntimeError, match="offsets"):
        ops.band_split(low, masks, lomask, offsets[:-1], runs, order, bands, nxt)


def test_cpp_kernels_reject_mismatched_dtypes():
    """The C++ kernels reinterpret complex memory as pairs of the masks' real type."""
    require("cpp")
    low, masks, lomask, offsets, runs, order, bands, nxt = _cpp_band_split_args(torch.complex128)
    ops = torch.ops.pyramid_kernels_cpp
    with pytest.raises(RuntimeError, match="masks must be a CPU Double tensor"):
        ops.band_split(low, masks, lomask, offsets, runs, order, bands, nxt)
    masks, lomask, nxt = masks.double(), lomask.double(), nxt.to(torch.complex64)
    with pytest.raises(RuntimeError, match="lowpass_next must have the bands' dtype"):
        ops.band_merge(bands, nxt, masks, lomask, offsets, runs, order, low)
    c = torch.randn(3, dtype=torch.complex64)
    wide = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="fields must be CPU Float"):
        ops.phase_rotate(c, wide, wide)


def test_each_op_family_keeps_its_op_reference_and_kernels_in_one_folder():
    """ops/<family>/: the registered op, its contract and dispatch (kernels.py), its torch
    reference, its C++ binding (the C++ source in csrc/<family>/) and its Triton kernels;
    nothing above the ops imports a backend's module."""
    import ast
    from pathlib import Path

    import pyramid_kernels

    package = Path(pyramid_kernels.__file__).parent
    families = sorted(p.name for p in (package / "ops").iterdir() if (p / "op.py").exists())
    assert families == ["magnify", "phase", "transform"]
    for family in families:
        folder = package / "ops" / family
        assert {"op.py", "reference.py", "cpp.py", "triton.py"} <= {
            p.name for p in folder.iterdir()
        }
        assert {"kernels.py"} <= {p.name for p in folder.iterdir()}, family
        assert list((package.parent / "csrc" / family).glob("*.cpp")), family  # its C++
    backend_modules = {"reference", "cpp", "triton"}
    for path in package.rglob("*.py"):
        if (package / "ops") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                leaf = node.module.rpartition(".")[2]
                named = {a.name for a in node.names}
                assert leaf not in backend_modules and not (named & backend_modules), (
                    f"{path.relative_to(package)} imports a backend's kernels"
                )


FAMILIES = sorted(p.parent.name for p in OPS.glob("*/kernels.py"))


def test_every_family_has_its_contract_and_dispatch():
    assert FAMILIES == ["magnify", "phase", "transform"]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_backend_satisfies_its_family_contract(family):
    """Each backend's module of a family (reference.py, cpp.py, triton.py) has every member of
    the family's contract (the Protocol in its kernels.py), with its parameters."""
    import importlib
    import inspect
    from typing import Protocol

    from pyramid_kernels.ops.backends import IMPLEMENTATIONS

    kernels = importlib.import_module(f"pyramid_kernels.ops.{family}.kernels")
    (contract,) = [
        v for v in vars(kernels).values()
        if isinstance(v, type) and Protocol in v.__mro__ and v is not Protocol
    ]  # fmt: skip
    members = {
        name: inspect.signature(getattr(contract, name))
        for name in vars(contract)
        if not name.startswith("_") and callable(getattr(contract, name))
    }
    assert members, contract
    for backend, module_name in IMPLEMENTATIONS.items():
        if backend != "torch":
            require(backend)
        module = importlib.import_module(f"pyramid_kernels.ops.{family}.{module_name}")
        for name in getattr(contract, "__annotations__", {}):  # data members, e.g. chunk sizes
            chunk = getattr(module, name)
            assert chunk is None or (isinstance(chunk, int) and chunk > 0), (backend, name)
        for name, signature in members.items():
            expected = [p for p in signature.parameters if p != "self"]
            got = list(inspect.signature(getattr(module, name)).parameters)
            assert got == expected, (backend, family, name)


@pytest.mark.parametrize(
    "size,tile,kwargs",
    [
        ((48, 40), (8, 16), dict(is_complex=False, orientations=3, twidth=1.7)),
        ((64, 64), (4, 8), dict(height=2)),  # tiles wholly inside the inner levels' discs
    ],
    ids=str,
)
def test_triton_small_tiles_skip_levels_exactly(monkeypatch, size, tile, kwargs):
    """With small tiles most tiles skip most levels (their masks are exactly zero there, or
    exactly one for the low-pass chain); the result must not change, and every output bin must
    still be written (NaN-poisoned)."""
    device = require("triton")
    from pyramid_kernels.ops.transform import triton as spectral

    monkeypatch.setitem(spectral.TILE, device, tile)
    x = torch.randn(1, *size, dtype=torch.float64, device=device)
    ref = pk.build(x, backend="torch", **kwargs)
    fast = pk.build(x, backend="triton", **kwargs)
    for a, b in zip(fast.tensors, ref.tensors, strict=True):
        assert rel_max_error(a, b) <= 1e-12
    edited = ref.replace(bands=[b * 1.5 + torch.randn_like(b) for b in ref.bands])
    y_ref = pk.collapse(edited, backend="torch")
    assert rel_max_error(pk.collapse(edited, backend="triton"), y_ref) <= 1e-12


def test_constants_read_by_a_captured_graph_outlive_their_cache(monkeypatch):
    """A CUDA graph keeps the addresses of the constants its kernels read: one fetched while
    capturing stays alive after its cache evicts it (else the graph reads freed memory);
    others are freed with their cache entry."""
    import gc
    import weakref

    from pyramid_kernels.core import constants

    monkeypatch.setattr(constants, "_PINNED", {})

    @constants.device_constants(maxsize=2)
    def make(key):
        return torch.full((3,), float(key)), torch.zeros(2)

    monkeypatch.setattr(constants, "capturing", lambda tensors: True)
    captured = [weakref.ref(t) for t in make(0)]
    monkeypatch.setattr(constants, "capturing", lambda tensors: False)
    plain = [weakref.ref(t) for t in make(1)]
    for key in range(2, 6):
        make(key)  # evicts keys 0 and 1
    gc.collect()
    assert all(r() is None for r in plain)
    assert all(r() is not None for r in captured) and constants.pinned_count() == 2


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_the_backends_pin_what_a_capture_reads(monkeypatch, backend):
    """The parameter buffer (Triton) and the mask tables (torch reference) come through
    the pinning cache: a build and collapse during a capture pin them."""
    device = require(backend)
    from pyramid_kernels.core import constants

    monkeypatch.setattr(constants, "_PINNED", {})
    pyr = pk.SteerablePyramid(height=2, backend=backend)
    x = torch.rand(2, 24, 20, device=device)
    pyr.collapse(pyr(x))
    assert constants.pinned_count() == 0
    monkeypatch.setattr(constants, "capturing", lambda tensors: True)
    pyr.collapse(pyr(x))
    assert constants.pinned_count() > 0


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (pyramid_kernels.ops._C importable or not as it says)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
    )


def test_importing_the_package_loads_neither_dynamo_nor_the_kernels():
    done = _python("""
        import sys
        import pyramid_kernels
        heavy = ["torch._dynamo", "pyramid_kernels.ops.transform.cpp", "pyramid_kernels.ops._C"]
        print([m for m in heavy if m in sys.modules])
    """)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


def test_the_constant_mark_is_the_one_torch_compile_reads():
    from pyramid_kernels.ops.backends import constant_under_compile

    def ours():
        return 1

    def theirs():
        return 1

    constant_under_compile(ours)
    torch.compiler.assume_constant_result(theirs)
    marks = {k: v for k, v in vars(theirs).items()}
    assert marks and vars(ours) == marks


BLOCK_BUILT = "import sys; sys.modules['pyramid_kernels.ops._C'] = None  # an install without it\n"


@pytest.mark.slow
def test_an_isolated_install_compiles_its_sources_on_first_use(tmp_path):
    """What a plain `pip install .` gets: build isolation hides torch from setup.py, so the
    wheel holds no extension but csrc/'s sources and headers (as pyramid_kernels/csrc/); the
    installed package's first CPU call compiles those sources once, later processes load the
    cached build, and PYRAMID_KERNELS_MARCH compiles one of its own for that target."""
    import zipfile

    root = OPS.parents[1]
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(root)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.endswith((".so", ".pyd"))]  # no extension: torch hidden
    shipped = sorted(n.removeprefix("pyramid_kernels/csrc/") for n in names if "/csrc/" in n)
    sources = [p for p in (root / "csrc").rglob("*") if p.suffix in (".cpp", ".h")]
    assert shipped == sorted(str(p.relative_to(root / "csrc")) for p in sources)
    site = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
         str(wheel)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    code = """
import torch, pyramid_kernels as pk
x = torch.rand(2, 3, 40, 36, dtype=torch.float64)
fast = pk.build(x, height=3, orientations=4, backend="cpp")
slow = pk.build(x, height=3, orientations=4, backend="torch")
error = max(float((a - b).abs().max()) for a, b in zip(fast.bands, slow.bands))
print(pk.available_backends()["cpp"], error < 1e-10, pk.__file__.startswith(sys.argv[1]))
"""
    code = "import sys\n" + code
    cache = str(tmp_path / "extensions")

    def run(**env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", code, str(site)], capture_output=True, text=True,
            env={**os.environ, "PYTHONPATH": str(site), "TORCH_EXTENSIONS_DIR": cache, **env},
            cwd=tmp_path, timeout=600,  # not the checkout's folder, whose package comes first
        )  # fmt: skip

    first = run()
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["None", "True", "True"]  # the installed copy, compiled
    assert "compiling the C++ CPU kernels" in first.stderr
    again = run()
    assert again.returncode == 0 and again.stdout.split() == ["None", "True", "True"]
    assert "compiling" not in again.stderr  # cached
    avx2 = run(PYRAMID_KERNELS_MARCH="x86-64-v3")
    assert avx2.returncode == 0 and avx2.stdout.split() == ["None", "True", "True"], avx2.stderr
    assert "compiling" in avx2.stderr
    assert [p.name for p in Path(cache).rglob("*x86_64_v3*")]


def test_without_a_compiler_one_warning_and_the_torch_backend(tmp_path):
    code = (
        BLOCK_BUILT
        + """
import warnings
import torch, pyramid_kernels as pk
from pyramid_kernels.ops.backends import resolve_backend
x = torch.rand(1, 1, 32, 32)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    a = pk.build(x, height=2)
    b = pk.build(x, height=2)
print(len(caught), resolve_backend("auto", "cpu"), torch.equal(pk.collapse(a), pk.collapse(b)))
print(caught[0].message)
"""
    )
    done = _python(code, CXX="/nonexistent/c++", TORCH_EXTENSIONS_DIR=str(tmp_path))
    assert done.returncode == 0, done.stderr
    counts, message = done.stdout.split("\n", 1)
    assert counts.split() == ["1", "torch", "True"]
    assert "pure-torch backend, about 2x slower" in message and "install a C++ compiler" in message
