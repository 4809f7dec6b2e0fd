"""Model metadata, threads, logging, version and how the library is found."""
import re
import threading

import numpy as np
import pytest

import ldm
from conftest import FIXTURES, reference
from ldm import _lib


@pytest.mark.parametrize("path,expected", [
    ("ae_kl_attn", ("kl", 4, 2, 0.5, "f32")),
    ("ae_kl_f8.safetensors", ("kl", 4, 8, 0.18215, "f16")),
    ("ae_kl_f8.q8_0.gguf", ("kl", 4, 8, 0.18215, "q8_0")),
    ("ae_vq", ("vq", 3, 4, 1.0, "f16")),
    ("ae_vq.bf16.gguf", ("vq", 3, 4, 1.0, "bf16")),
])
def test_info(path, expected):
    with ldm.Model(FIXTURES / path) as model:
        info = model.info
    kind, channels, factor, scale, weight_type = expected
    assert (info.autoencoder, info.latent_channels, info.downsample_factor, info.weight_type) == \
        (kind, channels, factor, weight_type)
    assert info.scale_factor == pytest.approx(scale, rel=1e-6)
    assert info.n_params > 0


def test_same_model_in_every_format_has_the_same_parameter_count():
    counts = set()
    for path in ("ae_vq", "ae_vq.compvis.safetensors", "ae_vq.bf16.gguf", "ae_vq.q8_0.gguf"):
        with ldm.Model(FIXTURES / path) as model:
            counts.add(model.info.n_params)
    assert len(counts) == 1


def test_latent_shape():
    with ldm.Model(FIXTURES / "ae_kl_f8.safetensors") as model:
        latent = model.encode(np.zeros((16, 24, 3), np.uint8))
        assert latent.dtype == np.float32 and latent.shape == (4, 2, 3)
        assert model.decode(latent).shape == (16, 24, 3)
        assert model.decode(latent, output="float").shape == (3, 16, 24)


def test_thread_count_does_not_change_results():
    """Bitwise: work is split by shapes, never by the thread count."""
    image = reference("ae_kl_attn")["image"]
    results = []
    for threads in (None, 1, 2, 3):
        with ldm.Model(FIXTURES / "ae_kl_attn", threads=threads) as model:
            results.append(model.encode(image))
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


@pytest.mark.parametrize("path", ["sd_tiny", "sd_tiny.q8_0.gguf"])
def test_threads_and_low_memory_give_the_same_picture(path):
    """A whole txt2img (text encoder, UNet, decoder) bit for bit with 1 to 3 threads and with
    the weight pages dropped after every call."""
    runs = []
    for threads, low_memory in ((1, False), (2, False), (3, False), (2, True)):
        with ldm.Model(FIXTURES / path, threads=threads, low_memory=low_memory) as model:
            runs.append((model.txt2img("a red square", steps=3, guidance=5, seed=1),
                         model.decode(model.sample(prompt="a blue circle", steps=2, guidance=3, seed=2), output="float")))
    for picture, decoded in runs[1:]:
        np.testing.assert_array_equal(picture, runs[0][0])
        np.testing.assert_array_equal(decoded, runs[0][1])


def test_one_model_shared_by_threads():
    """Calls on one Model from several threads are serialised, not run on one context at once."""
    ref = reference("ae_vq")
    with ldm.Model(FIXTURES / "ae_vq") as model:
        expected = model.decode(ref["latent_random"], output="float")
        results, errors = [], []

        def work():
            try:
                for _ in range(5):
                    results.append(model.decode(ref["latent_random"], output="float"))
            except Exception as e:  # reported below, in the main thread
                errors.append(e)

        workers = [threading.Thread(target=work) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    assert not errors
    assert len(results) == 20
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", ldm.version())
    assert ldm.__version__


def test_set_log():
    messages = []
    ldm.set_log(lambda level, message: messages.append((level, message)))
    try:
        ldm.Model(FIXTURES / "ae_vq").close()
    finally:
        ldm.set_log(None)
    assert messages, "loading a model logs its description"
    assert all(isinstance(level, int) and ldm.LDM_LOG_DEBUG <= level <= ldm.LDM_LOG_ERROR for level, _ in messages)
    assert any("ae_vq" in message for _, message in messages)
    count = len(messages)
    ldm.Model(FIXTURES / "ae_vq").close()
    assert len(messages) == count


def test_set_log_rejects_non_callables():
    with pytest.raises(TypeError):
        ldm.set_log("print")


def test_library_path_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(_lib.ENV_VAR, str(tmp_path / "libldm.so"))
    assert _lib.candidates() == [str(tmp_path / "libldm.so")]
    with pytest.raises(ImportError, match="LDM_LIBRARY_PATH"):
        _lib.load()


def test_library_copy_in_the_package_comes_before_the_system(monkeypatch, tmp_path):
    (tmp_path / "libldm.so.0").touch()
    monkeypatch.delenv(_lib.ENV_VAR)
    monkeypatch.setattr(_lib, "__file__", str(tmp_path / "_lib.py"))
    candidates = _lib.candidates()
    assert candidates[0] == str(tmp_path / "libldm.so.0")
    assert candidates[-1] == "libldm.so.0"
