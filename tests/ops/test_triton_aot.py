"""Every Triton kernel variant the library launches compiles for the GPU (sm_90), proven on
CPU: the interpreter runs code that the compiler rejects, and most sessions have no GPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require

ROOT = Path(__file__).resolve().parents[2]

COMPILE_ALL = """
import json
from pyramid_kernels.ops import triton_aot as aot
compiled = []
for (name, _, constants), source in aot.library_variants().items():
    kernel = aot.compile_source(source, arch=90)
    assert kernel.asm["cubin"], name  # ptxas ran: the PTX is valid for sm_90
    pointer = next(t for t in source.signature.values() if str(t).startswith("*"))
    compiled.append([name, pointer, constants])
print(json.dumps(compiled))
"""


@pytest.mark.slow
def test_every_kernel_variant_compiles_for_sm90(tmp_path):
    require("triton")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.update(TRITON_CACHE_DIR=str(tmp_path), TRITON_DEFAULT_FP_FUSION="1")
    done = subprocess.run(
        [sys.executable, "-c", COMPILE_ALL], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-4000:]
    compiled = json.loads(done.stdout.splitlines()[-1])
    kernels = {(name, pointer) for name, pointer, _ in compiled}
    names = ("_analysis_kernel", "_synthesis_kernel", "_rotate_kernel", "_extrapolate_kernel")
    magnify = {("_magnify_kernel", "*fp32")}
    assert kernels == {(n, p) for n in names for p in ("*fp32", "*fp64")} | magnify
    # 5 pyramids x 2 stages + 2 phase ops, per dtype, and the two magnification filters
    # (float32): the set covers what the tests launch
    assert len(compiled) == 26
    assert any("('SLOTS', 16)" in constants for _, _, constants in compiled)  # height > 8


def test_recording_interpreted_kernels_says_how_to_compile():
    require("triton")
    if os.environ.get("TRITON_INTERPRET") != "1":
        pytest.skip("the kernels are compiled here, not interpreted")
    from pyramid_kernels.ops import triton_aot as aot

    with pytest.raises(RuntimeError, match="unset TRITON_INTERPRET"):
        aot.library_variants()
