"""Turns document state into engine jobs: diffusion brush renders, generation, model loading.

``DiffusionController`` lives in the GUI thread. It watches a session's document and
keeps every diffusion brush layer's pixels in step with its parameters, its region and
its source (the composite of the non-brush layers below it; brush layers never see
each other):

- a change of a brush layer's ``params`` or ``region``, or of any pixel layer below it,
  makes it ``stale`` and submits a render keyed by the layer id (the worker keeps only
  the newest job per key and stops a running one at its next step);
- while the user drags (``is_interacting()`` is True) renders are previews (fewer
  steps) shown without a history step; when the drag ends the final render follows;
- a final result is applied as ONE history step and the layer becomes ``done``; a
  failure makes it ``error`` with the message and leaves the document as it was;
- visibility, opacity, blend mode and order of brush layers never cause a render;
- the brush layers of a group marked "render together" render as ONE job keyed by the group
  (regions in one pass): a change to any member re-renders the group, coalesced like a layer.

The model lives in the engine thread (``EngineState``); the engine package (and torch)
is imported there on first use, so importing this module stays cheap for the GUI.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Hashable

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from editor.core.geometry import Rect
from editor.core.layers import BrushLayer, GroupLayer, Layer
from editor.core.profiles import ModelProfile, guess_profile
from editor.core.staleness import below_signature, stale_for_pixels, stale_for_property, stale_for_structure
from editor.engine.errors import ErrorKind, error_kind
from editor.render_path import (apply_brush_result, brush_window, build_brush_request, build_joint_request,
                                joint_group, joint_members, joint_window, result_pixels)

from .jobs import Job, JobCancelled

log = logging.getLogger(__name__)

MODEL_KEY = ("model",)
#: edits closer together than this are coalesced into one job; during a long burst a job
#: still goes out every MAX_WAIT_MS
DEBOUNCE_MS = 25
MAX_WAIT_MS = 100


def brush_key(layer_id: str) -> tuple:
    return ("brush", layer_id)


def group_key(group_id: str) -> tuple:
    """The job key of a render-together group (one job renders all its brush layers)."""
    return ("brush-group", group_id)


__all__ = ["DiffusionController", "EngineState", "BrushJob", "JointBrushJob", "GenerationJob"]


# ----------------------------------------------------------------------------- engine side
class EngineState:
    """The model and brush engine, touched only from jobs (i.e. the engine thread).

    ``brush_factory(model)`` makes the object whose ``render(request, progress, cancel)``
    draws brush layers (default: ``editor.engine.brush.BrushEngine``); tests replace it.
    """

    def __init__(self, source: str = "demo", device: str = "auto", compile: bool = False) -> None:
        self.source = source
        self.device = device
        self.compile = compile  # torch.compile the model on CUDA (see models.load_model)
        self.memory_mode = "auto"  # where the weights live (see engine.memory); set before a load
        self.model = None
        self.brush = None
        self.brush_factory: Callable[[Any], Any] | None = None
        self.render_calls = 0  # brush renders asked of the engine (read from the GUI for stats)

    def ensure_model(self, progress=None, cancel=None):
        if self.model is None:
            from editor.engine import models  # in the engine thread: pulls in torch

            self.model = models.load_model(self.source, self.device, progress=progress, cancel=cancel,
                                           compile=self.compile, memory_mode=self.memory_mode)
            self.brush = None
        return self.model

    def ensure_brush(self):
        model = self.ensure_model()
        if self.brush is None:
            factory = self.brush_factory
            if factory is None:
                from editor.engine.brush import BrushEngine as factory  # in the engine thread
            self.brush = factory(model)
        return self.brush

    def reset_brush(self) -> None:
        """Forget the brush engine (e.g. after brush_factory changed); next job makes a new one."""
        self.brush = None


class _BrushRun:
    """What the brush jobs share: the request's preview flag and the run in the engine thread."""

    @property
    def preview(self) -> bool:
        return self.request.preview

    def run(self, engine: EngineState, progress, cancelled):
        brush = engine.ensure_brush()
        if cancelled():
            raise JobCancelled()
        engine.render_calls += 1
        return self._render(brush, progress, cancelled)


