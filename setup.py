"""Builds the C++ CPU extension ``pyramid_kernels.ops._C`` from csrc/ when torch is importable at
build time.

``pip install --no-build-isolation -e .`` after installing torch builds it here. A build with
isolation (plain ``pip install .`` or from a git URL) cannot see torch: it installs the sources
instead (csrc/ is copied into the package as pyramid_kernels/csrc/ at build time, and the sdist
carries it through MANIFEST.in), and pyramid_kernels.ops.native compiles them once on the first
CPU call (torch.utils.cpp_extension, cached); see docs/getting-started.md.
"""

import glob
import importlib.util
import json
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

OPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyramid_kernels", "ops")


def load_flags():
    """pyramid_kernels/ops/flags.py, loaded by path (the package itself needs torch)."""
    spec = importlib.util.spec_from_file_location("kernel_flags", os.path.join(OPS, "flags.py"))
    flags = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(flags)
    return flags


def kernel_flags() -> list[str]:
    """The compile flags for flags.march(): -march=native where the compiler takes it,
    PYRAMID_KERNELS_MARCH=<target> for another, PYRAMID_KERNELS_PORTABLE=1 for a build meant
    for other machines (x86-64-v3 on x86). Writes ops/_C_build.json beside the extension (the
    target and the CPU extensions it assumes), which the package checks before loading it."""
    flags = load_flags()
    target = flags.march()
    with open(os.path.join(OPS, "_C_build.json"), "w") as info:
        json.dump({"march": target, "features": flags.features(target)}, info)
    return flags.compile_flags(target)


# PYRAMID_KERNELS_ASAN=1 builds the kernels with AddressSanitizer (`make asan` runs the
# backend tests on such a build, the sanitizer runtime preloaded)
ASAN_FLAGS = (
    ["-fsanitize=address", "-fno-omit-frame-pointer", "-g"]
    if os.environ.get("PYRAMID_KERNELS_ASAN") == "1"
    else []
)


class BuildPyWithSources(build_py):
    """build_py that also places csrc/ in the built package (pyramid_kernels/csrc/): the
    sources a first-use compile of an install without the extension needs."""

    def run(self) -> None:
        super().run()
        target = os.path.join(self.build_lib, "pyramid_kernels", "csrc")
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree("csrc", target, ignore=shutil.ignore_patterns("*.o", "*.so"))


ext_modules, cmdclass = [], {"build_py": BuildPyWithSources}
sources = sorted(glob.glob(os.path.join("csrc", "**", "*.cpp"), recursive=True))
if sources and os.environ.get("PYRAMID_KERNELS_NO_CPP") != "1":
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except ImportError:
        print(
            "torch is not importable at build time (build isolation): the C++ kernels will be "
            "compiled on first use instead"
        )
    else:
        ext_modules.append(
            CppExtension(
                "pyramid_kernels.ops._C",
                sources,
                extra_compile_args={"cxx": [*kernel_flags(), *ASAN_FLAGS]},
                extra_link_args=["-fopenmp", *ASAN_FLAGS],
                py_limited_api=True,
            )
        )
        cmdclass["build_ext"] = BuildExtension

setup(ext_modules=ext_modules, cmdclass=cmdclass)
