"""Weight registry, hash checks, the pinned download flow (hub calls faked, no network), the CLI helper."""
from __future__ import annotations

import hashlib
import json

import pytest

from editor.engine.rgba import LayerDiffuseUnavailable, MatteFailed, weights
from editor.engine.rgba.cli import generate_command, parse_size
from editor.engine.rgba.pinning import verify_file
from editor.engine.rgba.weights import LayerWeights, download_weights, pinned_revision


def test_registry_names_the_published_files():
    assert weights.REPO_ID == "LayerDiffusion/layerdiffusion-v1"
    assert weights.FILES[("sd15", "decoder")].filename == "layer_sd15_vae_transparent_decoder.safetensors"
    assert weights.FILES[("sdxl", "attn")].filename == "layer_xl_transparent_attn.safetensors"
    assert weights.LICENCE_URL.startswith("https://") and "OpenRAIL" in weights.LICENCE_NAME
    with pytest.raises(LayerDiffuseUnavailable, match="only SD1.5 and SDXL"):
        weights.weight_file("sd2", "attn")
    with pytest.raises(LayerDiffuseUnavailable, match="no 'joint' weights for 'sdxl'"):
        weights.weight_file("sdxl", "joint")


def test_verify_file_checks_size_and_hash_and_moves_a_bad_file_away(tmp_path):
    f = tmp_path / "w.safetensors"
    f.write_bytes(b"abc")
    good = hashlib.sha256(b"abc").hexdigest()
    assert verify_file(f, good, expected_size=3) == good
    # no SHA-256 declared (a non-LFS file on the hub): git's blob id of b"abc", as `git hash-object` gives it
    assert verify_file(f, expected_git_sha1="f2ba8f84ab5c1bce84a7b441cb1959cfc7093b7f", expected_size=3) == good
    with pytest.raises(LayerDiffuseUnavailable, match=r"w\.safetensors: size 3 bytes, expected 4.*renamed to"):
        verify_file(f, good, expected_size=4)
    assert not f.exists() and (tmp_path / "w.safetensors.bad").read_bytes() == b"abc"
    f.write_bytes(b"abd")
    with pytest.raises(LayerDiffuseUnavailable, match="git blob id"):
        verify_file(f, expected_git_sha1="f2ba8f84ab5c1bce84a7b441cb1959cfc7093b7f")
    assert not f.exists() and (tmp_path / "w.safetensors.bad").read_bytes() == b"abd"  # replaces the older .bad


def test_local_files_by_path(tmp_path):
    f = tmp_path / "my_decoder.safetensors"
    f.write_bytes(b"x")
    lw = LayerWeights.from_paths("sd15", decoder=f)
    assert lw.files == {"decoder": f}
    with pytest.raises(LayerDiffuseUnavailable, match="layer_sd15_transparent_attn.safetensors"):
        lw.require("rgba")
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        LayerWeights.from_paths("sd15", attn=tmp_path / "nope.safetensors")


DECODER = "layer_sd15_vae_transparent_decoder.safetensors"
ENCODER = "layer_sd15_vae_transparent_encoder.safetensors"
COMMIT_A, COMMIT_B = "a" * 40, "b" * 40


class FakeHub:
    """The two hub calls download_weights makes, answered from memory: ``refs`` maps branch
    names to commits, ``commits`` maps a commit to its files' bytes (plus a non-LFS README)."""

    def __init__(self):
        self.refs = {"main": COMMIT_A}
        self.commits = {COMMIT_A: {DECODER: b"decoder v1", ENCODER: b"encoder v1"}}
        self.info_calls, self.download_calls = [], []
        self.unreachable = False
        self.serve_instead: bytes | None = None  # what the "network" delivers, when set

    def model_info(self, repo_id, *, revision=None, files_metadata=False):
        from huggingface_hub.hf_api import ModelInfo

        self.info_calls.append((repo_id, revision, files_metadata))
        if self.unreachable:
            raise ConnectionError("Name or service not known")
        commit = self.refs.get(revision, revision)
        siblings = [{"rfilename": name, "size": len(data),
                     "lfs": {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "pointerSize": 134}}
                    for name, data in self.commits[commit].items()]
        siblings.append({"rfilename": "README.md", "size": 3, "blobId": "f2ba8f84ab5c1bce84a7b441cb1959cfc7093b7f"})
        return ModelInfo(id=repo_id, sha=commit, siblings=siblings)

    def hf_hub_download(self, repo_id, filename, *, revision, local_dir):
        self.download_calls.append((repo_id, filename, revision))
        if self.unreachable:
            raise ConnectionError("Name or service not known")
        data = self.commits[revision][filename]  # only commits are served: "main" here is a KeyError
        path = local_dir / filename
        path.write_bytes(self.serve_instead if self.serve_instead is not None else data)
        return str(path)


@pytest.fixture
def hub(monkeypatch):
    import huggingface_hub

    fake = FakeHub()
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda: fake)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake.hf_hub_download)
    return fake


