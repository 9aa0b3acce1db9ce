"""Generate a transparent layer from a prompt, in a box dragged on the canvas.

The box is generated at the nearest multiples of 64 and scaled into place. While it
renders, the box shows a checkerboard and progress; Cancel stops it. The result is one
undoable step: a GeneratedLayer that remembers its parameters (saved in the .ora), so
it can be regenerated or varied (a grid of four to pick from). Also here: a background
for the active layer, a foreground for the picture, and both generated together.

The bundled demo model has its own transparency weights (trained by the project) and
generates through the same path as SD1.5/SDXL LayerDiffuse. When a model has no
LayerDiffuse weights the panel says so and offers the matte fallback: generated on a plain
background the model can paint and cut out, lower quality (an empty cut-out is refused
with a message, never added as a layer); for
SD1.5 and SDXL models it also offers to download the weights or to use local files
(weights_ui.py). SDXL models also offer the choice of LayerDiffuse patch: the attention
LoRA (default) or the conv weight offsets (stronger style, a separate download).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (QComboBox, QDialog, QDoubleSpinBox, QFormLayout, QFrame, QGridLayout, QHBoxLayout,
                               QLabel, QLineEdit, QProgressBar, QPushButton, QSpinBox, QToolButton, QVBoxLayout,
                               QWidget)

from editor.core.geometry import Rect
from editor.core.layers import GeneratedLayer, RasterLayer
from editor.core.params import RgbaParams
from editor.engine.errors import ErrorKind
from editor.engine.requests import (BackgroundRequest, ForegroundRequest, GenerateRequest, JointRequest,
                                    MatteRequest, RgbaRequest)

from .. import layer_ops
from ..qimage import rgba_to_qimage
from ..tools.base import PointerEvent, Tool
from .box_overlay import BoxOverlay
from .brush_dock import SEED_MAX, SeedRow
from .error_text import error_kind_of, user_message
from .imaging import fit, model_size
from .prompt_check import PromptCheck
from .lora_list import LoraList
from .weights_ui import DOWNLOAD_LABEL, LOCAL_LABEL, WeightsManager

log = logging.getLogger(__name__)

KEY = ("gen", "layer")
VARIATIONS_KEY = ("gen", "variations")
UNAVAILABLE = "LayerDiffuseUnavailable"
MATTE_FAILED = "MatteFailed"
# Engine messages also speak to scripting users ("use generate_matte ..."); the panel drops
# those parts and the error's class name and says the same in its own words.
_FOR_SCRIPTS = re.compile(r"generate_matte|generate_rgba|python -m|[a-z]+_[a-z_]+\(")


def user_text(message: str) -> str:
    """An engine error message without its class name and without the hints meant for scripts."""
    for prefix in (UNAVAILABLE, MATTE_FAILED):
        if message.startswith(prefix + ":"):
            message = message[len(prefix) + 1:].strip()
    parts = re.split(r"(?<=[.;])\s+", message)
    kept = [p for p in parts if not _FOR_SCRIPTS.search(p)]
    text = " ".join(kept).strip().rstrip(";").strip()
    if text and text[-1] not in ".!?)":
        text += "."
    return (text[0].upper() + text[1:]) if text else ""
MATTE_LABEL = "Use matte fallback (lower quality)"
XL_PATCH_ITEMS = (("Attention (default)", "attn"), ("Conv (stronger style)", "conv"))
MODE_TITLES = {"rgba": "Generate layer", "fg2bg": "Background for this layer",
               "bg2fg": "Foreground for this background", "joint": "Generate together"}


@dataclass
class GenRequest:
    """What the panel asked for; kept to place the result and to retry with the fallback."""

    mode: str  # rgba, fg2bg, bg2fg, joint
    params: RgbaParams
    box: Rect
    fallback: bool = False
    bg_prompt: str = ""
    anchor_id: str | None = None  # the layer a background goes under
    target_id: str | None = None  # a GeneratedLayer being regenerated
    extra: dict = field(default_factory=dict)


class GenBoxTool(Tool):
    """Drag the box a layer will be generated in."""

    id = "ai-gen-box"
    name = "Generation Box"
    shortcut = ""

    def __init__(self, host) -> None:
        super().__init__(host)
        self._start = None
        self.panel: "GenerateLayerPanel | None" = None

    def press(self, ev: PointerEvent) -> None:
        self._start = (ev.x, ev.y)
        self._update(ev)

    def move(self, ev: PointerEvent) -> None:
        if self._start is not None:
            self._update(ev)

    def release(self, ev: PointerEvent) -> None:
        if self._start is not None:
            self._update(ev)
            self._start = None

    def cancel(self) -> None:
        self._start = None

    def _update(self, ev: PointerEvent) -> None:
        (x0, y0), (x1, y1) = self._start, (ev.x, ev.y)
        doc = self.document
        rect = Rect.from_bounds(int(round(min(x0, x1))), int(round(min(y0, y1))),
                                int(round(max(x0, x1))), int(round(max(y0, y1)))).intersect(doc.rect)
        if self.panel is not None:
            self.panel.set_box(rect if not rect.is_empty else None)


class GenerateLayerPanel(QWidget):
    """The "Generate Layer" dock; ``features`` is the window's AiFeatures."""

    def __init__(self, features) -> None:
        super().__init__()
        self.setObjectName("ai-generate-panel")
        self.features = features
        self.window = features.window
        self.controller = features.controller
        self.box: Rect | None = None
        self.request: GenRequest | None = None  # running
        self.last_request: GenRequest | None = None
        self.variations: list[np.ndarray] = []
        self.variation_dialog: VariationsDialog | None = None
        self.overlay = BoxOverlay(self.window.canvas)
        self.overlay.hide()

        self.prompt = QLineEdit()
        self.prompt.setObjectName("gen-prompt")
        self.prompt.setPlaceholderText("What to generate (a transparent layer)")
        self.bg_prompt = QLineEdit()
        self.bg_prompt.setObjectName("gen-bg-prompt")
        self.bg_prompt.setPlaceholderText("Background (for 'Generate together')")
        # the transparent modes cannot compose terms: say so in the box rather than ignore AND / NOT
        self.prompt_checks = [PromptCheck(self.prompt, composition=False),
                              PromptCheck(self.bg_prompt, composition=False, what="Background")]
        self.negative = QLineEdit()
        self.negative.setObjectName("gen-negative")
        self.seed = SeedRow()
        self.steps = QSpinBox()
        self.steps.setObjectName("gen-steps")
        self.steps.setRange(1, 100)
        self.steps.setValue(20)
        self.guidance = QDoubleSpinBox()
        self.guidance.setObjectName("gen-guidance")
        self.guidance.setRange(0.0, 30.0)
        self.guidance.setValue(7.0)
        self.quality = QComboBox()
        self.quality.setObjectName("gen-quality")
        self.quality.addItem("Fast", "fast")
        self.quality.addItem("Quality", "quality")
        self.quality.setToolTip("Quality: 8 decodes and a median (cleaner edges, slower)")
        self.xl_patch = QComboBox()
        self.xl_patch.setObjectName("gen-xl-patch")
        for label, value in XL_PATCH_ITEMS:
            self.xl_patch.addItem(label, value)
        self.xl_patch.setToolTip("SDXL transparency patch: the attention LoRA (743 MB), or weight offsets of "
                                 "the other layers (3.6 GB download, stronger influence on the style)")
        for w in (self.prompt, self.bg_prompt, self.negative, self.steps, self.guidance, self.quality, self.xl_patch):
            w.setMinimumWidth(60)
        for combo in (self.quality, self.xl_patch):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(6)
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Prompt", self.prompt)
        form.addRow("", self.prompt_checks[0].label)
        form.addRow("Background", self.bg_prompt)
        form.addRow("", self.prompt_checks[1].label)
        form.addRow("Negative", self.negative)
        form.addRow("Seed", self.seed)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        form.addRow("Quality", self.quality)
        form.addRow("SDXL patch", self.xl_patch)
        self.loras = LoraList(object_prefix="gen-lora")
        form.addRow("LoRAs", self.loras)
        self.form = form

        self.box_label = QLabel()
        self.box_label.setObjectName("gen-box-label")
        self.draw_box = QPushButton("Draw box")
        self.box_label.setWordWrap(True)
        self.draw_box.setObjectName("gen-draw-box")
        self.whole = QPushButton("Whole canvas")
        self.whole.setObjectName("gen-whole")
        box_row = QHBoxLayout()
        box_row.addWidget(self.draw_box)
        box_row.addWidget(self.whole)

        self.generate_button = QPushButton("Generate")
        self.generate_button.setToolTip("Generate a transparent layer in the box")
        self.generate_button.setObjectName("gen-generate")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("gen-cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setObjectName("gen-progress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        run_row = QHBoxLayout()
        run_row.addWidget(self.generate_button)
        run_row.addWidget(self.cancel_button)

        self.fallback_frame = QFrame()
        self.fallback_frame.setObjectName("gen-fallback")
        self.fallback_frame.setFrameShape(QFrame.Shape.StyledPanel)
        self.fallback_text = QLabel()
        self.fallback_text.setWordWrap(True)
        self.fallback_text.setObjectName("gen-fallback-text")
        self.fallback_button = QPushButton(MATTE_LABEL)
        self.fallback_button.setObjectName("gen-fallback-button")
        self.download_weights_button = QPushButton(DOWNLOAD_LABEL)
        self.download_weights_button.setObjectName("gen-download-weights")
        self.local_weights_button = QPushButton(LOCAL_LABEL)
        self.local_weights_button.setObjectName("gen-local-weights")
        self.download_weights_button.hide()
        self.local_weights_button.hide()
        fb = QVBoxLayout(self.fallback_frame)
        fb.addWidget(self.fallback_text)
        fb.addWidget(self.fallback_button)
        fb.addWidget(self.download_weights_button)
        fb.addWidget(self.local_weights_button)
        self.fallback_frame.hide()

        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setObjectName("gen-regenerate")
        self.variations_button = QPushButton("Variations…")
        self.variations_button.setObjectName("gen-variations")
        self.background_button = QPushButton("Background")
        self.background_button.setToolTip(MODE_TITLES["fg2bg"])
        self.background_button.setObjectName("gen-fg2bg")
        self.foreground_button = QPushButton("Foreground")
        self.foreground_button.setToolTip(MODE_TITLES["bg2fg"] + " (the picture in the box)")
        self.foreground_button.setObjectName("gen-bg2fg")
        self.joint_button = QPushButton("Together")
        self.joint_button.setToolTip(MODE_TITLES["joint"] + ": the prompt and the Background prompt")
        self.joint_button.setObjectName("gen-joint")
        more = QGridLayout()
        more.addWidget(self.regenerate_button, 0, 0)
        more.addWidget(self.variations_button, 0, 1)
        more.addWidget(self.background_button, 1, 0)
        more.addWidget(self.foreground_button, 1, 1)
        more.addWidget(self.joint_button, 2, 0)
        self.status = QLabel()
        self.status.setObjectName("gen-status")
        self.status.setWordWrap(True)

        top = QVBoxLayout(self)
        top.addLayout(form)
        top.addWidget(self.box_label)
        top.addLayout(box_row)
        top.addLayout(run_row)
        top.addWidget(self.progress)
        top.addWidget(self.fallback_frame)
        top.addLayout(more)
        top.addWidget(self.status)
        top.addStretch(1)

        self.box_tool: GenBoxTool = self.window.register_tool(GenBoxTool)
        self.box_tool.panel = self
        self.draw_box.clicked.connect(lambda: self.window.tools.activate(self.box_tool.id))
        self.whole.clicked.connect(lambda: self.set_box(None))
        self.generate_button.clicked.connect(lambda: self.generate("rgba"))
        self.cancel_button.clicked.connect(self.cancel)
        self.fallback_button.clicked.connect(self.retry_with_fallback)
        self.weights = WeightsManager(self)
        self.weights.changed.connect(self._on_weights_status)
        self.download_weights_button.clicked.connect(self.weights.download)
        self.local_weights_button.clicked.connect(self.weights.use_local)
        self.regenerate_button.clicked.connect(self.regenerate)
        self.variations_button.clicked.connect(self.make_variations)
        self.background_button.clicked.connect(lambda: self.generate("fg2bg"))
        self.foreground_button.clicked.connect(lambda: self.generate("bg2fg"))
        self.joint_button.clicked.connect(lambda: self.generate("joint"))
        self.controller.job_finished.connect(self._on_finished)
        self.controller.job_failed.connect(self._on_failed)
        self.controller.job_progress.connect(self._on_progress)
        self.controller.job_cancelled.connect(self._on_cancelled)
        self.controller.model_loaded.connect(lambda _source: self.update_model_options())
        self.window.session.document_replaced.connect(lambda _d: self.set_box(None))
        self.set_box(None)
        self.update_model_options()

    # ------------------------------------------------------------------ model
    def model_family(self) -> str | None:
        """The loaded model's family (None before a load). Only read here: the engine
        thread sets the model, and a load is announced by ``model_loaded``."""
        return getattr(self.controller.engine.model, "family", None)

    def update_model_options(self) -> None:
        """Show the SDXL patch choice only while an SDXL model is loaded."""
        self.form.setRowVisible(self.xl_patch, self.model_family() == "sdxl")

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.update_model_options()
        super().showEvent(event)

    def weights_mode(self, req: GenRequest | None) -> str:
        """The weights a request needs ("rgba_conv": SDXL with the conv patch)."""
        if req is None:
            return "rgba"
        if req.mode == "rgba" and req.params.xl_patch == "conv" and self.model_family() == "sdxl":
            return "rgba_conv"
        return req.mode

    # ------------------------------------------------------------------ box
    @property
    def document(self):
        return self.window.session.document

    def set_box(self, box: Rect | None) -> None:
        self.box = box
        if box is None:
            self.box_label.setText("Box: whole canvas")
        else:
            gw, gh = model_size(box.w, box.h)
            self.box_label.setText(f"Box: {box.w}×{box.h} at {box.x},{box.y} (generated at {gw}×{gh})")
        if self.request is None:
            self.overlay.show_box(box)

    def target_box(self) -> Rect:
        doc = self.document
        return self.box if self.box is not None else doc.rect

    # ------------------------------------------------------------------ requests
    def _params(self, mode: str, box: Rect, seed: int | None = None) -> RgbaParams:
        return RgbaParams(prompt=self.prompt.text(), negative_prompt=self.negative.text(),
                          seed=self.seed.value() if seed is None else seed, steps=self.steps.value(),
                          guidance=self.guidance.value(), quality=self.quality.currentData(), mode=mode,
                          box=(box.x, box.y, box.w, box.h),
                          xl_patch=self.xl_patch.currentData() if self.model_family() == "sdxl" else "attn",
                          loras=self.loras.loras())

    def generate(self, mode: str = "rgba", *, fallback: bool = False) -> GenRequest | None:
        """Start generating; returns the request (None when something is missing)."""
        doc = self.document
        box = self.target_box()
        anchor = None
        if mode == "fg2bg":
            anchor = doc.active_layer
            if not isinstance(anchor, RasterLayer):
                self.window.show_message("Pick the layer that needs a background first")
                return None
            img, box = layer_ops.layer_image(doc, anchor)
        if not self.prompt.text().strip():
            self.window.show_message("Type a prompt first")
            self.prompt.setFocus()
            return None
        for check in self.prompt_checks:
            if not check.valid:
                self.window.show_message(check.error)
                check.edit.setFocus()
                return None
        req = GenRequest(mode, self._params(mode, box), box, fallback, self.bg_prompt.text(),
                         anchor_id=anchor.id if anchor is not None else None)
        if mode == "fg2bg":
            req.extra["image"] = img
        elif mode == "bg2fg":
            req.extra["image"] = self.window.session.compositor.render(box)
        self._start(req)
        return req

    def regenerate(self, *, vary: bool = False) -> GenRequest | None:
        """Run the active generated layer's saved parameters again (one step when done)."""
        layer = self.document.active_layer
        if not isinstance(layer, GeneratedLayer):
            self.window.show_message("The active layer is not a generated layer")
            return None
        p = layer.params
        box = Rect(*p.box) if p.box[2] > 0 and p.box[3] > 0 else Rect(*layer.offset, layer.width, layer.height)
        mode = "rgba" if p.mode in ("matte", "rgba", "joint") else p.mode
        req = GenRequest(mode, p, box, fallback=p.mode == "matte", target_id=layer.id)
        if mode == "bg2fg":
            req.extra["image"] = self.window.session.compositor.render(box)
        self._start(req)
        return req

    def retry_with_fallback(self) -> GenRequest | None:
        req = self.last_request
        if req is None:
            return None
        req = GenRequest(req.mode, req.params, req.box, True, req.bg_prompt, req.anchor_id, req.target_id,
                         dict(req.extra))
        self._start(req)
        return req

    def _start(self, req: GenRequest) -> None:
        self.fallback_frame.hide()
        self.update_model_options()
        sdxl = self.model_family() == "sdxl"
        if not sdxl and req.params.xl_patch != "attn":
            req.params = req.params.replace(xl_patch="attn")  # e.g. regenerating an SDXL layer on SD1.5
        self.request = self.last_request = req
        key, request = self._call(req, self.weights_folder(), req.params.xl_patch if sdxl else "attn")
        self.controller.generate(key, request)
        self.generate_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        title = MODE_TITLES.get(req.mode, "Generate")
        self.status.setText(f"{title}: generating" + (" (matte fallback, lower quality)…" if req.fallback else "…"))
        self.overlay.show_box(req.box, busy=True, text="Generating…")

    @staticmethod
    def _call(req: GenRequest, weights: str | None = None, xl_patch: str = "attn"):
        """(key, the engine's typed request, or a list of them run as one job) for a request."""
        p, box = req.params, req.box
        common = dict(seed=p.seed, steps=p.steps, guidance=p.guidance, negative_prompt=p.negative_prompt,
                      loras=tuple(p.loras))  # every job merges its layer's LoRA set (none: the model's own)
        gw, gh = model_size(box.w, box.h)
        if req.mode == "rgba":
            if req.fallback:
                return KEY, MatteRequest(prompt=p.prompt, width=box.w, height=box.h, **common)
            return KEY, RgbaRequest(prompt=p.prompt, width=box.w, height=box.h, quality=p.quality, weights=weights,
                                    xl_patch=xl_patch, **common)
        if req.mode == "bg2fg":
            if req.fallback:
                return KEY, MatteRequest(prompt=p.prompt, width=box.w, height=box.h, **common)
            return KEY, ForegroundRequest(bg_rgb=req.extra["image"], prompt=p.prompt, quality=p.quality,
                                          weights=weights, **common)
        if req.mode == "fg2bg":
            if req.fallback:
                return KEY, GenerateRequest(prompt=p.prompt, width=gw, height=gh, **common)
            return KEY, BackgroundRequest(fg_rgba=req.extra["image"], prompt=p.prompt, weights=weights, **common)
        if req.mode == "joint":
            bg = req.bg_prompt or "background"
            if req.fallback:
                return KEY, [MatteRequest(prompt=p.prompt, width=box.w, height=box.h, **common),
                             GenerateRequest(prompt=bg, width=gw, height=gh, **common)]
            return KEY, JointRequest(prompt_fg=p.prompt, prompt_bg=bg, prompt_blend=f"{p.prompt}, {bg}", width=gw,
                                     height=gh, quality=p.quality, weights=weights, **common)
        raise ValueError(f"unknown generation mode {req.mode!r}")

    def cancel(self) -> None:
        if self.request is not None:
            self.controller.cancel(KEY)

    # ------------------------------------------------------------------ results
    def _done(self, text: str) -> None:
        self.request = None
        self.generate_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText(text)
        self.overlay.show_box(self.box)

    def _on_progress(self, key, step, total) -> None:
        if key == KEY and self.request is not None and total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(step)
            self.overlay.show_box(self.request.box, busy=True, progress=step / total,
                                  text=f"Generating… {100 * step // total}%")

    def _on_cancelled(self, key) -> None:
        if key == KEY and self.request is not None:
            self._done("Cancelled")
        elif key == VARIATIONS_KEY:
            self._variations_done("Variations cancelled")

    def _on_failed(self, key, message: str, kind: str = ErrorKind.INTERNAL.value) -> None:
        kind = error_kind_of(kind)
        if key == VARIATIONS_KEY:
            self._variations_done(f"Variations failed: {user_text(message)}")
            if kind is ErrorKind.WEIGHTS_MISSING:
                self._offer_fallback(message)
            return
        if key != KEY or self.request is None:
            return
        self._done("")
        if kind is ErrorKind.WEIGHTS_MISSING:
            self._offer_fallback(message)
        elif kind is ErrorKind.NO_RESULT:
            # An empty cut-out is not handed over: say so where the result would have been.
            text = user_text(message)
            self.status.setText(text)
            self.window.show_message(text)
        else:
            self.window.show_error("Generation failed", user_message(kind, message))

    def weights_folder(self) -> str | None:
        """The local weights folder picked for the loaded model's family (None: the default
        folder and the hub cache). The model is only read here; the engine thread sets it."""
        family = getattr(self.controller.engine.model, "family", None)
        return self.weights.folder_for(family)

    def _on_weights_status(self, info: dict) -> None:
        if info["available"]:
            self.fallback_frame.hide()
            self.status.setText("Transparency weights are available: Generate uses them")
            return
        self.download_weights_button.setVisible(bool(info["downloadable"]))
        self.local_weights_button.setVisible(bool(info["downloadable"]))
        if info["downloadable"]:
            self.status.setText("Transparency weights are missing for this model: download them or pick local files")

    def _offer_fallback(self, message: str) -> None:
        reason = user_text(message)
        self.fallback_text.setText(
            "This model has no transparent (LayerDiffuse) weights, so layers cannot be generated "
            f"with real transparency.\n{reason}\n\nThe fallback generates on a plain background "
            "and cuts the subject out: lower quality.")
        # The download offer waits for a fresh availability answer: an earlier one (say, from
        # before a file went missing) would download the wrong files.
        self.download_weights_button.hide()
        self.local_weights_button.hide()
        self.fallback_frame.show()
        self.status.setText("Transparent generation is not available for this model")
        self.weights.refresh(self.weights_mode(self.last_request))

    def _on_finished(self, key, result) -> None:
        if key == VARIATIONS_KEY:
            self._show_variations(result)
            return
        if key != KEY or self.request is None:
            return
        req = self.request
        try:
            self._place(req, result)
        except Exception as exc:  # noqa: BLE001 - e.g. the anchor layer was deleted meanwhile
            log.exception("cannot place a generated layer")
            self._done("")
            self.window.show_error("Generation", f"Could not add the result: {exc}")
            return
        self._done("Done" + (" (matte fallback, lower quality)" if req.fallback else ""))

    def _place(self, req: GenRequest, result) -> None:
        doc = self.document
        box = req.box
        mode = "matte" if req.fallback and req.mode in ("rgba", "bg2fg") else req.mode
        params = req.params.replace(mode=mode, box=(box.x, box.y, box.w, box.h))
        name = (req.params.prompt.strip() or "Generated")[:32]
        if req.mode == "fg2bg":
            anchor = doc.find(req.anchor_id)
            if anchor is None:
                raise ValueError("the layer to put a background under is gone")
            rgba = fit(np.asarray(result), box.w, box.h)
            layer = RasterLayer(layer_ops.unique_name(doc, f"Background: {name}"), rgba, offset=(box.x, box.y))
            parent = anchor.parent
            doc.add_layer(layer, None if parent is doc.root else parent, parent.children.index(anchor),
                          label="Generate background")
            return
        if req.mode == "joint":
            fg, bg = result[0], result[1]  # joint: (fg, bg, blend); fallback: [matte, image]
            with doc.history.group("Generate together"):
                back = RasterLayer(layer_ops.unique_name(doc, f"Background: {req.bg_prompt or name}"),
                                   fit(np.asarray(bg), box.w, box.h), offset=(box.x, box.y))
                parent, index = layer_ops._insert_point(doc)
                doc.add_layer(back, parent, index)
                self._add_generated(fit(np.asarray(fg), box.w, box.h),
                                    params.replace(mode="matte" if req.fallback else "joint"), name, box)
            return
        rgba = fit(np.asarray(result), box.w, box.h)
        target = doc.find(req.target_id) if req.target_id else None
        if isinstance(target, GeneratedLayer):
            self._replace(target, rgba, params, "Regenerate")
        else:
            self._add_generated(rgba, params, name, box)

    def _add_generated(self, rgba, params: RgbaParams, name: str, box: Rect) -> GeneratedLayer:
        doc = self.document
        layer = GeneratedLayer(layer_ops.unique_name(doc, name), np.ascontiguousarray(rgba), params=params,
                               state="done", offset=(box.x, box.y))
        parent, index = layer_ops._insert_point(doc)
        doc.add_layer(layer, parent, index, label=f"Generate {layer.name}")
        return layer

    def _replace(self, layer: GeneratedLayer, rgba, params: RgbaParams, label: str) -> None:
        doc = self.document
        with doc.history.group(f"{label} {layer.name}"):
            doc.set_layer_property(layer, "pixels", np.ascontiguousarray(rgba))
            doc.set_layer_property(layer, "params", params)
        layer.state = "done"
        layer.error = None

    # ------------------------------------------------------------------ variations
    def make_variations(self, count: int = 4) -> bool:
        """Generate ``count`` other seeds of the active generated layer, shown as a grid."""
        layer = self.document.active_layer
        if not isinstance(layer, GeneratedLayer):
            self.window.show_message("Variations: pick a generated layer first")
            return False
        p = layer.params
        box = Rect(*p.box) if p.box[2] > 0 and p.box[3] > 0 else Rect(*layer.offset, layer.width, layer.height)
        seeds = [(p.seed + i) % (SEED_MAX + 1) for i in range(1, count + 1)]
        common = dict(steps=p.steps, guidance=p.guidance, negative_prompt=p.negative_prompt)
        if p.mode == "matte":
            calls = [MatteRequest(prompt=p.prompt, width=box.w, height=box.h, seed=s, **common) for s in seeds]
        else:
            xl_patch = p.xl_patch if self.model_family() == "sdxl" else "attn"
            calls = [RgbaRequest(prompt=p.prompt, width=box.w, height=box.h, seed=s, quality=p.quality,
                                 weights=self.weights_folder(), xl_patch=xl_patch, **common)
                     for s in seeds]
        self._variation_target = (layer.id, seeds, box)
        self.controller.generate(VARIATIONS_KEY, calls)
        self.variations_button.setEnabled(False)
        self.status.setText(f"Making {count} variations…")
        return True

    def _variations_done(self, text: str) -> None:
        self.variations_button.setEnabled(True)
        self.status.setText(text)

    def _show_variations(self, images) -> None:
        self._variations_done("Pick a variation")
        layer_id, seeds, box = self._variation_target
        self.variations = [fit(np.asarray(im), box.w, box.h) for im in images]
        dlg = VariationsDialog(self.variations, self.window)
        dlg.picked.connect(lambda i: self.pick_variation(i))
        self.variation_dialog = dlg
        dlg.show()

    def pick_variation(self, index: int) -> None:
        layer_id, seeds, box = self._variation_target
        layer = self.document.find(layer_id)
        if not isinstance(layer, GeneratedLayer):
            self.window.show_message("The generated layer is gone")
            return
        self._replace(layer, self.variations[index], layer.params.replace(seed=seeds[index]), "Variation of")
        if self.variation_dialog is not None:
            self.variation_dialog.close()


class VariationsDialog(QDialog):
    """A grid of generated images; clicking one emits ``picked(index)``."""

    picked = Signal(int)

    def __init__(self, images: list[np.ndarray], parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("ai-variations")
        self.setWindowTitle("Variations")
        grid = QGridLayout(self)
        self.buttons: list[QToolButton] = []
        for i, img in enumerate(images):
            b = QToolButton()
            b.setObjectName(f"variation-{i}")
            pm = QPixmap.fromImage(rgba_to_qimage(img)).scaled(
                QSize(160, 160), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            b.setIcon(QIcon(pm))
            b.setIconSize(pm.size())
            b.setToolTip(f"Variation {i + 1}")
            b.clicked.connect(lambda _=False, i=i: self.picked.emit(i))
            grid.addWidget(b, i // 2, i % 2)
            self.buttons.append(b)
