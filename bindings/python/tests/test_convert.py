"""The converter (ldm.convert, ldm-convert) and its GGUF writer, checked through the library."""
import struct

import numpy as np
import pytest

import ldm
from conftest import FIXTURES, reference, rel_err
from ldm import convert, gguf_writer


def q8_0_by_hand(values):
    """ggml's quantize_row_q8_0_ref, element by element in float32 arithmetic."""
    out = b""
    for block in np.asarray(values, np.float32).reshape(-1, 32):
        amax = max(abs(v) for v in block)
        d = amax / np.float32(127)
        inv = np.float32(1) / d if d != 0 else np.float32(0)
        q = []
        for v in block:
            x = v * inv
            q.append(int(np.copysign(np.floor(np.abs(x) + np.float32(0.5)), x)))  # C roundf
        out += struct.pack("<e", float(d)) + struct.pack("<32b", *q)
    return out


def test_quantize_q8_0_known_blocks():
    x = np.zeros(96, np.float32)
    x[:7] = [127, -63.5, 0.5, -0.5, 1.49, 0, 63.5]  # d = 1: halves round away from zero
    x[64:66] = [-254, 100]  # d = 2, the maximum is negative
    expected = (struct.pack("<e", 1.0) + struct.pack("<32b", 127, -64, 1, -1, 1, 0, 64, *[0] * 25)
                + struct.pack("<e", 0.0) + bytes(32)  # an all-zero block
                + struct.pack("<e", 2.0) + struct.pack("<32b", -127, 50, *[0] * 30))
    assert gguf_writer.quantize_q8_0(x) == expected


def test_quantize_q8_0_matches_the_ggml_formula():
    x = np.random.default_rng(0).normal(0, 1, 32 * 16).astype(np.float32)
    x[32:64] *= 1e-3
    assert gguf_writer.quantize_q8_0(x) == q8_0_by_hand(x)


def dequantize_q8_0(data, shape):
    blocks = np.frombuffer(data, dtype=[("d", "<f2"), ("qs", "i1", 32)])
    return (blocks["d"].astype(np.float32)[:, None] * blocks["qs"]).reshape(shape)


def write_dequantized(src, path):
    """`src` as an f32 GGUF holding exactly the values its q8_0 conversion stores."""
    tensors, metadata = convert.collect(src)
    packed = []
    for name in sorted(tensors):
        a = tensors[name]
        kind = convert.storage_type(name, a.shape, "q8_0")
        if kind == "q8_0":
            a = dequantize_q8_0(gguf_writer.quantize_q8_0(a), a.shape)
        elif kind == "f16":
            a = a.astype(np.float16).astype(np.float32)
        packed.append((name, list(a.shape), "f32", gguf_writer.encode(a, "f32")))
    gguf_writer.write(path, metadata, packed)


def run(path):
    ref = reference("ae_kl_attn")
    with ldm.Model(path) as model:
        return model.info, {
            "latent_mean": model.encode(ref["image"]),
            "latent_sample": model.encode(ref["image"], sample=True, seed=42),
            "decoded_random": model.decode(ref["latent_random"], output="float"),
        }


# ae_kl_attn is fp32 with weights not rounded to fp16, so both conversions lose precision.
# Errors measured with libldm 0.1.0, tolerances about twice them:
#   f16   latent_mean 7.32e-4, latent_sample 1.65e-4, decoded_random 4.95e-4
#   q8_0  latent_mean 9.68e-3, latent_sample 2.13e-3, decoded_random 7.11e-3
TOLERANCES = {
    "f16": {"latent_mean": 1.5e-3, "latent_sample": 4e-4, "decoded_random": 1e-3},
    "q8_0": {"latent_mean": 2e-2, "latent_sample": 5e-3, "decoded_random": 1.5e-2},
}


@pytest.mark.parametrize("type_name", ["f16", "q8_0"])
def test_converted_folder_matches_the_reference(tmp_path, type_name):
    out = tmp_path / f"ae_kl_attn.{type_name}.gguf"
    convert.main([str(FIXTURES / "ae_kl_attn"), "-o", str(out), "--type", type_name])
    info, ours = run(out)
    assert (info.autoencoder, info.weight_type, info.scale_factor) == ("kl", type_name, 0.5)
    ref = reference("ae_kl_attn")
    errors = {k: rel_err(v, ref[k]) for k, v in ours.items()}
    limits = TOLERANCES[type_name]
    failed = {k: f"{e:.3g} > {limits[k]:.3g}" for k, e in errors.items() if not e <= limits[k]}
    assert not failed, failed


def test_q8_0_file_runs_its_stored_weights(tmp_path):
    """The q8_0 GGUF gives what its dequantized weights give in f32 (measured: identical)."""
    convert.convert(str(FIXTURES / "ae_kl_attn"), str(tmp_path / "q8_0.gguf"), "q8_0")
    write_dequantized(str(FIXTURES / "ae_kl_attn"), str(tmp_path / "f32.gguf"))
    q_info, quantized = run(tmp_path / "q8_0.gguf")
    f_info, dequantized = run(tmp_path / "f32.gguf")
    assert (q_info.weight_type, f_info.weight_type) == ("q8_0", "f32")
    assert q_info.n_params == f_info.n_params
    for k in quantized:
        assert rel_err(quantized[k], dequantized[k]) <= 1e-5, k
