"""docs/layout.md's "Adding an op" recipe, walked: a toy op family written as its own folder
(contract and dispatch, one module per backend, the registered op) registers and dispatches
through the shared ops modules with no edit anywhere else."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest
import torch

from pyramid_kernels.ops.backends import available_backends

FAMILY = {
    "__init__.py": "",
    "kernels.py": """
        from typing import Protocol

        from pyramid_kernels.ops.backends import family_kernels


        class ScaleKernels(Protocol):
            def scale(self, x, factor: float): ...


        def scale_kernels(backend, device) -> ScaleKernels:
            return family_kernels(__package__, backend, device)
        """,
    "reference.py": """
        def scale(x, factor):
            return x * factor
        """,
    "cpp.py": """
        import torch


        def scale(x, factor):  # stands in for a binding of csrc/<family>/*.cpp
            return torch.mul(x, factor)
        """,
    "op.py": """
        import torch

        from pyramid_kernels.ops.registration import apply_at_this_level, below_autograd, register

        from .kernels import scale_kernels

        _lib = torch.library.Library("toy_family", "DEF")


        class _Scale(torch.autograd.Function):
            @staticmethod
            def forward(x, factor, backend):
                return below_autograd(scale_op, x, factor, backend)

            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.factor, ctx.backend = inputs[1], inputs[2]

            @staticmethod
            def backward(ctx, grad):
                return scale_op(grad, ctx.factor, ctx.backend), None, None

            @staticmethod
            def jvp(ctx, tangent, *_):
                return scale_op(tangent, ctx.factor, ctx.backend)


        scale_op = register(
            _lib,
            "scale(Tensor x, float factor, str backend) -> Tensor",
            lambda x, factor, backend: scale_kernels(backend, x.device).scale(x, factor),
            lambda x, factor, backend: torch.empty_like(x),
            lambda x, factor, backend: apply_at_this_level(_Scale, x, factor, backend),
            lambda info, dims, x, factor, backend: (scale_op(x, factor, backend), dims[0]),
        )
        """,
}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    folder = root / "toy_family_ops"
    folder.mkdir()
    for name, text in FAMILY.items():
        (folder / name).write_text(textwrap.dedent(text))
    sys.path.insert(0, str(root))
    try:
        yield (
            importlib.import_module("toy_family_ops.op"),
            importlib.import_module("toy_family_ops.kernels"),
        )
    finally:
        sys.path.remove(str(root))


def test_a_new_family_dispatches_to_its_own_modules(toy):
    _, kernels = toy
    cpu = torch.device("cpu")
    assert kernels.scale_kernels("torch", cpu).__name__ == "toy_family_ops.reference"
    auto = "toy_family_ops.cpp" if available_backends("cpu")["cpp"] is None else "reference"
    assert kernels.scale_kernels("auto", cpu).__name__.endswith(auto.rpartition(".")[2])
    if available_backends("cpu")["triton"] is None:  # a backend the family has no module for
        with pytest.raises(ValueError, match="no kernels for the toy_family_ops ops.*triton.py"):
            kernels.scale_kernels("triton", cpu)
    with pytest.raises(ValueError, match="backend must be one of"):
        kernels.scale_kernels("cuda-magic", cpu)


@pytest.mark.parametrize("backend", ["torch", "auto"])
def test_a_new_family_op_is_a_full_registered_op(toy, backend):
    op, _ = toy
    x = torch.rand(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.equal(op.scale_op(x, 2.5, backend), x * 2.5)
    assert torch.autograd.gradcheck(lambda t: op.scale_op(t, 2.5, backend), (x,))
    assert torch.autograd.gradcheck(
        lambda t: op.scale_op(t, 2.5, backend), (x,), check_forward_ad=True
    )
    batched = torch.func.vmap(lambda t: op.scale_op(t, 2.5, backend))(x.detach())
    assert torch.equal(batched, x.detach() * 2.5)
    torch.library.opcheck(op.scale_op, (x.detach(), 2.5, backend))
