"""CUDA graph replay for the UNet and the VAE decoder.

A brush edit is a handful of small-batch UNet calls. On a fast GPU each eager call spends
more time launching its several hundred kernels from Python than computing them, so an edit
is launch-bound. Capturing one call per input shape as a CUDA graph and replaying it removes
that overhead without compiling anything (capture takes about a second).

Graphs are keyed by the shapes, dtypes and devices of the tensor arguments; inputs are
copied into the captured static buffers before each replay. Anything that fails to capture
falls back to the eager call for that shape, for good.
"""
from __future__ import annotations

import contextlib
import weakref
from collections import OrderedDict
from typing import Callable, Iterator

import torch


class GraphedCall:
    """Replays `fn(*tensors)` (one tensor out) from CUDA graphs, one per input signature."""

    def __init__(self, fn: Callable[..., torch.Tensor], max_graphs: int = 6, warmup: int = 2):
        self.fn = fn
        self.max_graphs = max_graphs
        self.warmup = warmup
        self._graphs: OrderedDict[tuple, tuple | None] = OrderedDict()
        self.replays = 0
        self.captures = 0
        self.failures = 0

    @staticmethod
    def _signature(tensors) -> tuple:
        return tuple((tuple(t.shape), t.dtype, str(t.device)) for t in tensors)

    def __call__(self, *tensors: torch.Tensor) -> torch.Tensor:
        key = self._signature(tensors)
        if key not in self._graphs:
            self._graphs[key] = self._capture(tensors)
            while len(self._graphs) > self.max_graphs:
                self._graphs.popitem(last=False)
        entry = self._graphs[key]
        self._graphs.move_to_end(key)
        if entry is None:
            return self.fn(*tensors)
        graph, static_in, static_out = entry
        for dst, src in zip(static_in, tensors):
            dst.copy_(src)
        graph.replay()
        self.replays += 1
        # The next replay overwrites the static output: hand out a copy.
        return static_out.clone()

    def _capture(self, tensors):
        static_in = [t.clone() for t in tensors]
        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(self.warmup):
                    self.fn(*static_in)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self.fn(*static_in)
        except Exception:  # noqa: BLE001 - any capture problem means: run this shape eagerly
            self.failures += 1
            torch.cuda.synchronize()
            return None
        self.captures += 1
        return graph, static_in, static_out


def enabled_for(module: torch.nn.Module) -> bool:
    """Graphs apply on CUDA only, not to a torch.compile'd module (it has its own), and not
    while the module's code path is swapped (see suspended)."""
    if is_suspended(module):
        return False
    try:
        device = next(module.parameters()).device
    except StopIteration:
        return False
    return device.type == "cuda" and not hasattr(module, "_orig_mod")


@contextlib.contextmanager
def suspended(module: torch.nn.Module) -> Iterator[None]:
    """Run `module` eagerly inside the block. For patches that swap submodules or attention
    processors: a graph replays the kernels it captured, so a graph captured before the swap
    would ignore the patch, and one captured during it would keep it after. (Patches that
    change weights in place need no suspension: replays read the same memory.)"""
    depth = getattr(module, "_layerbrush_graphs_suspended", 0)
    module._layerbrush_graphs_suspended = depth + 1
    try:
        yield
    finally:
        module._layerbrush_graphs_suspended = depth


def is_suspended(module: torch.nn.Module) -> bool:
    return getattr(module, "_layerbrush_graphs_suspended", 0) > 0


_unet_graphs: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_vae_graphs: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _compiled(fn: Callable) -> Callable:
    """fn compiled by TorchInductor: fused GroupNorm/SiLU and elementwise kernels, convolutions
    kept in one memory layout. Static shapes, so each latent size compiles once (the first call
    of a size takes tens of seconds; Inductor caches the result on disk for later sessions)."""
    import torch._inductor.config as inductor_config

    inductor_config.conv_1x1_as_mm = True  # process-wide, but it only changes code Inductor generates
    return torch.compile(fn, dynamic=False, fullgraph=False)


def _runner(cache, module, compiled: bool, make: Callable) -> GraphedCall:
    runners = cache.setdefault(module, {})
    runner = runners.get(compiled)
    if runner is None:
        fn = make()
        runner = runners[compiled] = GraphedCall(_compiled(fn) if compiled else fn)
    return runner


def unet_runner(unet, compiled: bool = False) -> GraphedCall:
    """The shared graphed call of a UNet: (sample, timestep, embeds[, text_embeds, time_ids])."""
    def make():
        def call(sample, timestep, embeds, *added):
            extra = {"text_embeds": added[0], "time_ids": added[1]} if added else None
            return unet(sample, timestep, encoder_hidden_states=embeds, added_cond_kwargs=extra,
                        return_dict=False)[0]
        return call

    return _runner(_unet_graphs, unet, compiled, make)


def vae_decode_runner(vae, compiled: bool = False) -> GraphedCall:
    """The shared graphed call of a VAE's decode: latent -> image tensor."""
    return _runner(_vae_graphs, vae, compiled, lambda: (lambda z: vae.decode(z, return_dict=False)[0]))
