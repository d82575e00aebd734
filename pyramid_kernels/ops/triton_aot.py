"""Ahead-of-time compilation of the Triton kernels for an NVIDIA target, without a GPU.

:func:`record_launches` runs launcher code with every kernel replaced by a recorder (on
``meta`` tensors nothing is computed or allocated) and keeps each distinct launch as the
``ASTSource`` Triton's JIT builds for it on CUDA; :func:`compile_source` compiles one with
``triton.compile``. This proves on CPU that the kernels compile for the GPU (the interpreter
runs code the compiler rejects) and measures compile time. Import only without
TRITON_INTERPRET (interpreted kernels cannot be compiled).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

# every op family's Triton module (ops/<family>/triton.py), by family name
KERNEL_MODULES = {
    path.parent.name: importlib.import_module(f"{__package__}.{path.parent.name}.triton")
    for path in sorted(Path(__file__).resolve().parent.glob("*/triton.py"))
}
_POINTER = {
    torch.float16: "*fp16",
    torch.bfloat16: "*bf16",
    torch.float32: "*fp32",
    torch.float64: "*fp64",
}


def _type(value) -> str | tuple:
    """Triton's signature type of one launch argument."""
    if isinstance(value, torch.Tensor):
        return _POINTER[value.dtype]
    if isinstance(value, tuple):
        return tuple(_type(v) for v in value)
    if isinstance(value, float):  # Triton passes Python floats as fp32
        return "fp32"
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"unexpected launch argument {value!r}")
    return "i32" if -(2**31) <= value < 2**31 else "i64"


def _source(fn, args: tuple, constants: dict) -> ASTSource:
    names = fn.arg_names
    signature = {name: _type(value) for name, value in zip(names, args, strict=False)}
    signature.update({name: "constexpr" for name in constants})
    signature = {name: signature[name] for name in names}  # the kernel's argument order
    return ASTSource(fn=fn, signature=signature, constexprs=constants)


@contextlib.contextmanager
def record_launches() -> Iterator[dict[tuple, ASTSource]]:
    """Within the block, kernel launches record their ``ASTSource`` instead of running;
    yields {(kernel name, signature, constexprs): source}, one entry per compiled variant."""
    sources: dict[tuple, ASTSource] = {}
    saved = []

    class Recorder:
        def __init__(self, name: str, fn):
            self.name, self.fn = name, fn

        def __getitem__(self, grid) -> Callable:
            def launch(*args, **constants):
                source = _source(self.fn, args, constants)
                key = (self.name, repr(source.signature), repr(sorted(constants.items())))
                sources.setdefault(key, source)

            return launch

    for module in KERNEL_MODULES.values():
        for name, fn in list(vars(module).items()):
            if name.endswith("_kernel"):
                if not isinstance(fn, triton.runtime.JITFunction):
                    raise RuntimeError(
                        f"{name} is not a compilable JITFunction; unset TRITON_INTERPRET "
                        "before importing pyramid_kernels to compile ahead of time"
                    )
                saved.append((module, name, fn))
                setattr(module, name, Recorder(name, fn))
    try:
        yield sources
    finally:
        for module, name, fn in saved:
            setattr(module, name, fn)


def library_variants(dtypes=(torch.float32, torch.float64)) -> dict[tuple, ASTSource]:
    """The variants the library launches on CUDA for a representative set of pyramids
    (complex and real, decimated and undecimated, K = 4 and 6, heights up to 8 and above;
    sizes, heights and partial collapses are runtime arguments) and the phase ops, per
    dtype, and the fused magnification chain (float32; biquad and difference filters):
    recorded on ``meta`` tensors."""
    from ..core.spec import PyramidSpec  # noqa: PLC0415
    from .transform import pipeline  # noqa: PLC0415

    transform, phase = KERNEL_MODULES["transform"], KERNEL_MODULES["phase"]
    magnify = KERNEL_MODULES["magnify"]

    specs = [
        (PyramidSpec(height=3), (40, 36)),
        (PyramidSpec(height=3, is_complex=False), (40, 36)),
        (PyramidSpec(height=2, downsample=False), (24, 20)),
        (PyramidSpec(height=2, orientations=6), (24, 20)),
        (PyramidSpec(height=9), (1024, 1024)),
    ]
    with record_launches() as sources:
        for dtype in dtypes:
            cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
            for spec, size in specs:
                x = torch.empty(2, *size, dtype=dtype, device="meta")
                scales = [1.0] * (spec.levels + 2)
                hp, *bands, lp = pipeline.analyze(x, spec, transform, scales)
                pipeline.synthesize(hp, bands, lp, spec, transform, scales)
            c = torch.empty(3, 5, dtype=cdtype, device="meta")
            a = torch.empty(3, 5, dtype=dtype, device="meta")
            phase.phase_rotate(c, a, a)
            phase.phase_extrapolate(c, a, a, torch.empty(4, dtype=dtype, device="meta"))
        c = torch.empty(3, 5, dtype=torch.complex64, device="meta")  # magnification: float32
        state = torch.empty(2, 5, device="meta")
        for difference in (False, True):
            filter = [0.0] * (2 if difference else 5)
            magnify.magnify_iir(c, c[0], state, filter, difference, 1.0, False)
    return sources


def compile_source(source: ASTSource, arch: int = 90):
    """Compile one recorded launch for ``sm_<arch>``; returns Triton's compiled kernel."""
    return triton.compile(source, target=GPUTarget("cuda", arch, 32))
