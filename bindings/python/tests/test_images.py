"""uint8 decoding and PNG input/output."""
import numpy as np
import pytest

import ldm
from conftest import FIXTURES, reference


@pytest.mark.parametrize("path,case", [("ae_kl_attn", "ae_kl_attn"), ("ae_vq", "ae_vq")])
def test_uint8_decode_matches_float_decode(path, case):
    latent = reference(case)["latent_random"]
    with ldm.Model(FIXTURES / path) as model:
        image = model.decode(latent)
        raw = model.decode(latent, output="float")
    assert image.dtype == np.uint8 and image.shape == (raw.shape[1], raw.shape[2], 3)
    expected = np.round(np.clip((raw.transpose(1, 2, 0) + 1) / 2, 0, 1) * 255)
    assert np.abs(image.astype(np.int16) - expected).max() <= 1


def test_read_png_gives_the_reference_image():
    image = ldm.read_png(FIXTURES / "input32.png")
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image, reference("ae_kl_attn")["image"])


def test_png_round_trip_rgb(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (13, 17, 3), dtype=np.uint8)
    ldm.write_png(tmp_path / "rgb.png", image)
    np.testing.assert_array_equal(ldm.read_png(tmp_path / "rgb.png"), image)


def test_png_round_trip_non_contiguous(tmp_path):
    image = np.random.default_rng(1).integers(0, 256, (8, 20, 3), dtype=np.uint8)[:, ::2]
    ldm.write_png(str(tmp_path / "view.png"), image)
    np.testing.assert_array_equal(ldm.read_png(str(tmp_path / "view.png")), image)


@pytest.mark.parametrize("shape", [(9, 7), (9, 7, 1)])
def test_png_grey_reads_back_as_rgb(tmp_path, shape):
    grey = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    ldm.write_png(tmp_path / "grey.png", grey)
    np.testing.assert_array_equal(ldm.read_png(tmp_path / "grey.png"), np.repeat(grey.reshape(9, 7, 1), 3, axis=2))


def test_png_opaque_rgba_reads_back_as_rgb(tmp_path):
    rgb = np.random.default_rng(3).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, np.full((6, 5, 1), 255, np.uint8)], axis=2)
    ldm.write_png(tmp_path / "rgba.png", rgba)
    np.testing.assert_array_equal(ldm.read_png(tmp_path / "rgba.png"), rgb)


@pytest.mark.parametrize("image", [None, np.zeros((4, 4, 2), np.uint8), np.zeros((4, 4, 3), np.float32),
                                   np.zeros(4, np.uint8)], ids=["none", "2-channels", "float", "1-d"])
def test_write_png_rejects_bad_images(tmp_path, image):
    with pytest.raises(ValueError):
        ldm.write_png(tmp_path / "bad.png", image)


def test_png_errors(tmp_path):
    with pytest.raises(ldm.LDMError) as e:
        ldm.read_png(tmp_path / "missing.png")
    assert e.value.status == ldm.LDM_ERR_NOT_FOUND
    (tmp_path / "garbage.png").write_bytes(b"not a png at all" * 8)
    with pytest.raises(ldm.LDMError) as e:
        ldm.read_png(tmp_path / "garbage.png")
    assert e.value.status == ldm.LDM_ERR_BAD_MAGIC
    with pytest.raises(ldm.LDMError) as e:
        ldm.write_png(tmp_path / "no" / "such" / "dir.png", np.zeros((2, 2, 3), np.uint8))
    assert e.value.status == ldm.LDM_ERR_IO
