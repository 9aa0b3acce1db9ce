"""Wires the AI features into a MainWindow: controller, docks, tools, actions, hints.

Shortcut: Alt+mouse wheel over the canvas steps the active brush layer's seed (plain
wheel zooms, so they never clash); Alt+wheel over a generated layer does nothing.
"""
from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QLabel

from editor.core.layers import BrushLayer, RasterLayer
from editor.core.params import BrushParams
from editor.engine.requests import AcceleratorQuery
from editor.worker.diffusion import DiffusionController

from .. import layer_ops
from .brush_dock import SEED_MAX, BrushDock, random_seed
from .config import DEMO_SOURCE, AiConfig, load_config, save_config
from .document_loras import DocumentLorasDialog, open_document_loras
from .generate_base import GenerateBaseDialog
from .generate_layer import GenerateLayerPanel
from .model_picker import LoadProgressDialog, ModelPickerDialog, first_run_banner
from .region_tool import RegionTool
from .verbs_ui import AiVerbs

log = logging.getLogger(__name__)

SEED_MODULUS = SEED_MAX + 1  # the seed spin box tops out at 2**31 - 1


ACCELERATOR_KEY = ("gen", "accelerator")


class AiFeatures(QObject):
    """Everything AI in one window; reachable as ``window.ai``."""

    #: (info) the engine said what the machine runs on: {"cuda": bool, "cuda_name", "mps"}
    accelerator_known = Signal(object)

    def __init__(self, window, *, config_dir=None, config: AiConfig | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.config_dir = config_dir
        self.config = config if config is not None else load_config(config_dir)
        self.controller = DiffusionController(window.session, window.worker,
                                              model_source=self.config.effective_model,
                                              device=self.config.device, compile=self.config.compile,
                                              parent=self)
        prefs = getattr(window, "preferences", None)
        self.controller.engine.memory_mode = getattr(prefs, "memory_mode", "auto")
        self.region_tool: RegionTool = window.register_tool(RegionTool)
        self.brush_dock = BrushDock(self)
        self.controller.is_interacting = self.is_interacting
        self.controller.brush_applied.connect(lambda _layer: window.canvas.update())
        window.add_dock("ai-brush", "Diffusion Brush", self.brush_dock, Qt.DockWidgetArea.LeftDockWidgetArea,
                        scrollable=True)
        self._build_actions()
        self._wheel = _SeedWheel(self)
        window.canvas.installEventFilter(self._wheel)
        self.generate_panel = GenerateLayerPanel(self)
        # A tab beside History: shown, it leaves the Layers panel its height.
        dock = window.add_dock("ai-generate", "Generate Layer", self.generate_panel,
                               Qt.DockWidgetArea.RightDockWidgetArea, scrollable=True, tab_with="history")
        dock.hide()
        self._build_generate_actions()
        self.verbs = AiVerbs(self)
        self.base_dialog: GenerateBaseDialog | None = None
        self.document_loras_dialog: DocumentLorasDialog | None = None
        window.session.document_replaced.connect(self._follow_document_loras)
        self._follow_document_loras(self.document)
        self.model_picker: ModelPickerDialog | None = None
        self.load_dialog: LoadProgressDialog | None = None
        self.first_run_banner = first_run_banner(self)
        self.status_label = QLabel()
        self.status_label.setObjectName("ai-status")
        window.statusBar().addPermanentWidget(self.status_label)
        window.worker.started.connect(self._on_job_started)
        window.worker.progress.connect(self._on_job_progress)
        window.worker.busy_changed.connect(self._on_busy)
        #: the answer of check_accelerator() (None until the engine has answered)
        self.accelerator: dict | None = None
        self.controller.job_finished.connect(self._on_accelerator)
        self.controller.job_failed.connect(
            lambda key, _msg: self._on_accelerator(key, {"cuda": False, "cuda_name": None, "mps": False}))

    def native_size(self) -> int | None:
        """The loaded model's own picture size (None until a model has loaded). Only read
        here; the engine thread sets the model."""
        size = getattr(self.controller.engine.model, "native_size", None)
        return int(size) if size else None

    def model_title(self) -> str:
        source = self.controller.model_source
        return "the Demo model" if source == DEMO_SOURCE else source

    def new_image_size(self, width: int, height: int) -> tuple[int, int, str]:
        """(width, height, note) the New Image dialog suggests: the model's own size, and why
        (``width`` x ``height``, the current size, until a model has loaded)."""
        native = self.native_size()
        if native is None:
            return width, height, ("The AI model has not loaded yet, so its own picture size is not known; "
                                   "brush edits work on any canvas size.")
        return native, native, (f"{native}×{native} px is the size {self.model_title()} works at: Generate base "
                                "fills it directly. Brush edits work on any canvas size (they render "
                                f"{native} px windows around the region).")

    def check_accelerator(self) -> None:
        """Ask the engine (in its thread: it imports torch) whether CUDA is there; the answer
        arrives as ``accelerator_known`` and stays in ``accelerator``."""
        if self.accelerator is None:
            self.controller.generate(ACCELERATOR_KEY, AcceleratorQuery())

    def _on_accelerator(self, key, info) -> None:
        if key == ACCELERATOR_KEY:
            self.accelerator = dict(info)
            self.accelerator_known.emit(self.accelerator)

    # ------------------------------------------------------------------ state
    def is_interacting(self) -> bool:
        return bool(self.window.canvas._stroking or self.brush_dock.dragging)

    @property
    def document(self):
        return self.window.session.document

    def save_config(self) -> None:
        try:
            save_config(self.config, self.config_dir)
        except OSError as exc:
            self.window.show_message(f"Could not save AI settings: {exc}", 8000)

    # ------------------------------------------------------------------ actions
    def _build_actions(self) -> None:
        A = self.window.add_action
        A("Layer/AI", "ai-new-brush", "New &Brush Layer", self.new_brush_layer, "Ctrl+Shift+B")
        A("Layer/AI", "ai-apply-brush", "&Apply Brush Layer", self.apply_brush_layer)
        A("Layer/AI", "ai-region-tool", "Brush &Region Tool", lambda: self.use_region_tool(self.region_tool.mode))

    def _build_generate_actions(self) -> None:
        A = self.window.add_action
        panel = self.generate_panel
        A("Layer/AI", "ai-generate-base", "Generate &Base Image…", self.open_generate_base)
        A("Layer/AI", "ai-generate-layer", "&Generate Layer…", self.show_generate_panel, "Ctrl+Shift+G")
        A("Layer/AI", "ai-background", "Background for This Layer", lambda: self._generate("fg2bg"))
        A("Layer/AI", "ai-foreground", "Foreground for This Background", lambda: self._generate("bg2fg"))
        A("Layer/AI", "ai-joint", "Generate Foreground and Background Together", lambda: self._generate("joint"))
        A("Layer/AI", "ai-regenerate", "&Regenerate Layer", panel.regenerate)
        A("Layer/AI", "ai-variations", "&Variations…", panel.make_variations)
        self.window.menu("Layer/AI").addSeparator()
        A("Layer/AI", "ai-document-loras", "Document &LoRAs…", self.open_document_loras)
        A("Layer/AI", "ai-model", "Diffusion &Model…", self.open_model_picker)

    def show_generate_panel(self) -> GenerateLayerPanel:
        dock = self.window.docks["ai-generate"]
        dock.show()
        dock.raise_()
        self.generate_panel.prompt.setFocus()
        return self.generate_panel

    def _generate(self, mode: str) -> None:
        panel = self.show_generate_panel()
        if panel.prompt.text().strip():
            panel.generate(mode)
        else:
            self.window.show_message("Type a prompt in the Generate Layer panel, then press the button again")

    def open_document_loras(self) -> DocumentLorasDialog:
        self.document_loras_dialog = open_document_loras(self.window)
        return self.document_loras_dialog

    def _follow_document_loras(self, doc) -> None:
        doc.events.settings_changed.connect(lambda _name: self._show_document_loras())
        self._show_document_loras()

    def _show_document_loras(self) -> None:
        """The generate dialogs start from the document's LoRA list."""
        loras = self.document.default_loras
        self.generate_panel.loras.set_loras(loras)
        if self.base_dialog is not None:
            self.base_dialog.loras.set_loras(loras)

    def open_generate_base(self) -> GenerateBaseDialog:
        if self.base_dialog is None:
            self.base_dialog = GenerateBaseDialog(self)
            self.base_dialog.loras.set_loras(self.document.default_loras)
        self.base_dialog.show()
        self.base_dialog.raise_()
        return self.base_dialog

    def open_model_picker(self) -> ModelPickerDialog:
        self.model_picker = ModelPickerDialog(self)
        self.model_picker.show()
        return self.model_picker

    def choose_model(self, source: str, compile: bool | None = None) -> LoadProgressDialog:
        """Load ``source`` now (download with progress, cancellable); it is remembered once it
        loads, and a failed or cancelled load goes back to the previous model. ``compile``
        (None: as configured) turns torch.compile on or off."""
        previous = self.controller.model_source
        compile = self.config.compile if compile is None else bool(compile)
        self.load_dialog = LoadProgressDialog(self, source)
        self.load_dialog.finished_loading.connect(
            lambda outcome: self._model_outcome(outcome, source, previous, compile))
        self.controller.set_model(source, self.config.device, compile=compile)
        self.load_dialog.show()
        return self.load_dialog

    def set_memory_mode(self, mode: str) -> None:
        """A new GPU memory preference: the model reloads with it (on first use)."""
        if mode != self.controller.engine.memory_mode:
            self.controller.set_model(self.controller.model_source, self.config.device, load_now=False,
                                      rerender=False, memory_mode=mode)

    def memory_status(self) -> str:
        """The memory mode in words for the model picker: the active one once a model loaded."""
        from editor.ui.preferences import MEMORY_MODES

        wanted = self.controller.engine.memory_mode
        model = self.controller.engine.model  # a plain read; the engine thread sets it
        text = f"GPU memory preference: {MEMORY_MODES.get(wanted, wanted)}."
        plan = getattr(model, "memory", None)
        if plan is None:
            return text + " The mode is chosen when the model loads."
        return text + f" Active: {plan.label} ({plan.reason})."

    def _model_outcome(self, outcome: str, source: str, previous: str, compile: bool) -> None:
        if outcome == "loaded":
            self.config.model = "" if source == DEMO_SOURCE else source
            self.config.compile = compile
            self.save_config()
        elif previous != source or compile != self.config.compile:
            self.controller.set_model(previous, self.config.device, load_now=False, compile=self.config.compile)

    def _on_job_started(self, key) -> None:
        if self.controller.engine.model is None:  # a plain read; the engine thread sets it
            self.status_label.setText(f"AI: loading {self.controller.model_source} (first use)…")
        else:
            self.status_label.setText(f"AI: {self._describe(key)}…")

    def _on_job_progress(self, key, step, total) -> None:
        if key != ("model",) and total > 0:
            self.status_label.setText(f"AI: {self._describe(key)} {step}/{total}")

    def _on_busy(self, busy: bool) -> None:
        if not busy:
            self.status_label.setText("")

    def _describe(self, key) -> str:
        if isinstance(key, tuple) and key[:1] in (("brush",), ("brush-group",)):
            layer = self.document.find(key[1])
            return f"rendering {layer.name}" if layer is not None else "rendering"
        if key == ("model",):
            return "loading model"
        return "generating"

    def use_region_tool(self, mode: str) -> None:
        self.region_tool.set_mode(mode)
        self.window.tools.activate(self.region_tool.id)
        button = self.brush_dock.mode_buttons.get(mode)
        if button is not None:
            button.setChecked(True)

    def new_brush_layer(self) -> BrushLayer:
        """Add an empty brush layer above the active layer and pick the region tool."""
        doc = self.document
        prompt = self.brush_dock.prompt.text() if self.brush_dock._layer is None else ""
        # The model's profile gives the defaults (steps, strength, guidance) that show the prompt.
        defaults = self.controller.profile.brush_defaults()
        layer = BrushLayer(layer_ops.unique_name(doc, "Brush"), np.zeros((1, 1, 4), np.uint8),
                           params=BrushParams(prompt=prompt, seed=random_seed(), loras=doc.default_loras, **defaults),
                           state="done")
        parent, index = layer_ops._insert_point(doc)
        doc.add_layer(layer, parent, index, label="New brush layer")
        self.use_region_tool("paint" if self.region_tool.mode != "box" else "box")
        return layer

    def apply_brush_layer(self, layer: BrushLayer | None = None) -> RasterLayer | None:
        """Turn a brush layer into a pixel layer (one undo step) so later brushes see it."""
        doc = self.document
        layer = layer or doc.active_layer
        if not isinstance(layer, BrushLayer):
            self.window.show_message("The active layer is not a diffusion brush layer")
            return None
        if layer.state in ("stale", "rendering"):
            self.window.show_message("Wait for the brush layer to finish rendering, then Apply")
            return None
        parent = layer.parent
        index = parent.children.index(layer)
        raster = RasterLayer(layer.name, layer.pixels.copy(), visible=layer.visible, opacity=layer.opacity,
                             blend_mode=layer.blend_mode, offset=layer.offset,
                             mask=None if layer.mask is None else layer.mask.copy(),
                             mask_enabled=layer.mask_enabled, mask_inverted=layer.mask_inverted)
        with doc.history.group(f"Apply {layer.name}"):
            doc.add_layer(raster, parent if parent is not doc.root else None, index + 1)
            doc.remove_layer(layer)
        doc.active_layer = raster
        return raster

    def step_seed(self, steps: int) -> bool:
        """Show the next (or previous) variant of the active brush layer; False if not possible."""
        doc = self.document
        layer = doc.active_layer
        if not isinstance(layer, BrushLayer) or steps == 0:
            return False
        if layer.params.seed_locked:
            self.window.show_message("The seed is locked (unlock it in the Diffusion Brush dock)")
            return False
        seed = (layer.params.seed + steps) % SEED_MODULUS
        doc.set_layer_property(layer, "params", layer.params.replace(seed=seed),
                               merge_key=("ai-seed-wheel", layer.id), label=f"{layer.name}: seed")
        self.window.show_message(f"Seed {seed}", 1500)
        return True


class _SeedWheel(QObject):
    """Alt+wheel over the canvas steps the active brush layer's seed."""

    def __init__(self, features: AiFeatures) -> None:
        super().__init__(features)
        self.features = features

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        if event.type() != QEvent.Type.Wheel:
            return False
        if not event.modifiers() & Qt.KeyboardModifier.AltModifier:
            return False
        if not isinstance(self.features.document.active_layer, BrushLayer):
            return False
        # Some platforms turn Alt+wheel into a horizontal wheel: take whichever axis moved.
        d = event.angleDelta()
        delta = d.y() or d.x()
        if delta == 0:
            return True
        self.features.step_seed(1 if delta < 0 else -1)
        return True
