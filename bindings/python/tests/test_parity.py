"""Encode/decode through the binding against the diffusers references (tools/make_fixtures.py)."""
import pytest

import ldm
from conftest import FIXTURES, reference, rel_err

# The seed make_fixtures.py gave each case: latent_sample uses manual_seed(seed).
SEEDS = {"ae_kl_attn": 42, "ae_kl_f8": 7, "ae_vq": 3}

FP32_TOL = 1e-4

# (model file, reference case, {output: tolerance}). Files in fp32 or in the exact weights of
# the reference (ae_kl_f8 and ae_vq were rounded to fp16 before the reference ran) must match
# to FP32_TOL. Quantized files carry their own rounding; their tolerances are about twice the
# errors measured with libldm 0.1.0:
#   ae_kl_f8.q8_0.gguf  latent_mean 1.51e-2, latent_sample 4.08e-3, decoded 2.94e-2, decoded_random 3.93e-2
#   ae_vq.bf16.gguf     latent_mean 5.45e-3,                        decoded 8.40e-3, decoded_random 1.14e-2
#   ae_vq.q8_0.gguf     latent_mean 8.99e-3,                        decoded 1.87e-2, decoded_random 1.66e-2
EXACT = {"latent_mean": FP32_TOL, "latent_sample": FP32_TOL, "decoded": FP32_TOL, "decoded_random": FP32_TOL}
CASES = [
    ("ae_kl_attn", "ae_kl_attn", EXACT),  # diffusers folder, f32
    ("ae_kl_f8.safetensors", "ae_kl_f8", EXACT),  # SD single-file checkpoint, f16
    ("ae_kl_f8.f16.gguf", "ae_kl_f8", EXACT),
    ("ae_vq", "ae_vq", EXACT),  # diffusers VQModel folder, f16
    ("ae_vq.compvis.safetensors", "ae_vq", EXACT),  # bare CompVis names, no config
    ("ae_kl_f8.q8_0.gguf", "ae_kl_f8",
     {"latent_mean": 3e-2, "latent_sample": 1e-2, "decoded": 6e-2, "decoded_random": 8e-2}),
    ("ae_vq.bf16.gguf", "ae_vq", {"latent_mean": 1.2e-2, "decoded": 2e-2, "decoded_random": 2.5e-2}),
    ("ae_vq.q8_0.gguf", "ae_vq", {"latent_mean": 2e-2, "decoded": 4e-2, "decoded_random": 3.5e-2}),
]


def outputs(model, case):
    """Our counterpart of every reference output of `case`."""
    ref = reference(case)
    out = {
        "latent_mean": model.encode(ref["image"]),
        "decoded": model.decode(ref["latent_mean"], output="float"),
        "decoded_random": model.decode(ref["latent_random"], output="float"),
    }
    if "latent_sample" in ref:
        out["latent_sample"] = model.encode(ref["image"], sample=True, seed=SEEDS[case])
    return out


@pytest.mark.parametrize("path,case,tolerances", CASES, ids=[c[0] for c in CASES])
def test_parity(path, case, tolerances):
    ref = reference(case)
    with ldm.Model(FIXTURES / path) as model:
        ours = outputs(model, case)
    assert set(ours) == set(k for k in tolerances if k in ref)
    errors = {k: rel_err(ours[k], ref[k]) for k in ours}
    failed = {k: f"{e:.3g} > {tolerances[k]:.3g}" for k, e in errors.items() if not e <= tolerances[k]}
    assert not failed, failed


def test_sample_depends_on_seed():
    ref = reference("ae_kl_attn")
    with ldm.Model(FIXTURES / "ae_kl_attn") as model:
        a = model.encode(ref["image"], sample=True, seed=42)
        b = model.encode(ref["image"], sample=True, seed=43)
    assert rel_err(a, ref["latent_sample"]) <= FP32_TOL
    assert rel_err(b, ref["latent_sample"]) > 1e-2
