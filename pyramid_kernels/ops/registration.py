"""Registering the library's ops so that every PyTorch transform composes through them.

Each op is defined with ``torch.library.Library``: one kernel for every device (the backend
argument picks the kernels), a fake kernel (torch.compile, export), a vmap rule
(``torch.func.vmap``) and an Autograd kernel. The Autograd kernel runs the op through a
``torch.autograd.Function`` with ``setup_context``, ``backward``, ``jvp`` and ``vmap`` whenever
autograd must see the call (an input requires grad, or carries a forward-mode tangent), so
reverse mode, forward mode and the torch.func transforms (grad, jacrev, jacfwd, jvp, hessian,
vmap of grad) all use the op's exact rules; otherwise it goes straight to the kernel.
(``torch.library.custom_op`` cannot do this: its autograd has no forward mode, so a jvp
through it returned a zero tangent without an error, and functorch rejects it.)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.autograd.forward_ad as forward_ad
from torch import Tensor
from torch._functorch.utils import enable_single_level_autograd_function


def tensors_of(args) -> list[Tensor]:
    """The tensors among op arguments (lists of tensors flattened)."""
    out = []
    for a in args:
        if isinstance(a, Tensor):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            out.extend(t for t in a if isinstance(t, Tensor))
    return out


def needs_autograd(tensors: list[Tensor]) -> bool:
    """Whether autograd must see a call: an input requires grad with grad mode on, or an
    input carries a forward-mode tangent."""
    if torch.is_grad_enabled() and torch._C._any_requires_grad(*tensors):
        return True
    if forward_ad._current_level < 0:
        return False
    return any(forward_ad.unpack_dual(t).tangent is not None for t in tensors)


def apply_at_this_level(function: type[torch.autograd.Function], *args):
    """``function.apply`` as a plain autograd node of the level being dispatched: from inside
    an Autograd kernel, where functorch has already entered its level (its own
    ``custom_function_call`` route only works above the dispatcher)."""
    with enable_single_level_autograd_function():
        return super(torch.autograd.Function, function).apply(*args)


def below_autograd(op, *args):
    """Call ``op`` skipping its Autograd kernel at this level (inside an autograd.Function's
    forward). Under functorch the lower levels still see the call: their autograd needs grad
    and forward-grad modes on, which autograd.Function turned off for the forward."""
    with torch._C._AutoDispatchBelowAutograd():
        if not torch._C._are_functorch_transforms_active():
            return op(*args)
        with torch.enable_grad(), forward_ad._set_fwd_grad_enabled(True):
            return op(*args)


def register(
    lib: torch.library.Library,
    schema: str,
    kernel: Callable,
    fake: Callable,
    apply: Callable,
    vmap_rule: Callable,
    legacy_batched: Callable | None = None,
):
    """Define ``schema`` in ``lib`` with these rules; returns the op's default overload.

    ``apply(*op_args)`` runs the op through its autograd.Function (lists of tensors
    flattened as that needs), ``vmap_rule(info, in_dims, *op_args)`` is its batching rule.
    ``legacy_batched`` is its kernel under the legacy prototype vmap (``torch._vmap_internals``,
    what gradcheck's check_batched_grad uses), which has no per-sample fallback for ops with
    tensor lists: a kernel written with ordinary vmappable torch ops.
    """
    name = schema.split("(", 1)[0]
    lib.define(schema)
    lib.impl(name, kernel, "CompositeExplicitAutograd")
    qualified = f"{lib.ns}::{name}"
    torch.library.register_fake(qualified, fake, lib=lib)
    op = getattr(getattr(torch.ops, lib.ns), name).default

    def autograd_kernel(keyset, *args):
        if needs_autograd(tensors_of(args)):
            return apply(*args)
        with torch._C._AutoDispatchBelowAutograd():
            return op.redispatch(keyset & torch._C._after_autograd_keyset, *args)

    lib.impl(name, autograd_kernel, "Autograd", with_keyset=True)
    torch.library.register_vmap(qualified, vmap_rule, lib=lib)
    if legacy_batched is not None:
        lib.impl(name, legacy_batched, "Batched")
    return op


def batch_first(tensor: Tensor, dim: int | None, size: int) -> Tensor:
    """``tensor`` with its vmapped dim moved to the front (or expanded there if unbatched)."""
    if dim is None:
        return tensor.unsqueeze(0).expand(size, *tensor.shape)
    return tensor.movedim(dim, 0)
