"""Checks of the C++ magnification chain (``torch.ops.pyramid_kernels_cpp.magnify_iir``), run by
tests/ops/test_magnify_chain.py on the installed build and, in a child process, on a build for
another -march. Plain functions (no pytest): the child imports this file by path."""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch

FILTERS = {False: [0.1, 0.0, -0.1, -1.8, 0.82], True: [0.2, 0.3]}  # biquad, difference
# fewer coefficients than one step of csrc/magnify/chain_vector.h (48 on AVX2, 64 on
# AVX-512), and a multiple of any vector width: a call this short runs only magnify.cpp's
# loops, vectorised by the compiler with no scalar remainder (GCC's scalar code rounds the
# last complex product without FMA, so its bits may differ by an ulp)
SLICE = 32
# one thread and n = 192 k + 32: the vector chain's steps (48 or 64) leave 32 to the loops
SIZE = 192 * 21 + SLICE
# the float32 atan2 and sincos each err below 2e-7 rad (csrc/magnify/polynomials.h), and the
# rotated coefficient's rounding adds up to 2^-24 sqrt(2)
ANGLE_BOUND = 2e-7 + 2e-7 + 2**-24 * math.sqrt(2)


def chain(c, r, state, filter, difference: bool, alpha: float, attenuate: bool):
    """The raw op on (T, N) coefficients, a new output."""
    out = torch.empty_like(c)
    torch.ops.pyramid_kernels_cpp.magnify_iir(
        c, r, state, filter, difference, alpha, attenuate, out
    )
    return out


def sliced_mismatches(n: int = SIZE) -> list[str]:
    """The float32 chain over ``n`` coefficients in one call on one thread (the vector chain,
    then the loops for the remainder) against the same coefficients in calls of SLICE (the
    loops only), three frames, every filter and mode: the cases whose output or state differ
    in any bit (none: both evaluate the same expressions)."""
    with _one_thread():
        return _mismatches(*_inputs(n))


def sample_output(n: int = SIZE) -> torch.Tensor:
    """(4, 3, n) complex64: the chain's output on one thread for every filter and mode on
    fixed inputs."""
    c, r = _inputs(n)
    with _one_thread():
        return torch.stack(
            [
                chain(c, r, torch.zeros(2, n), FILTERS[difference], difference, 20.0, attenuate)
                for difference in (False, True)
                for attenuate in (False, True)
            ]
        )


@contextmanager
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _inputs(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(3, n) coefficients of magnitudes 1e-15 to 1e15 and an (n) reference, complex64."""
    generator = torch.Generator().manual_seed(0)
    c = torch.randn(3, n, dtype=torch.complex64, generator=generator)
    r = torch.randn(n, dtype=torch.complex64, generator=generator)
    return c * torch.logspace(-15, 15, n), r


def _mismatches(c: torch.Tensor, r: torch.Tensor) -> list[str]:
    n = c.shape[1]
    mismatches = []
    for difference in (False, True):
        for attenuate in (False, True):
            args = (FILTERS[difference], difference, 20.0, attenuate)
            state = torch.zeros(2, n)
            whole = chain(c, r, state, *args)
            parts, states = [], []
            for start in range(0, n, SLICE):
                part = slice(start, min(start + SLICE, n))
                states.append(torch.zeros(2, part.stop - start))
                parts.append(
                    chain(c[:, part].contiguous(), r[part].contiguous(), states[-1], *args)
                )
            if not torch.equal(whole, torch.cat(parts, 1)):
                mismatches.append(f"output, difference={difference}, attenuate={attenuate}")
            if not torch.equal(state, torch.cat(states, 1)):
                mismatches.append(f"state, difference={difference}, attenuate={attenuate}")
    return mismatches


def angle_error(n: int = 1 << 20) -> float:
    """Radians: the worst error of the float32 chain's atan2 then sincos over ``n`` angles
    spanning [-pi, pi] and magnitudes from 1e-30 to 1e30. With reference 1, the filter
    y = delta (b = 1, 0, 0; a = 0, 0) and alpha 1, the chain returns c e^{i angle(c)}: its
    angle, in float64, against twice the float32 input's."""
    phi = torch.linspace(-math.pi, math.pi, n, dtype=torch.float64)
    shuffle = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    magnitude = torch.logspace(-30, 30, n, dtype=torch.float64)[shuffle]
    c = torch.polar(magnitude, phi).to(torch.complex64)
    exact = torch.angle(c.to(torch.complex128))  # the float32 input's own angle
    one = torch.ones(n, dtype=torch.complex64)
    out = chain(c[None], one, torch.zeros(2, n), [1.0, 0, 0, 0, 0], False, 1.0, False)[0]
    turned = out.to(torch.complex128) * torch.polar(torch.ones_like(exact), -2 * exact)
    return float(torch.angle(turned).abs().max())
