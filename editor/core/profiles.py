"""Per-model settings for AI work: the working resolution and the defaults a new layer starts from.

A profile is plain data (no torch) so that the GUI can choose a brush's working window and a
new layer's defaults without the engine. The engine attaches one to every loaded model.
"""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ModelProfile:
    """How a model is best used for region edits.

    native_size: the side of the pictures it was trained on (the working window is resampled
    to about this many pixels squared). grid: working sizes are multiples of this (VAE factor
    times the UNet's down-sampling). trajectory_steps: N of an imported source's base
    trajectory. steps/strength/guidance: defaults of a new brush layer (steps = R, regenerated
    of N). context: the window's side as a multiple of the region's. max_upscale: how far a
    small window may be enlarged to reach the native size. change_gate: paste only where the
    model changed the picture (keeps an untouched background exact; for the demo model,
    whose edits otherwise tint the whole box). context_strength: the default strength of the
    edits that start from a fill of the surroundings (remove, fill without a prompt): enough
    to add detail, little enough to keep the fill's colours; expand_strength: the same for a
    new strip of canvas, which has no object to redraw (demo model, benchmarks/verb_quality.py:
    0.5 left the background in a median 98% of a removed shape's pixels, 0.75 in 97%, 1.0 in
    86%, as more strength lets the model draw a new shape; expand at 0.75 continued the
    background in a median 98% of the strip, 72% at worst).
    vary_strength: a new variation's default. max_tiles: how many native-size tiles a long
    window (a strip of new canvas, a long stroke) may be denoised in before it is shrunk
    (editor/core/brush_window.py, editor/engine/tiled_unet.py).
    """

    name: str
    native_size: int
    grid: int = 8
    trajectory_steps: int = 20
    steps: int = 20
    strength: float = 1.0
    guidance: float = 7.5
    context: float = 1.6
    max_upscale: float = 2.0
    change_gate: bool = False
    context_strength: float = 0.5
    expand_strength: float = 0.75
    vary_strength: float = 0.5
    max_tiles: int = 4

    def replace(self, **changes) -> "ModelProfile":
        return replace(self, **changes)

    def brush_defaults(self) -> dict:
        """Keyword arguments of ``BrushParams`` for a new brush layer."""
        return {"steps": self.steps, "strength": self.strength, "guidance": self.guidance}

    def verb_defaults(self, verb: str, prompt: str = "") -> dict:
        """``brush_defaults`` for a layer of this verb (see BRUSH_VERBS)."""
        out = self.brush_defaults()
        if verb == "expand":
            out["strength"] = self.expand_strength
        elif verb == "remove" or (verb == "fill" and not prompt.strip()):
            out["strength"] = self.context_strength
        elif verb == "vary":
            out["strength"] = self.vary_strength
        return out


DEMO = ModelProfile("demo", native_size=256, grid=32, trajectory_steps=12, steps=12, strength=1.0,
                    guidance=7.5, context=1.6, max_upscale=2.0, change_gate=True)
SD15 = ModelProfile("sd15", native_size=512, grid=64, trajectory_steps=20, steps=10, strength=1.0,
                    guidance=7.5, context=2.0, max_upscale=2.0)
SD2V = SD15.replace(name="sd2", native_size=768)
SDXL = ModelProfile("sdxl", native_size=1024, grid=32, trajectory_steps=20, steps=10, strength=1.0,
                    guidance=7.0, context=2.0, max_upscale=2.0)
TURBO_STEPS = 4


def profile_for(family: str, native_size: int, *, grid: int = 8, is_turbo: bool = False,
                is_demo: bool = False) -> ModelProfile:
    """The profile of a loaded model from what the engine knows about it."""
    if is_demo:
        base = DEMO
    elif family == "sdxl":
        base = SDXL
    else:
        base = SD15
    prof = base.replace(name=family if not is_demo else "demo", native_size=int(native_size), grid=int(grid))
    if is_turbo:
        prof = prof.replace(trajectory_steps=TURBO_STEPS, steps=TURBO_STEPS, guidance=0.0)
    return prof


def guess_profile(source: str) -> ModelProfile:
    """A profile before the model has loaded (the real one replaces it once it has)."""
    return DEMO if str(source) == "demo" else SD15