@dataclass(frozen=True, eq=False)
class BrushJob(_BrushRun):
    """One brush render queued for the engine: the engine's own typed request (built in the
    GUI thread by editor.render_path, so it holds only the layer's window) and its generation."""

    request: Any  # editor.engine.requests.BrushRequest
    generation: int

    def _render(self, brush, progress, cancelled):
        return brush.render(self.request, progress=progress, cancel=cancelled)


@dataclass(frozen=True, eq=False)
class JointBrushJob(_BrushRun):
    """A render-together group's one job: a JointBrushRequest and each member's generation
    when it was built (a result is final only if none has changed since)."""

    request: Any  # editor.engine.requests.JointBrushRequest
    generations: tuple  # ((layer_id, generation), ...)

    def _render(self, brush, progress, cancelled):
        return brush.render_joint(self.request, progress=progress, cancel=cancelled)


@dataclass(frozen=True, eq=False)
class GenerationJob:
    """A generation queued for the engine: one typed request (editor.engine.requests) or a
    list of them run in a row with their progress joined (the result is then a list)."""

    key: Hashable
    request: Any

    @property
    def label(self) -> str:
        reqs = self.request if isinstance(self.request, (list, tuple)) else [self.request]
        return ", ".join(sorted({type(r).__name__ for r in reqs}))

    def run(self, engine: EngineState, progress, cancelled):
        from editor.engine.generation import run_request  # in the engine thread: pulls in torch

        many = isinstance(self.request, (list, tuple))
        reqs = list(self.request) if many else [self.request]
        model = engine.ensure_model() if any(r.needs_model for r in reqs) else None
        out = []
        for i, req in enumerate(reqs):
            step = (lambda s, t, i=i: progress(i * t + s, t * len(reqs))) if many else progress
            out.append(run_request(model, req, progress=step, cancel=cancelled))
        return out if many else out[0]


def weights_status(engine: EngineState, mode: str = "rgba", folders: dict | None = None, progress=None,
                   cancel=None) -> dict:
    """Whether the current model can generate ``mode`` natively, and what a download needs.
    ``folders``: model family -> a folder of weight files picked by the user."""
    from editor.engine import rgba
    from editor.engine.rgba import weights as w

    model = engine.ensure_model()
    folder = (folders or {}).get(model.family)
    ok, reason = rgba.layerdiffuse_available(model, weights=folder or None, mode=mode)
    family = model.family
    downloadable = str(getattr(model, "source", "")) != "demo" and (family, w.MODE_ROLES[mode][0]) in w.FILES
    missing = []
    if downloadable and not ok:
        found = (w.LayerWeights.from_folder(family, folder) if folder else w.find_local_weights(family)).files
        missing = [(r, w.FILES[(family, r)].filename, w.FILES[(family, r)].size_bytes)
                   for r in w.MODE_ROLES[mode] if r not in found and (family, r) in w.FILES]
    # the commit earlier downloads pinned (None before the first); only asked when a download is offered
    pinned = w.pinned_revision() if missing else None
    return {"available": ok, "reason": reason, "family": family, "mode": mode,
            "downloadable": downloadable and bool(missing), "missing": missing, "repo": w.REPO_ID,
            "licence_name": w.LICENCE_NAME, "licence_url": w.LICENCE_URL, "pinned": pinned}


