"""ldm-convert on PyTorch checkpoints: EMA weights chosen as CompVis samples with them, and
pickles that would run code refused (torch.load(weights_only=True))."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from gguf import GGUFReader

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
from ldm.convert import convert, read_safetensors  # noqa: E402


def gguf_tensors(path):
    """{name: float32 array} of a GGUF file, read with the gguf package (an independent reader)."""
    out = {}
    for t in GGUFReader(path).tensors:
        if t.tensor_type.name == "F32":
            out[t.name] = np.array(t.data).reshape(tuple(reversed([int(d) for d in t.shape])))
    return out


@pytest.fixture
def checkpoint(tmp_path):
    """sd1_single as a CompVis .ckpt whose EMA copy of the UNet differs from its weights."""
    state = {k: torch.from_numpy(v) for k, v in read_safetensors(os.path.join(FIXTURES, "sd1_single", "model.safetensors")).items()}
    ema = {"model_ema." + k[len("model."):].replace(".", ""): v + 0.25 for k, v in state.items() if k.startswith("model.diffusion_model.")}
    path = tmp_path / "model.ckpt"
    torch.save({"state_dict": {**state, **ema, "model_ema.num_updates": torch.tensor(7)}, "global_step": 5}, path)
    return path, state


def test_ckpt_uses_ema_weights(checkpoint, tmp_path):
    path, state = checkpoint
    convert(str(path), str(tmp_path / "ema.gguf"), "f32")
    convert(str(path), str(tmp_path / "raw.gguf"), "f32", ema=False)
    ema, raw = gguf_tensors(str(tmp_path / "ema.gguf")), gguf_tensors(str(tmp_path / "raw.gguf"))
    key = "model.diffusion_model.out.2.weight"
    np.testing.assert_array_equal(raw[key], state[key].numpy())
    np.testing.assert_array_equal(ema[key], state[key].numpy() + np.float32(0.25))
    assert not any(k.startswith("model_ema.") for k in ema)
    vae = "first_stage_model.decoder.conv_out.weight"
    np.testing.assert_array_equal(ema[vae], state[vae].numpy())


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {Payload.marker}",))


def test_pickle_code_is_never_run(tmp_path):
    Payload.marker = tmp_path / "ran"
    path = tmp_path / "evil.ckpt"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": {"x": Payload()}}, f)
    with pytest.raises(pickle.UnpicklingError):
        convert(str(path), str(tmp_path / "out.gguf"), "f16")
    assert not Payload.marker.exists()


def test_command_line(checkpoint, tmp_path):
    path, _ = checkpoint
    out = tmp_path / "m.gguf"
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "ldm-convert"), str(path), "-o", str(out), "--type", "f16",
                        "--tokenizer", os.path.join(FIXTURES, "sd1_single")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    meta = GGUFReader(str(out)).fields
    assert bytes(meta["tokenizer.ggml.model"].parts[-1]).decode() == "clip"
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "ldm-convert"), str(tmp_path / "missing.ckpt"), "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode != 0
