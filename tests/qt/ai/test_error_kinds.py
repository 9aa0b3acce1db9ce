"""Failures reach the UI with a kind (editor.engine.errors.ErrorKind), not as text to parse."""
from __future__ import annotations

import pytest
from ai_helpers import new_brush, settle, wait_done

from editor.engine.errors import BadRequest, ErrorKind, error_kind
from editor.engine.rgba.errors import LayerDiffuseUnavailable, MatteFailed, WeightsMismatch


def test_out_of_memory_in_the_engine_thread_reaches_the_layer_and_dock_as_its_kind(qtbot, ai_window):
    """A CUDA out-of-memory raised while the brush renders (in the engine thread) makes the
    layer an error of kind out_of_memory; the dock says so in words, and a later render
    that works clears the kind."""
    import torch

    win = ai_window
    ctrl = win.ai.controller
    ctrl.engine.ensure_brush().fail_with = torch.cuda.OutOfMemoryError(
        "CUDA out of memory. Tried to allocate 2.00 GiB")
    kinds = []
    win.ai.controller.job_failed.connect(lambda *a: kinds.append(a))
    layer = new_brush(win)
    settle(qtbot, win)
    assert layer.state == "error"
    assert layer.error_kind == ErrorKind.OUT_OF_MEMORY == "out_of_memory"
    text = win.ai.brush_dock.state_label.text()
    assert text.startswith("Out of memory:") and "fewer steps" in text
    assert "OutOfMemoryError" not in text  # no class names for the user
    assert kinds == []  # a brush failure is the layer's, not a generation job's

    ctrl.engine.brush.fail_with = None
    ctrl.render_now(layer)
    wait_done(qtbot, win, layer)
    assert layer.error is None and layer.error_kind is None
    assert win.ai.brush_dock.state_label.text() == "Up to date"


def test_a_bad_request_is_its_own_kind(qtbot, ai_window):
    win = ai_window
    win.ai.controller.engine.ensure_brush().fail_with = BadRequest("steps must be at least 1, got 0")
    layer = new_brush(win)
    settle(qtbot, win)
    assert layer.state == "error" and layer.error_kind == "bad_request"
    assert "steps must be at least 1" in win.ai.brush_dock.state_label.text()


@pytest.mark.parametrize("exc, kind", [
    (MemoryError(), ErrorKind.OUT_OF_MEMORY),
    (RuntimeError("MPS backend out of memory (MPS allocated: 9 GB)"), ErrorKind.OUT_OF_MEMORY),
    (BadRequest("x"), ErrorKind.BAD_REQUEST),
    (LayerDiffuseUnavailable("no weights"), ErrorKind.WEIGHTS_MISSING),
    (WeightsMismatch("key"), ErrorKind.WEIGHTS_MISMATCH),
    (MatteFailed("empty"), ErrorKind.NO_RESULT),
    (KeyError("x"), ErrorKind.INTERNAL),
])
def test_error_kind_of_exceptions(exc, kind):
    assert error_kind(exc) is kind


def test_the_worker_signal_carries_the_kind(qtbot):
    from editor.engine.errors import ModelLoadError
    from editor.worker import EngineWorker, Job

    worker = EngineWorker()
    got = []
    worker.failed.connect(lambda *a: got.append(a))

    def boom(progress, cancelled):
        raise ModelLoadError("no model at /nowhere")

    try:
        with qtbot.waitSignal(worker.failed, timeout=10_000):
            worker.submit(Job(("gen", "x"), boom))
    finally:
        worker.shutdown()
    assert got == [(("gen", "x"), "ModelLoadError: no model at /nowhere", "model_missing")]


def test_generation_requests_are_queued_typed_and_their_results_come_back(qtbot, ai_window):
    """controller.generate queues the engine's own request objects (one or a list, one job)."""
    from editor.engine.requests import GenerateRequest

    win = ai_window
    ctrl = win.ai.controller
    assert not hasattr(ctrl, "run_engine") and not hasattr(ctrl, "run_many")
    with qtbot.waitSignal(win.ai.accelerator_known, timeout=60_000) as blocker:
        win.ai.check_accelerator()
    assert set(blocker.args[0]) >= {"cuda", "mps"}
    done, failed = [], []
    ctrl.job_finished.connect(lambda k, r: done.append((k, r)))
    ctrl.job_failed.connect(lambda *a: failed.append(a))
    reqs = [GenerateRequest(prompt="a red square", width=32, height=32, steps=2, seed=s) for s in (1, 2)]
    with qtbot.waitSignal(ctrl.job_finished, timeout=120_000, check_params_cb=lambda k, r: k == ("gen", "t")):
        ctrl.generate(("gen", "t"), reqs)
    result = dict(done)[("gen", "t")]
    assert len(result) == 2 and result[0].shape == (32, 32, 4) and not (result[0] == result[1]).all()
    settle(qtbot, win)
    assert failed == []