def weights_download(engine: EngineState, family: str, roles, progress=None, cancel=None) -> str:
    """Download (resuming) and SHA-256-check the files into the default weights folder."""
    from editor.engine.rgba import weights as w

    kib = (lambda done, total: progress(int(done) // 1024, max(int(total) // 1024, 1))) if progress else None
    lw = w.download_weights(family, tuple(roles), progress=kib, cancel=cancel)
    return str(next(iter(lw.files.values())).parent) if lw.files else str(w.default_weights_dir())


def weights_validate(engine: EngineState, folder: str, progress=None, cancel=None) -> dict:
    """Load every LayerDiffuse file of the model's family found in ``folder`` with the strict
    loader (keys and shapes must match exactly); returns {"family", "roles"}. Raises naming the file."""
    from editor.engine.rgba import errors, pipeline
    from editor.engine.rgba import weights as w

    model = engine.ensure_model()
    lw = w.LayerWeights.from_folder(model.family, folder)
    lw.files.pop("encoder", None)  # not used by generation
    if not lw.files:
        names = ", ".join(wf.filename for (fam, r), wf in w.FILES.items() if fam == model.family and r != "encoder")
        raise errors.LayerDiffuseUnavailable(
            f"{folder}: no LayerDiffuse weight files for {model.family} models here "
            f"(expected one of: {names or 'none exist for this model family'})")
    for role, path in sorted(lw.files.items()):
        if cancel is not None and cancel():
            raise JobCancelled()
        if role == "decoder":
            pipeline._decoder(model, lw, path)
        elif role == "conv":  # SDXL conv patch: its header is checked against the UNet
            pipeline._xl_conv(model, path)
        elif model.family == "sdxl":
            pipeline._xl_lora(model, path)
        else:
            pipeline._sharing(model, path, "transparent_attn" if role == "attn" else role)
    return {"family": model.family, "roles": sorted(lw.files)}


# ----------------------------------------------------------------------------- GUI side
class DiffusionController(QObject):
    """See the module docstring. ``session`` needs ``document``, ``compositor`` and a
    ``document_replaced`` signal; ``worker`` is an :class:`EngineWorker`."""

    #: (source) a model finished loading / (source, message) loading failed
    model_loaded = Signal(str)
    model_failed = Signal(str, str, str)  # (source, message, kind: an ErrorKind value)
    #: (done KiB, total KiB) of a model download
    model_progress = Signal(int, int)
    #: generation jobs (keys of the form ("gen", ...)): finished / failed (key, message, kind)
    #: / progress / cancelled; kind is an editor.engine.errors.ErrorKind value to switch on
    job_finished = Signal(object, object)
    job_failed = Signal(object, str, str)
    job_progress = Signal(object, int, int)
    job_cancelled = Signal(object)
    #: (layer) a brush layer's result was applied (preview or final)
    brush_applied = Signal(object)
    #: no engine job runs or waits and no brush render is scheduled (see is_idle)
    idle = Signal()

    def __init__(self, session, worker, *, model_source: str = "demo", device: str = "auto",
                 compile: bool = False, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.worker = worker
        self.engine = EngineState(model_source, device, compile)
        self._source = model_source
        self.profile = guess_profile(model_source)
        #: True while a stroke or slider drag is in motion (renders are previews then)
        self.is_interacting: Callable[[], bool] = lambda: False
        self.enabled = True
        self._doc = None
        self._pending: set[str] = set()
        self._generation: dict[str, int] = {}
        self._specs: dict[str, BrushJob] = {}  # the job submitted last per layer
        self._windows: dict[str, Rect] = {}  # the window each layer was rendered in last
        #: the model's profile (a guess from its name until it has loaded)
        self.profile: ModelProfile = guess_profile(model_source)
        #: per layer, the transient edit (core history) its previews are shown through
        self._previews: dict = {}
        self._below_sig: dict[str, tuple] = {}
        self._previewed: set[str] = set()
        self.submitted = {"preview": 0, "final": 0}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._burst_start = 0.0
        self._timer.timeout.connect(self._flush)
        worker.started.connect(self._on_started)
        worker.progress.connect(self._on_progress)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.busy_changed.connect(self._on_busy_changed)
        session.document_replaced.connect(self._attach)
        self._attach(session.document)

    # ------------------------------------------------------------------ model
    @property
    def model_source(self) -> str:
        """The model asked for last (the engine thread switches when its job runs)."""
        return self._source

    @property
    def render_calls(self) -> int:
        """How many brush renders the engine was asked for so far."""
        return self.engine.render_calls

    def set_model(self, source: str, device: str | None = None, *, load_now: bool = True,
                  rerender: bool = True, compile: bool | None = None, memory_mode: str | None = None) -> None:
        """Switch to ``source`` (hub id, folder, .safetensors or "demo"), loaded in the engine
        thread (or on first use when ``load_now`` is False); download progress arrives as
        ``model_progress``. Brush layers re-render unless ``rerender`` is False. ``compile``
        (None: unchanged) turns torch.compile on or off for this and later loads; ``memory_mode``
        (None: unchanged) is "auto" or a forced mode of editor.engine.memory."""
        engine = self.engine
        device = device or engine.device
        compile = engine.compile if compile is None else bool(compile)
        memory_mode = engine.memory_mode if memory_mode is None else memory_mode
        self._source = source
        self.profile = guess_profile(source)

        def load(progress, cancelled):
            engine.source, engine.device, engine.compile = source, device, compile
            engine.memory_mode = memory_mode
            engine.model = engine.brush = None
            if load_now:
                kib = lambda done, total: progress(int(done) // 1024, max(int(total) // 1024, 1))  # noqa: E731
                engine.ensure_model(progress=kib, cancel=cancelled)
            return source

        self.worker.submit(Job(MODEL_KEY, load, label=f"Load {source}"))
        doc = self._doc
        if doc is not None and rerender:
            for layer in _brush_layers(doc):
                self.mark_stale(layer)

    def cancel_model_load(self) -> bool:
        return self.worker.cancel(MODEL_KEY)

    # ------------------------------------------------------------------ generation jobs
    def generate(self, key: Hashable, request, *, label: str = "") -> None:
        """Queue a typed generation request (``editor.engine.requests``: GenerateRequest,
        RgbaRequest, ...) or a list of them (one job, e.g. a grid of variations; result: a list)
        in the engine thread. Results arrive as ``job_finished(key, result)`` /
        ``job_failed(key, message, kind)``."""
        job = GenerationJob(key, request)
        engine = self.engine
        self.worker.submit(Job(key, lambda p, c: job.run(engine, p, c), label=label or job.label))

    def cancel(self, key: Hashable) -> bool:
        return self.worker.cancel(key)

    # ------------------------------------------------------------------ LayerDiffuse weights
    def run_weights_job(self, key: Hashable, action: str, **kwargs) -> None:
        """Run a LayerDiffuse weights job in the engine thread: ``action`` is "status"
        (mode, folders), "download" (family, roles) or "validate" (folder); see the
        ``weights_*`` functions above. Results arrive as ``job_finished`` / ``job_failed``;
        download progress as ``job_progress(key, done_kib, total_kib)``."""
        fn = {"status": weights_status, "download": weights_download, "validate": weights_validate}[action]
        engine = self.engine

        def call(progress, cancelled):
            return fn(engine, progress=progress, cancel=cancelled, **kwargs)

        self.worker.submit(Job(key, call, label=f"LayerDiffuse weights: {action}"))

    # ------------------------------------------------------------------ document
    @property
    def document(self):
        return self._doc

    def _attach(self, doc) -> None:
        if self._doc is not None:
            ev = self._doc.events
            ev.layer_changed.disconnect(self._on_layer_changed)
            ev.pixels_changed.disconnect(self._on_pixels)
            ev.structure_changed.disconnect(self._on_structure)
            self._doc.history.events.changed.disconnect(self._on_history)
            for key in self.worker.pending_keys():
                if isinstance(key, tuple) and key[:1] in (("brush",), ("brush-group",)):
                    self.worker.cancel(key)
        self._doc = doc
        self._pending.clear()
        self._specs.clear()
        self._previews.clear()
        self._previewed.clear()
        self._below_sig.clear()
        self._windows.clear()
        doc.events.layer_changed.connect(self._on_layer_changed)
        doc.events.pixels_changed.connect(self._on_pixels)
        doc.events.structure_changed.connect(self._on_structure)
        doc.history.events.changed.connect(self._on_history)
        for layer in _brush_layers(doc):
            self._below_sig[layer.id] = below_signature(doc, layer)
            if layer.state != "done" and _has_region(layer):
                self.mark_stale(layer)

    # The policy (which brush layers a change makes stale) is the core's: editor.core.staleness.
    def _on_layer_changed(self, layer: Layer, name: str) -> None:
        if isinstance(layer, GroupLayer) and name == "render_together":
            if not layer.render_together:
                self.worker.cancel(group_key(layer.id))
            for child in layer.children:
                if isinstance(child, BrushLayer) and _has_region(child):
                    self.mark_stale(child)
        for stale in stale_for_property(self._doc, layer, name, self._windows):
            self.mark_stale(stale)

    def _on_pixels(self, layer: Layer, rect) -> None:
        for stale in stale_for_pixels(self._doc, layer, rect, self._windows):
            self.mark_stale(stale)

    def _on_structure(self) -> None:
        change = stale_for_structure(self._doc, self._below_sig)
        self._below_sig = change.signatures
        for layer in change.stale:
            self.mark_stale(layer)
        for gone in change.gone:
            self._pending.discard(gone)
            self.worker.cancel(brush_key(gone))

    def _on_history(self) -> None:
        # A stroke on a layer below ended (its step was pushed): finish previews as finals.
        if self._previewed and not self.is_interacting():
            self.finish_previews()

    def finish_previews(self) -> None:
        """Replace preview results with final renders (call when a drag ends)."""
        for layer_id in list(self._previewed):
            layer = self._doc.find(layer_id)
            if isinstance(layer, BrushLayer):
                self._pending.add(layer_id)
        if self._pending:
            self._timer.start()

    # ------------------------------------------------------------------ scheduling
    def mark_stale(self, layer: BrushLayer) -> None:
        """Schedule a render of ``layer`` (coalesced; the newest request wins)."""
        if not self.enabled or layer.document is not self._doc:
            return
        self._generation[layer.id] = self._generation.get(layer.id, 0) + 1
        if layer.state not in ("stale", "rendering"):
            layer.state = "stale"
        self._pending.add(layer.id)
        # Trailing debounce: a burst of edits becomes one job, but a long drag still
        # submits at least every MAX_WAIT_MS so the preview keeps up.
        now = time.monotonic()
        if not self._timer.isActive():
            self._burst_start = now
            self._timer.start()
        elif (now - self._burst_start) * 1000 < MAX_WAIT_MS:
            self._timer.start()

    def is_idle(self) -> bool:
        """True when no engine job runs or waits and no brush render is scheduled."""
        return not self.worker.is_busy() and not self._pending and not self._timer.isActive()

    def _on_busy_changed(self, busy: bool) -> None:
        if not busy and self.is_idle():
            self.idle.emit()

    def render_now(self, layer: BrushLayer) -> None:
        """Submit a final render of ``layer`` right away."""
        self.mark_stale(layer)
        self._flush()

    def _flush(self) -> None:
        self._timer.stop()
        pending, self._pending = self._pending, set()
        doc = self._doc
        preview = bool(self.is_interacting())
        groups = set()
        for layer_id in pending:
            layer = doc.find(layer_id)
            group = joint_group(layer)
            if group is not None:
                if group.id not in groups:
                    groups.add(group.id)
                    try:
                        self._submit_group(group, preview)
                    except Exception as exc:  # noqa: BLE001 - a bad group must not break the others
                        log.exception("cannot render group %s", group.name)
                        for member in joint_members(group):
                            self._set_error(member, f"{type(exc).__name__}: {exc}")
                continue
            if isinstance(layer, BrushLayer):
                try:
                    self._submit(layer, preview)
                except Exception as exc:  # noqa: BLE001 - a bad layer must not break the others
                    log.exception("cannot render brush layer %s", layer.name)
                    self._set_error(layer, f"{type(exc).__name__}: {exc}", error_kind(exc))
        if self.is_idle():  # nothing was submitted (e.g. only regions cleared)
            self.idle.emit()

    def _submit(self, layer: BrushLayer, preview: bool) -> None:
        doc = self._doc
        gen = self._generation.get(layer.id, 0)
        window = brush_window(doc, layer, self.profile)
        if window is None:
            self.worker.cancel(brush_key(layer.id))
            self._windows.pop(layer.id, None)
            self._apply_empty(layer)
            return
        request = build_brush_request(doc, layer, self.profile, self.session.compositor, preview=preview,
                                      window=window)
        self._windows[layer.id] = window.rect.intersect(doc.rect)
        job = BrushJob(request, gen)
        self._specs[layer.id] = job
        self.submitted["preview" if preview else "final"] += 1
        engine = self.engine
        self.worker.submit(Job(brush_key(layer.id), lambda p, c: (job, job.run(engine, p, c)),
                               label=f"Render {layer.name}", finish=preview))

    def _submit_group(self, group: GroupLayer, preview: bool) -> None:
        """One job for all brush layers of a render-together group (regions in one pass)."""
        doc = self._doc
        for child in group.children:
            if isinstance(child, BrushLayer) and not _has_region(child):
                self.worker.cancel(brush_key(child.id))
                self._windows.pop(child.id, None)
                self._apply_empty(child)
        window = joint_window(doc, group, self.profile)
        if window is None:
            self.worker.cancel(group_key(group.id))
            return
        request = build_joint_request(doc, group, self.profile, self.session.compositor, preview=preview,
                                      window=window)
        rect = window.rect.intersect(doc.rect)
        gens = []
        for part in request.parts:
            self._windows[part.layer_id] = rect
            self.worker.cancel(brush_key(part.layer_id))  # a job from before the group was marked
            gens.append((part.layer_id, self._generation.get(part.layer_id, 0)))
        job = JointBrushJob(request, tuple(gens))
        self.submitted["preview" if preview else "final"] += 1
        engine = self.engine
        self.worker.submit(Job(group_key(group.id), lambda p, c: (job, job.run(engine, p, c)),
                               label=f"Render {group.name}", finish=preview))

    # ------------------------------------------------------------------ results
    def _on_started(self, key) -> None:
        for layer in self._members_for(key):
            if layer.state != "rendering":
                layer.state = "rendering"
        layer = self._brush_for(key)
        if layer is not None and layer.state != "rendering":
            layer.state = "rendering"

    def _on_progress(self, key, step, total) -> None:
        if key == MODEL_KEY:
            self.model_progress.emit(step, total)
        elif _is_gen(key):
            self.job_progress.emit(key, step, total)

    def _on_finished(self, key, result) -> None:
        if key == MODEL_KEY:
            self._check_profile()
            self.model_loaded.emit(str(result))
            return
        if _is_gen(key):
            self.job_finished.emit(key, result)
            return
        if _is_group(key):
            self._on_group_finished(key, result)
            return
        layer = self._brush_for(key)
        if layer is None:
            return
        spec, res = result
        self._check_profile()
        current = spec.generation == self._generation.get(layer.id, 0)
        final = current and not spec.preview
        try:
            self._apply_result(layer, res, final=final)
        except Exception as exc:  # noqa: BLE001 - e.g. a locked layer: report, keep the document
            self._set_error(layer, f"{type(exc).__name__}: {exc}", error_kind(exc))
            return
        if layer.error is None and layer.error_kind is not None:
            layer.error_kind = None
        if spec.preview and current:
            self._previewed.add(layer.id)
            if not self.is_interacting():
                self.finish_previews()
        self.brush_applied.emit(layer)

    def _on_group_finished(self, key, result) -> None:
        """Apply each member's result; a final result is one history step for the group."""
        spec, results = result
        doc = self._doc
        group = doc.find(key[1]) if doc is not None else None
        if not isinstance(group, GroupLayer):
            return
        self._check_profile()
        current = all(self._generation.get(lid, 0) == gen for lid, gen in spec.generations)
        final = current and not spec.preview
        applied = []
        try:
            with doc.history.group(f"Render {group.name}"):
                for res in results:
                    layer = doc.find(res.layer_id)
                    if isinstance(layer, BrushLayer):
                        self._apply_result(layer, res, final=final)
                        applied.append(layer)
        except Exception as exc:  # noqa: BLE001 - e.g. a locked layer: report, keep the document
            for layer in self._members_for(key):
                self._set_error(layer, f"{type(exc).__name__}: {exc}")
            return
        if spec.preview and current:
            self._previewed.update(layer.id for layer in applied)
            if not self.is_interacting():
                self.finish_previews()
        for layer in applied:
            self.brush_applied.emit(layer)

    def _members_for(self, key) -> list[BrushLayer]:
        if not _is_group(key) or self._doc is None:
            return []
        group = self._doc.find(key[1])
        return joint_members(group) if isinstance(group, GroupLayer) else []

    def _on_failed(self, key, message, kind=ErrorKind.INTERNAL.value) -> None:
        if key == MODEL_KEY:
            self.model_failed.emit(self._source, message, kind)
            return
        if _is_gen(key):
            self.job_failed.emit(key, message, kind)
            return
        for member in self._members_for(key):
            self._set_error(member, message, kind)
        layer = self._brush_for(key)
        if layer is not None:
            self._set_error(layer, message, kind)

    def _on_cancelled(self, key) -> None:
        if _is_gen(key) or key == MODEL_KEY:
            self.job_cancelled.emit(key)

    def _brush_for(self, key) -> BrushLayer | None:
        if not (isinstance(key, tuple) and len(key) == 2 and key[0] == "brush") or self._doc is None:
            return None
        layer = self._doc.find(key[1])
        return layer if isinstance(layer, BrushLayer) else None

    def _set_error(self, layer: BrushLayer, message: str, kind: str = ErrorKind.INTERNAL.value) -> None:
        self._previewed.discard(layer.id)
        layer.error_kind = str(kind)  # before error: a listener of error sees the kind too
        layer.error = message
        layer.state = "error"

    def _check_profile(self) -> None:
        """Take the loaded model's profile; brush layers re-render when it changes their windows."""
        model = self.engine.model
        if model is None:
            return
        profile = model.profile
        if profile != self.profile:
            self.profile = profile
            if self._doc is not None:
                for layer in _brush_layers(self._doc):
                    if _has_region(layer):
                        self.mark_stale(layer)

    def _end_previews(self, layer: BrushLayer) -> None:
        """Put back what was there before the previews: the next step's "before" is that."""
        edit = self._previews.pop(layer.id, None)
        self._previewed.discard(layer.id)
        if edit is not None:
            edit.cancel()

    def _apply_empty(self, layer: BrushLayer) -> None:
        self._end_previews(layer)
        if layer.pixels.shape[:2] != (1, 1) or layer.pixels.any():
            doc = self._doc
            with doc.history.group(f"Render {layer.name}"):
                doc.set_layer_property(layer, "pixels", np.zeros((1, 1, 4), np.uint8))
                doc.set_layer_property(layer, "offset", (0, 0))
        layer.error = None
        layer.state = "done"

    def _apply_result(self, layer: BrushLayer, result, *, final: bool) -> None:
        """A preview replaces the pixels without history; a final result is one history step
        (unless the user is undoing: then redo must stay possible, and brush pixels follow
        from the parameters anyway)."""
        doc = self._doc
        rgba, offset = result_pixels(doc, result)
        if not final:
            edit = self._previews.get(layer.id)
            if edit is None or not edit.active:
                edit = self._previews[layer.id] = doc.history.transient(layer, label=f"Render {layer.name}")
            edit.set("pixels", rgba.copy())  # shown, not history
            edit.set("offset", offset)
            return
        self._end_previews(layer)
        if doc.history.can_redo:
            layer.pixels = rgba.copy()
            layer.offset = offset
            layer.error = None
            layer.state = "done"
        else:
            apply_brush_result(doc, layer, result)

    # ------------------------------------------------------------------ teardown
    def shutdown(self) -> None:
        """Stop listening to the document (the worker is shut down by its owner)."""
        self._timer.stop()
        if self._doc is not None:
            ev = self._doc.events
            ev.layer_changed.disconnect(self._on_layer_changed)
            ev.pixels_changed.disconnect(self._on_pixels)
            ev.structure_changed.disconnect(self._on_structure)
            self._doc.history.events.changed.disconnect(self._on_history)
            self._doc = None


def _is_gen(key) -> bool:
    return isinstance(key, tuple) and len(key) >= 1 and key[0] == "gen"


def _is_group(key) -> bool:
    return isinstance(key, tuple) and len(key) == 2 and key[0] == "brush-group"


def _has_region(layer: BrushLayer) -> bool:
    return layer.region is not None and bool(layer.region.any())


def _brush_layers(doc) -> list[BrushLayer]:
    return [layer for layer in doc.walk() if isinstance(layer, BrushLayer)]
