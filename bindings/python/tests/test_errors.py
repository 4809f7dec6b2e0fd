"""Failures surface as exceptions (LDMError from the library, ValueError from input checks),
never as a crash of the interpreter."""
import subprocess
import sys

import numpy as np
import pytest

import ldm
from conftest import FIXTURES, PACKAGE_ROOT, reference


@pytest.fixture(scope="module")
def kl():
    """The f2 KL model (latent [4, H/2, W/2])."""
    with ldm.Model(FIXTURES / "ae_kl_attn") as model:
        yield model


def test_missing_file(tmp_path):
    with pytest.raises(ldm.LDMError) as e:
        ldm.Model(tmp_path / "missing.safetensors")
    assert e.value.status == ldm.LDM_ERR_NOT_FOUND
    assert "missing.safetensors" in e.value.message
    assert "missing.safetensors" in str(e.value)


def test_garbage_file(tmp_path):
    path = tmp_path / "garbage.gguf"
    path.write_bytes(b"this is not a model file\n" * 40)
    with pytest.raises(ldm.LDMError) as e:
        ldm.Model(path)
    assert e.value.status == ldm.LDM_ERR_BAD_MAGIC


def test_folder_without_model(tmp_path):
    with pytest.raises(ldm.LDMError) as e:
        ldm.Model(tmp_path)
    assert e.value.status == ldm.LDM_ERR_NOT_FOUND


def test_image_side_not_a_multiple_of_the_factor(kl):
    with pytest.raises(ldm.LDMError) as e:
        kl.encode(np.zeros((33, 32, 3), np.uint8))
    assert e.value.status == ldm.LDM_ERR_SHAPE


def test_empty_image(kl):
    with pytest.raises(ldm.LDMError) as e:
        kl.encode(np.zeros((0, 32, 3), np.uint8))
    assert e.value.status == ldm.LDM_ERR_SHAPE


@pytest.mark.parametrize("image", [
    None,
    np.zeros((32, 32), np.uint8),  # grey
    np.zeros((32, 32, 1), np.uint8),
    np.zeros((32, 32, 4), np.uint8),  # RGBA
    np.zeros((32, 32, 3), np.float32),  # not uint8
    np.zeros((32, 32, 3), np.int64),
    np.zeros((1, 32, 32, 3), np.uint8),  # batched
    [[[0, 0, 0]]],  # a list: int64 once converted
], ids=["none", "grey", "grey-1", "rgba", "float32", "int64", "4-d", "list"])
def test_encode_rejects_bad_images(kl, image):
    with pytest.raises(ValueError):
        kl.encode(image)


def test_encode_accepts_non_contiguous_images(kl):
    image = reference("ae_kl_attn")["image"]
    strided = np.zeros((32, 64, 3), np.uint8)
    strided[:, ::2] = image
    np.testing.assert_array_equal(kl.encode(strided[:, ::2]), kl.encode(image))
    np.testing.assert_array_equal(kl.encode(np.asfortranarray(image)), kl.encode(image))


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5, "1", True])
def test_encode_rejects_bad_seeds(kl, seed):
    with pytest.raises(ValueError):
        kl.encode(np.zeros((32, 32, 3), np.uint8), sample=True, seed=seed)


def test_decode_wrong_channel_count(kl):
    for output in ("uint8", "float"):
        with pytest.raises(ldm.LDMError) as e:
            kl.decode(np.zeros((3, 16, 16), np.float32), output=output)
        assert e.value.status == ldm.LDM_ERR_SHAPE


def test_decode_empty_latent(kl):
    with pytest.raises(ldm.LDMError) as e:
        kl.decode(np.zeros((4, 0, 0), np.float32))
    assert e.value.status == ldm.LDM_ERR_INVALID_ARGUMENT


@pytest.mark.parametrize("latent", [
    None,
    np.zeros((4, 16, 16), np.int32),  # not float
    np.zeros((1, 4, 16, 16), np.float32),  # batched
    np.zeros((16, 16), np.float32),
    np.full((4, 2, 2), np.nan, np.float32),
    np.full((4, 2, 2), np.inf, np.float32),
], ids=["none", "int", "4-d", "2-d", "nan", "inf"])
def test_decode_rejects_bad_latents(kl, latent):
    with pytest.raises(ValueError):
        kl.decode(latent)


def test_decode_bad_output(kl):
    with pytest.raises(ValueError):
        kl.decode(np.zeros((4, 2, 2), np.float32), output="png")


def test_decode_converts_float64(kl):
    latent = reference("ae_kl_attn")["latent_random"]
    np.testing.assert_array_equal(kl.decode(latent.astype(np.float64), output="float"),
                                  kl.decode(latent, output="float"))


def test_decode_of_huge_finite_latent_does_not_kill_the_interpreter():
    """A finite latent whose decoder output overflows to NaN. Run in a child process because
    libldm 0.1.0 traps (SIGILL) converting NaN to uint8 in ldm_decode (Image.from)."""
    code = ("import numpy as np, ldm\n"
            "m = ldm.Model(%r)\n"
            "try:\n"
            "    m.decode(np.full((4, 2, 2), 3e38, np.float32))\n"
            "except ldm.LDMError:\n"
            "    pass\n" % str(FIXTURES / "ae_kl_attn"))
    child = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE_ROOT, capture_output=True, text=True, timeout=60)
    died = f"killed by signal {-child.returncode}" if child.returncode < 0 else f"exit status {child.returncode}"
    assert child.returncode == 0, f"{died}: {child.stderr[-2000:]}"


def test_use_after_close():
    model = ldm.Model(FIXTURES / "ae_kl_attn")
    model.close()
    assert model.closed
    with pytest.raises(ValueError, match="closed"):
        model.encode(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="closed"):
        model.decode(np.zeros((4, 16, 16), np.float32))
    model.cancel()  # nothing to cancel: no error
    model.close()  # idempotent


def test_context_manager_closes():
    with ldm.Model(FIXTURES / "ae_vq") as model:
        assert not model.closed
    assert model.closed
    with pytest.raises(ValueError, match="closed"):
        model.decode(np.zeros((3, 8, 8), np.float32))


@pytest.mark.parametrize("threads", [-1, 1.5, "2", True])
def test_bad_thread_count(threads):
    with pytest.raises(ValueError):
        ldm.Model(FIXTURES / "ae_vq", threads=threads)