def test_first_download_pins_the_commit_and_later_ones_keep_it(tmp_path, hub):
    seen = []
    lw = download_weights("sd15", ["decoder"], folder=tmp_path, progress=lambda done, total: seen.append((done, total)))
    assert hub.info_calls == [("LayerDiffusion/layerdiffusion-v1", "main", True)]
    assert hub.download_calls == [("LayerDiffusion/layerdiffusion-v1", DECODER, COMMIT_A)]
    assert lw.files["decoder"].read_bytes() == b"decoder v1"
    pin = json.loads((tmp_path / "pin.json").read_text())
    assert pin["repo"] == "LayerDiffusion/layerdiffusion-v1" and pin["ref"] == "main" and pin["revision"] == COMMIT_A
    assert pin["files"][ENCODER] == {"sha256": hashlib.sha256(b"encoder v1").hexdigest(), "size": 10, "git_sha1": None}
    assert pin["files"]["README.md"]["git_sha1"] == "f2ba8f84ab5c1bce84a7b441cb1959cfc7093b7f"
    assert seen[-1] == (10, 10)  # the total is the hub-declared size
    assert pinned_revision(tmp_path) == COMMIT_A
    assert not (tmp_path / "hashes.json").exists()

    # "main" moves on; the next file still comes from the pinned commit, and the hub is not asked again
    hub.refs["main"] = COMMIT_B
    hub.commits[COMMIT_B] = {DECODER: b"decoder v2", ENCODER: b"encoder v2"}
    lw = download_weights("sd15", ["decoder", "encoder"], folder=tmp_path)
    assert len(hub.info_calls) == 1
    assert hub.download_calls[1:] == [("LayerDiffusion/layerdiffusion-v1", ENCODER, COMMIT_A)]
    assert lw.files["encoder"].read_bytes() == b"encoder v1"


def test_a_tampered_file_is_refused_and_moved_away(tmp_path, hub):
    target = download_weights("sd15", ["decoder"], folder=tmp_path).files["decoder"]
    target.write_bytes(b"decoder v!")  # same size, other bytes: caught by the hash
    good, bad = hashlib.sha256(b"decoder v1").hexdigest(), hashlib.sha256(b"decoder v!").hexdigest()
    with pytest.raises(LayerDiffuseUnavailable) as err:
        download_weights("sd15", ["decoder"], folder=tmp_path)
    msg = str(err.value)
    assert DECODER in msg and good in msg and bad in msg and f"{COMMIT_A}" in msg
    assert f"renamed to {target}.bad" in msg and "Download it again" in msg
    assert not target.exists() and (tmp_path / f"{DECODER}.bad").read_bytes() == b"decoder v!"
    assert download_weights("sd15", ["decoder"], folder=tmp_path).files["decoder"].read_bytes() == b"decoder v1"

    hub.serve_instead = b"altered on the way"  # a bad download is refused the same way, by its size too
    with pytest.raises(LayerDiffuseUnavailable, match=rf"{ENCODER}: size 18 bytes, expected 10; SHA-256 "):
        download_weights("sd15", ["encoder"], folder=tmp_path)
    assert not (tmp_path / ENCODER).exists() and (tmp_path / f"{ENCODER}.bad").is_file()


def test_no_network_and_no_pin_is_a_clear_error_and_writes_nothing(tmp_path, hub):
    hub.unreachable = True
    with pytest.raises(LayerDiffuseUnavailable, match=r"LayerDiffusion/layerdiffusion-v1@main.*network connection "
                                                      r"is needed for the first download"):
        download_weights("sd15", ["decoder"], folder=tmp_path)
    assert hub.download_calls == [] and list(tmp_path.iterdir()) == []


def test_a_damaged_pin_record_is_named(tmp_path, hub):
    pin = tmp_path / "pin.json"
    pin.write_text("{not json")
    with pytest.raises(LayerDiffuseUnavailable, match=rf"{pin}: damaged LayerDiffuse pin record \(unreadable"):
        download_weights("sd15", ["decoder"], folder=tmp_path)
    pin.write_text(json.dumps({"repo": "LayerDiffusion/layerdiffusion-v1", "ref": "main", "revision": "main",
                               "files": {DECODER: {"sha256": None, "size": 10}}}))
    with pytest.raises(LayerDiffuseUnavailable, match="damaged.*'main' is not a 40-hex commit"):
        download_weights("sd15", ["decoder"], folder=tmp_path)
    assert hub.info_calls == [] and hub.download_calls == []


def test_hashes_and_commit_set_in_code_take_precedence(tmp_path, hub, monkeypatch):
    monkeypatch.setitem(weights.KNOWN_SHA256, DECODER, "0" * 64)
    with pytest.raises(LayerDiffuseUnavailable, match=r"expected 0{64} \(expected values from the hash set in code"):
        download_weights("sd15", ["decoder"], folder=tmp_path, revision=COMMIT_A)
    assert hub.info_calls == []  # commit and hash both given: the hub's metadata is not needed
    assert hub.download_calls == [("LayerDiffusion/layerdiffusion-v1", DECODER, COMMIT_A)]


def test_cli_helper(tiny_model_dir, tmp_path):
    assert parse_size("640x320") == (640, 320)
    with pytest.raises(ValueError, match="--size"):
        parse_size("640")
    with pytest.raises(LayerDiffuseUnavailable, match="generate_matte"):
        generate_command("a cat", tmp_path / "o.png", str(tiny_model_dir), size="64x64", steps=1,
                         weights_dir=tmp_path, device="cpu", log=None)
    lines = []
    # The tiny random model paints noise: the fallback says so and writes nothing (tests/test_cli.py
    # covers a fallback that finds a subject).
    with pytest.raises(MatteFailed, match="kept almost nothing"):
        generate_command("a cat", tmp_path / "o.png", str(tiny_model_dir), size="96x64", steps=1,
                         weights_dir=tmp_path, device="cpu", matte_fallback=True, log=lines.append)
    assert not (tmp_path / "o.png").exists()
    assert any("matte fallback" in line for line in lines)
