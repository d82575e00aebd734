"""Replaying frozen morphs from CUDA graphs.

A small frozen morph is launch-bound on a GPU: hundreds of kernel launches (pyramid, model
forwards and backward, collapse, scoring), each far shorter than the host time to issue it.
:class:`GraphedRuns` runs such work eagerly the first time it sees its key; the second time it
warms the work up on a side stream and captures it in a CUDA graph; every later call with the
key copies the new inputs into the graph's static inputs, replays it (one launch) and returns
clones of its static outputs. The key must hold everything the captured work depends on
besides the inputs' values (see ``core._graph_key``).

A captured graph keeps its memory pool (the run's peak intermediates) until it is evicted (at
most ``capacity`` graphs are kept, least recently used first out) or :func:`clear_cuda_graphs`.
If capture fails (work that synchronises or copies from the host, e.g. a model calling
``.item()``), the key is remembered as uncapturable, a warning names the cause and the work
runs eagerly from then on.
"""

from __future__ import annotations

import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Protocol

import torch
from torch import Tensor

Run = Callable[..., tuple[Tensor, ...]]


class Replayable(Protocol):
    def replay(self, inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]: ...


class CapturedRun:
    """``fn`` captured in a CUDA graph on static copies of ``inputs`` (after one warm-up run
    on the capture stream); :meth:`replay` runs it on new inputs of the same shapes."""

    def __init__(self, fn: Run, inputs: tuple[Tensor, ...]) -> None:
        device = inputs[0].device
        self.inputs = tuple(t.clone() for t in inputs)
        stream = torch.cuda.Stream(device=device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            fn(*self.inputs)  # warm-up: lazy initialisation stays out of the capture
        self.graph = torch.cuda.CUDAGraph()
        before = torch.cuda.current_stream(device)
        try:  # thread_local: other threads (data loaders, writers) may synchronise meanwhile
            with torch.cuda.graph(self.graph, stream=stream, capture_error_mode="thread_local"):
                self.outputs = tuple(fn(*self.inputs))
        finally:  # a failed capture can leave the capture stream current
            torch.cuda.set_stream(before)
            before.wait_stream(stream)
        self.device = device
        self.done: torch.cuda.Event | None = None

    def replay(self, inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        """The captured outputs for ``inputs``, as fresh tensors (the static ones are reused)."""
        stream = torch.cuda.current_stream(self.device)
        if self.done is not None:  # an earlier replay on another stream must finish first
            stream.wait_event(self.done)
        for static, value in zip(self.inputs, inputs, strict=True):
            static.copy_(value)
        self.graph.replay()
        outputs = tuple(t.clone() for t in self.outputs)
        self.done = torch.cuda.Event()
        self.done.record(stream)
        return outputs


def _reference(owner: object) -> Callable[[], object]:
    """A weak reference to ``owner`` where it supports one, else a strong one."""
    try:
        return weakref.ref(owner)
    except TypeError:
        return lambda: owner


class GraphedRuns:
    """Eager on a key's first call, captured on its second, replayed after (see module doc).

    ``capture(fn, inputs)`` makes the replayable object (:class:`CapturedRun` on CUDA; tests
    pass their own). Entries are dropped when their ``owner`` (the model) is collected, so a
    new object reusing its ``id`` never replays another's graph.
    """

    def __init__(
        self,
        capacity: int = 2,
        capture: Callable[[Run, tuple[Tensor, ...]], Replayable] = CapturedRun,
    ) -> None:
        self.capacity, self.capture = capacity, capture
        # key -> (weak reference to the owner, graph or None)
        self._graphs: OrderedDict[Hashable, tuple[Callable, Replayable]] = OrderedDict()
        self._seen: OrderedDict[Hashable, tuple[Callable, None]] = OrderedDict()
        self._failed: dict[Hashable, tuple[Callable, None]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._graphs)

    def clear(self) -> None:
        with self._lock:
            self._graphs.clear()
            self._seen.clear()
            self._failed.clear()

    def run(self, key: Hashable, fn: Run, inputs: tuple[Tensor, ...], owner: object):
        """``fn(*inputs)``, eagerly or from the graph captured for ``key``. Replays and
        captures hold a lock (a replay's static inputs are shared); eager runs do not."""
        with self._lock:
            self._forget_dead()
            if key in self._graphs:
                self._graphs.move_to_end(key)
                return self._graphs[key][1].replay(inputs)
            if key in self._seen:
                del self._seen[key]
                graph = self._capture(key, fn, inputs, owner)
                if graph is not None:
                    return graph.replay(inputs)
            elif key not in self._failed:
                self._seen[key] = (_reference(owner), None)
                while len(self._seen) > 4 * self.capacity:
                    self._seen.popitem(last=False)
        return fn(*inputs)

    def _capture(self, key, fn: Run, inputs, owner) -> Replayable | None:
        """The graph of ``fn`` for ``key``, kept (evicting the least recently used); or None,
        the key remembered as uncapturable, with a warning."""
        try:
            graph = self.capture(fn, inputs)
        except RuntimeError as error:
            self._failed[key] = (_reference(owner), None)
            warnings.warn(
                f"this morph could not be captured in a CUDA graph, so it runs eagerly "
                f"(pass cuda_graph=False to skip the attempt): {error}",
                RuntimeWarning,
                stacklevel=4,  # the caller of pk.morph
            )
            return None
        self._graphs[key] = (_reference(owner), graph)
        while len(self._graphs) > self.capacity:
            self._graphs.popitem(last=False)
        return graph

    def _forget_dead(self) -> None:
        for table in (self._graphs, self._seen, self._failed):
            for key in [k for k, (owner, _) in table.items() if owner() is None]:
                del table[key]


FROZEN_GRAPHS = GraphedRuns()


def clear_cuda_graphs() -> None:
    """Drop every captured morph graph (and its memory pool) and forget the keys seen."""
    FROZEN_GRAPHS.clear()
