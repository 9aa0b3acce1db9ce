"""Getting LayerDiffuse weights from the Generate Layer panel: licence + download, local folder.

The hub download is replaced by a function that writes tiny weight files with the
published key layout (no network); everything else is the real window and engine.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest
from ai_helpers import settle
from qt_helpers import RecordingDialogs

from editor.engine.rgba.weights import FILES

TIMEOUT = 30_000


def _rgba_helpers():
    """tests/engine/rgba/helpers.py, under its own name (other folders have a helpers module)."""
    path = Path(__file__).parents[2] / "engine" / "rgba" / "helpers.py"
    spec = importlib.util.spec_from_file_location("rgba_weight_helpers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class WeightsDialogs(RecordingDialogs):
    def __init__(self):
        super().__init__()
        self.download_answer = True
        self.asked: list[str] = []
        self.next_folder = None

    def ask_download_weights(self, title, text):
        self.asked.append(text)
        return self.download_answer

    def weights_folder(self):
        return self.next_folder


@pytest.fixture
def dialogs():
    return WeightsDialogs()


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    folder = tmp_path / "layerdiffuse"
    monkeypatch.setenv("LAYERBRUSH_LAYERDIFFUSE_DIR", str(folder))
    return folder


@pytest.fixture
def published(tmp_path_factory, tiny_model):
    """Tiny SD1.5 weight files with the published names and key layouts, built once."""
    folder = tmp_path_factory.getbasetemp() / "published_tiny_weights"
    if not folder.is_dir():
        _rgba_helpers().write_tiny_weights(tiny_model.pipe.unet, folder)
    return folder


COMMIT = "c0ffee" + "0" * 34


@pytest.fixture
def hub_metadata(monkeypatch, published):
    """HfApi stand-in: "main" is COMMIT, whose files are the tiny ones with their LFS hashes."""
    from huggingface_hub.hf_api import ModelInfo

    siblings = [{"rfilename": p.name, "size": p.stat().st_size,
                 "lfs": {"size": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                         "pointerSize": 134}}
                for p in published.glob("*.safetensors")]

    class FakeApi:
        def model_info(self, repo_id, *, revision=None, files_metadata=False):
            assert revision == "main" and files_metadata
            return ModelInfo(id=repo_id, sha=COMMIT, siblings=siblings)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)


@pytest.fixture
def fake_hub(monkeypatch, published, hub_metadata):
    """hf_hub_download stand-in: copies the tiny file into local_dir, in chunks, like a download."""
    calls = []

    def fake(repo_id, filename, *, revision=None, local_dir=None, **kw):
        calls.append((repo_id, filename, revision))
        partial = Path(local_dir) / ".cache" / "huggingface" / "download" / f"{filename}.x.incomplete"
        partial.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(published / filename, partial)
        os.replace(partial, Path(local_dir) / filename)
        return str(Path(local_dir) / filename)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake)
    return calls


def fail_generation(qtbot, win):
    """Generate with no weights: the panel offers the fallback, download and local files
    once the availability check has answered (never on an earlier, stale answer)."""
    panel = win.ai.show_generate_panel()
    panel.prompt.setText("a red apple")
    panel.steps.setValue(1)
    offered_early = []
    # Connected after the panel's own handler: runs right after the failure is shown.
    record = lambda key, message: offered_early.append(panel.download_weights_button.isVisible())  # noqa: E731
    win.ai.controller.job_failed.connect(record)
    try:
        panel.generate_button.click()
        settle(qtbot, win, TIMEOUT)
    finally:
        win.ai.controller.job_failed.disconnect(record)
    assert offered_early and not any(offered_early)
    assert panel.download_weights_button.isVisible()
    assert panel.fallback_button.isVisible() and panel.local_weights_button.isVisible()
    assert "missing" in panel.status.text()
    return panel


def test_download_after_licence(qtbot, ai_window, dialogs, weights_dir, fake_hub):
    panel = fail_generation(qtbot, ai_window)
    progress_seen = []
    ai_window.ai.controller.job_progress.connect(lambda key, done, total: progress_seen.append((key, done, total)))
    panel.download_weights_button.click()
    text = dialogs.asked[-1]
    assert "LayerDiffusion/layerdiffusion-v1" in text and "https://huggingface.co/LayerDiffusion" in text
    assert "OpenRAIL" in text
    needed = [FILES[("sd15", "attn")], FILES[("sd15", "decoder")]]
    total_mb = sum(w.size_bytes for w in needed) / 1e6
    assert f"{total_mb:,.0f} MB" in text and all(w.filename in text for w in needed)
    assert panel.weights.progress_dialog is not None and panel.weights.progress_dialog.isVisible()
    assert "pinned commit" not in text  # not known before the first download
    settle(qtbot, ai_window, TIMEOUT)
    assert "weights are available" in panel.status.text()
    assert sorted(c[1] for c in fake_hub) == sorted(w.filename for w in needed)
    assert {c[2] for c in fake_hub} == {COMMIT}  # "main" was resolved and pinned first
    assert all((weights_dir / w.filename).is_file() for w in needed)
    pin = json.loads((weights_dir / "pin.json").read_text())
    assert pin["revision"] == COMMIT and {w.filename for w in needed} <= set(pin["files"])
    assert any(key == ("gen", "weights-download") and total > 0 for key, _d, total in progress_seen)
    assert panel.weights.progress_dialog is None and not panel.fallback_frame.isVisible()
    assert dialogs.errors == []

    # a file gone missing later: the confirmation names the pinned commit, the download uses it
    (weights_dir / needed[1].filename).unlink()
    fail_generation(qtbot, ai_window)
    panel.download_weights_button.click()
    assert f"at the pinned commit {COMMIT[:7]}" in dialogs.asked[-1]
    settle(qtbot, ai_window, TIMEOUT)
    assert "weights are available" in panel.status.text()
    assert fake_hub[-1] == ("LayerDiffusion/layerdiffusion-v1", needed[1].filename, COMMIT)


def test_declining_the_licence_downloads_nothing(qtbot, ai_window, dialogs, weights_dir, fake_hub):
    panel = fail_generation(qtbot, ai_window)
    dialogs.download_answer = False
    panel.download_weights_button.click()
    assert len(dialogs.asked) == 1
    assert ai_window.ai.controller.is_idle()  # nothing was queued
    assert fake_hub == [] and not weights_dir.exists()
    assert panel.weights.progress_dialog is None and panel.download_weights_button.isVisible()


def test_local_folder_with_a_wrong_key_is_refused(qtbot, ai_window, dialogs, weights_dir, config_dir,
                                                    published, tmp_path):
    from safetensors.torch import load_file, save_file

    panel = fail_generation(qtbot, ai_window)
    bad = tmp_path / "bad"
    bad.mkdir()
    name = FILES[("sd15", "attn")].filename
    tensors = load_file(str(published / name))
    tensors["unexpected.weight"] = next(iter(tensors.values())).clone()
    save_file(tensors, str(bad / name))
    dialogs.next_folder = str(bad)
    panel.local_weights_button.click()
    settle(qtbot, ai_window, TIMEOUT)
    title, text = dialogs.errors[-1]
    assert name in text and "unexpected.weight" in text
    assert ai_window.ai.config.layerdiffuse_dirs == {}
    assert "layerdiffuse_dirs" not in json.loads((config_dir / "ai.json").read_text())


def test_local_folder_is_checked_and_remembered(qtbot, ai_window, dialogs, weights_dir, config_dir,
                                                 published, tmp_path):
    panel = fail_generation(qtbot, ai_window)
    good = tmp_path / "good"
    good.mkdir()
    name = FILES[("sd15", "attn")].filename
    shutil.copyfile(published / name, good / name)
    dialogs.next_folder = str(good)
    panel.local_weights_button.click()
    settle(qtbot, ai_window, TIMEOUT)
    assert ai_window.ai.config.layerdiffuse_dirs.get("sd15") == str(good)
    assert json.loads((config_dir / "ai.json").read_text())["layerdiffuse_dirs"] == {"sd15": str(good)}
    # the decoder is still missing: the status check looks in the remembered folder and says so
    assert "decoder" in panel.weights.info["reason"]
    assert panel.weights.info["missing"] == [("decoder", FILES[("sd15", "decoder")].filename,
                                              FILES[("sd15", "decoder")].size_bytes)]
    assert dialogs.errors == []
    assert panel.weights_folder() == str(good)


def test_cancelled_or_failed_download_changes_nothing(qtbot, ai_window, dialogs, weights_dir, monkeypatch,
                                                      hub_metadata):
    import threading

    import huggingface_hub

    release = threading.Event()
    mode = {"fail": False}

    def slow_or_failing(repo_id, filename, *, revision=None, local_dir=None, **kw):
        if mode["fail"]:
            raise OSError("network is unreachable")
        release.wait(10)  # a stalled transfer; writes nothing
        raise OSError("stopped")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", slow_or_failing)
    panel = fail_generation(qtbot, ai_window)
    panel.download_weights_button.click()
    dlg = panel.weights.progress_dialog
    assert dlg is not None
    dlg.cancel_button.click()
    qtbot.waitUntil(lambda: "cancelled" in panel.status.text().lower(), timeout=TIMEOUT)
    release.set()
    assert panel.weights.progress_dialog is None and dialogs.errors == []
    assert not any(p.suffix == ".safetensors" for p in weights_dir.glob("*"))

    mode["fail"] = True
    panel.download_weights_button.click()
    settle(qtbot, ai_window, TIMEOUT)
    title, text = dialogs.errors[-1]
    assert title == "Download failed" and "network is unreachable" in text and "nothing was changed" in text
    assert panel.weights.progress_dialog is None
    assert panel.download_weights_button.isVisible() and ai_window.ai.config.layerdiffuse_dirs == {}
