"""Regions in one pass through the one render path (editor.api.render_layers and the CLI)."""
from __future__ import annotations

import numpy as np

from editor import api
from editor.engine.testing import tiny_model, tiny_model_dir  # noqa: F401  (fixtures)
from editor.render_path import joint_group, joint_window


def two_region_doc(render_together=True, loras=()):
    doc = api.new_document(128, 128)
    doc.default_loras = loras
    yy, xx = np.mgrid[0:128, 0:128]
    pic = np.stack([xx * 2, yy * 2, xx + yy, np.full_like(xx, 127)], -1).astype(np.uint8)
    pic[..., 3] = 255
    doc.add_raster_layer("picture", pic)
    group = doc.add_group("regions", render_together=render_together)
    regions = []
    for x0, prompt in ((10, "a red cat"), (70, "a blue dog")):
        r = np.zeros((128, 128), np.uint8)
        r[40:80, x0:x0 + 45] = 255
        regions.append(r)
        group.add_brush_layer(r, prompt, seed=x0, steps=3)
    return doc, group, regions


def count_unet(monkeypatch, model):
    calls = []
    original = model.pipe.unet.forward
    monkeypatch.setattr(model.pipe.unet, "forward", lambda x, *a, **k: (calls.append(x.shape[0]), original(x, *a, **k))[1])
    return calls


def test_render_layers_renders_a_group_in_one_pass(tiny_model, monkeypatch):
    doc, group, regions = two_region_doc()
    a, b = group.layers
    assert joint_group(a) is joint_group(b) is a.parent and a.parent.render_together
    calls = count_unet(monkeypatch, tiny_model)
    assert api.render_layers(doc, tiny_model) == 2
    assert len(calls) == 3 and set(calls) == {3}  # one edit's 3 steps, batch [neg, red, blue]
    for layer, region, other in ((a, regions[0], regions[1]), (b, regions[1], regions[0])):
        assert layer.state == "done"
        x, y = layer.offset
        full = np.zeros((128, 128), np.uint8)
        full[y:y + layer.pixels.shape[0], x:x + layer.pixels.shape[1]] = layer.pixels[..., 3]
        assert full[region > 0].min() > 0 and not full[other > 0].any()
    # one stale member re-renders the whole group, again in one pass
    calls.clear()
    b.params = b.params.replace(seed=5)
    b.state = "stale"
    assert api.render_layers(doc, tiny_model) == 2
    assert len(calls) == 3 and a.state == b.state == "done"


def test_group_flag_off_renders_layers_separately(tiny_model, monkeypatch):
    doc, group, _ = two_region_doc(render_together=False)
    calls = count_unet(monkeypatch, tiny_model)
    assert api.render_layers(doc, tiny_model) == 2
    assert len(calls) == 6 and set(calls) == {2}


def test_joint_window_covers_every_member():
    from editor.core.profiles import SD15

    doc, group, regions = two_region_doc()
    win = joint_window(doc.core, group.layers[0].parent, SD15)
    for r in regions:
        ys, xs = np.nonzero(r)
        assert win.rect.x <= xs.min() and xs.max() < win.rect.x1 and win.rect.y <= ys.min() and ys.max() < win.rect.y1



def test_layers_sharing_the_document_loras_still_render_in_one_pass(tiny_model, monkeypatch, tmp_path):
    import torch
    from safetensors.torch import save_file

    from editor.engine.lora import active_loras, apply_loras

    gen = torch.Generator().manual_seed(1)
    sd = {}
    for name, module in tiny_model.pipe.unet.named_modules():
        if name.endswith("attn2.to_v"):
            sd[f"unet.{name}.lora_A.weight"] = torch.randn(4, module.weight.shape[1], generator=gen)
            sd[f"unet.{name}.lora_B.weight"] = torch.randn(module.weight.shape[0], 4, generator=gen)
    path = str(tmp_path / "style.safetensors")
    save_file(sd, path)
    plain, _, _ = two_region_doc()
    api.render_layers(plain, tiny_model)
    try:
        doc, group, _ = two_region_doc(loras=[(path, 0.8)])
        a, b = group.layers
        assert a.params.loras == b.params.loras == ((path, 0.8),)
        assert joint_group(a) is joint_group(b) is a.parent
        calls = count_unet(monkeypatch, tiny_model)
        assert api.render_layers(doc, tiny_model) == 2
        assert len(calls) == 3 and set(calls) == {3}  # one pass, with the shared set merged
        assert active_loras(tiny_model) == ((path, 0.8),)
        assert not np.array_equal(doc.render(), plain.render())

        # a layer with another set renders alone; the rest keep their pass
        calls.clear()
        b.params = b.params.replace(loras=())
        b.state = "stale"
        assert joint_group(a) is a.parent and joint_group(b) is None
        assert api.render_layers(doc, tiny_model, all_layers=True) == 2
        assert len(calls) == 6 and set(calls) == {2}
    finally:
        apply_loras(tiny_model, ())
