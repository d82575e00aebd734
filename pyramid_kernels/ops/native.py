"""Loading the C++ CPU kernels (``csrc/``: each op family's ``csrc/<family>/*.cpp`` and the
extension's ``init.cpp``, registered as ``torch.ops.pyramid_kernels_cpp``).

Two ways, tried in order, once per process:
1. the extension built at install, ``pyramid_kernels.ops._C`` (``pip install --no-build-isolation``
   with torch installed first, as ``make`` does), if this CPU has every instruction-set
   extension the build assumed (``ops/_C_build.json``, written by setup.py: a build made on an
   AVX-512 machine and copied to an AVX2 one is skipped, with a notice, not run into an
   illegal instruction);
2. otherwise the same sources compiled on first use with torch.utils.cpp_extension, cached
   under TORCH_EXTENSIONS_DIR (default ~/.cache/torch_extensions) and reused by later processes
   (a plain ``pip install .`` or ``pip install git+URL``: build isolation hides torch from
   setup.py, so the install ships the sources instead). It needs a C++ compiler; it takes
   tens of seconds once, and says so on stderr.

Where neither works, one RuntimeWarning names the slower backend (the pure-torch reference)
and the fix. PYRAMID_KERNELS_NO_CPP=1 skips both (the torch reference on CPU, no warning).
PYRAMID_KERNELS_MARCH=<target> (x86-64-v3, skylake-avx512, native, ...) skips the installed
extension and compiles one for that -march on first use (cached per target): how the benches
measure an AVX2 build on an AVX-512 machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import threading
import warnings
from functools import lru_cache
from pathlib import Path

from .flags import MARCH, compile_flags, cpu_features, march, missing_features

EXTENSION_DIR = Path(__file__).resolve().parent  # ops/: where the installed _C lies
PACKAGE = EXTENSION_DIR.parent


def source_folder() -> Path:
    """The C++ sources: ``pyramid_kernels/csrc/`` in an installed package (placed there at
    build time), else the checkout's top-level ``csrc/`` (an editable install)."""
    for folder in (PACKAGE / "csrc", PACKAGE.parent / "csrc"):
        if (folder / "init.cpp").is_file():
            return folder
    raise FileNotFoundError(f"no C++ sources in {PACKAGE / 'csrc'} or {PACKAGE.parent / 'csrc'}")


NAME = "pyramid_kernels_cpp"  # the library of the compiled-on-first-use build


def _ninja_on_path() -> None:
    """torch.utils.cpp_extension runs ``ninja`` from PATH: add the ninja wheel's folder (a
    venv's bin is not on PATH unless the venv is activated)."""
    try:
        import ninja
    except ImportError:
        return
    folder = getattr(ninja, "BIN_DIR", None)
    if folder and folder not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = folder + os.pathsep + os.environ.get("PATH", "")


def compile_sources(build_dir: str | None = None) -> None:
    """Compile csrc/**/*.cpp with torch.utils.cpp_extension and load the library (its
    TORCH_LIBRARY blocks register the ops); reuses a cached build of the same sources."""
    from torch.utils import cpp_extension

    sources = sorted(str(p) for p in source_folder().rglob("*.cpp"))
    compiler = os.environ.get("CXX", "c++")
    if shutil.which(compiler) is None:
        raise FileNotFoundError(f"no C++ compiler ({compiler!r} is not on PATH)")
    _ninja_on_path()
    # said only when it is slow, i.e. compiling (loading a cached build takes well under 2 s)
    notice = threading.Timer(
        2.0,
        lambda: print(
            "pyramid_kernels: compiling the C++ CPU kernels for this machine (once, about "
            "30 s; cached for later runs)",
            file=sys.stderr,
            flush=True,
        ),
    )
    notice.daemon = True
    notice.start()
    try:
        target = march()  # one cached build per -march target
        cpp_extension.load(
            name=f"{NAME}_{re.sub(r'[^0-9A-Za-z]', '_', target or 'baseline')}",
            sources=sources,
            extra_cflags=compile_flags(target),
            extra_ldflags=["-fopenmp"],
            build_directory=build_dir,
            is_python_module=False,
        )
    finally:
        notice.cancel()


def unrunnable_build(info_path: Path = EXTENSION_DIR / "_C_build.json") -> str | None:
    """Why the installed extension cannot run on this CPU (the extensions its build assumed
    that this CPU lacks), or None when it can or nothing says otherwise."""
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError):
        return None
    missing = missing_features(list(info.get("features", [])), cpu_features())
    if not missing:
        return None
    return (
        f"the installed build (-march={info.get('march')}) uses {', '.join(missing)}, which "
        "this CPU lacks"
    )


@lru_cache(maxsize=1)
def load_error() -> str | None:
    """Load the C++ ops (see the module docstring): None when they are registered, else why
    they are not (after one RuntimeWarning naming the fallback and the fix)."""
    if os.environ.get("PYRAMID_KERNELS_NO_CPP") == "1":
        return "PYRAMID_KERNELS_NO_CPP=1 is set"
    if os.environ.get(MARCH):  # a build for that -march, compiled on first use
        built = f"{MARCH}={os.environ[MARCH]} asks for a build of its own"
    elif (built := unrunnable_build()) is not None:  # compiled for this CPU instead
        print(f"pyramid_kernels: {built}; compiling the kernels for this CPU", file=sys.stderr)
    else:
        try:
            from . import _C  # noqa: F401  (registers the ops)

            return None
        except ImportError as error:
            built = f"pyramid_kernels.ops._C is not built ({error})"
    try:
        compile_sources()
    except Exception as error:  # no compiler, no ninja, a compile error: the reference serves
        reason = f"{built}, and compiling it on first use failed ({type(error).__name__}: {error})"
        warnings.warn(
            f"pyramid_kernels: the C++ CPU kernels are unavailable: {reason}. CPU calls use the "
            "pure-torch backend, about 2x slower. Fix: install a C++ compiler (g++ or clang) "
            "and run again, or reinstall with `pip install --no-build-isolation .` after "
            "installing torch",
            RuntimeWarning,
            stacklevel=2,
        )
        return reason
    return None
