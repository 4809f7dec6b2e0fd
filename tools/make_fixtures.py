#!/usr/bin/env python3
"""Builds the golden files under Tests/Fixtures from the reference implementation.

Tiny models with random weights (fixed seeds) are built with diffusers, run on fixed inputs,
and stored with their outputs as safetensors. Never edit the outputs by hand: change this
script and run it again (python3 tools/make_fixtures.py; versions in tools/requirements.txt).
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures")  # main() takes another folder as its argument
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
from ldm.convert import convert  # noqa: E402


def save(name, tensors, dtype=torch.float32):
    save_file({k: v.detach().contiguous().to(dtype) for k, v in tensors.items()}, os.path.join(OUT, name))


def make_half_exact(model):
    """Rounds every weight to fp16, so files stored as F16 hold the exact weights the fp32
    reference ran with (half the bytes, same fp32 parity)."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    return model


def perturb(model, seed):
    """Default init leaves norms at 1/0 and most biases near 0, which hides swapped or ignored
    parameters; give every vector parameter random values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1:
                base = 1.0 if "norm" in name and name.endswith(".weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=g))
    return model


def test_image(size, seed):
    """A smooth picture with some detail, as uint8 HWC."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.zeros((size, size, 3))
    for c in range(3):
        for _ in range(3):
            fx, fy, ph = rng.uniform(0.5, 4, 2).tolist() + [rng.uniform(0, 6.3)]
            img[..., c] += np.sin(2 * np.pi * (fx * x + fy * y) + ph)
    img = (img / 6 + 0.5) * 255 + rng.normal(0, 8, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def to_input(img):
    """uint8 HWC -> [1, 3, H, W] in [-1, 1], exactly as libldm converts it."""
    return (torch.from_numpy(img).float() / 255.0 * 2.0 - 1.0).permute(2, 0, 1)[None].contiguous()


def write_png(img, path):
    """The PNG through libpng-compatible zlib, with no dependency beyond numpy."""
    import struct
    import zlib
    h, w, _ = img.shape
    raw = b"".join(b"\0" + img[i].tobytes() for i in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


# ---- autoencoders ----------------------------------------------------------------------------

def compvis_autoencoder_names(state, n_levels):
    """diffusers AutoencoderKL/VQModel keys -> CompVis keys (attention only in the middle).
    Checked below against diffusers' own CompVis -> diffusers converter."""
    out = {}
    for k, v in state.items():
        p = k.split(".")
        if p[0] in ("encoder", "decoder") and p[1] in ("down_blocks", "up_blocks"):
            level = int(p[2]) if p[1] == "down_blocks" else n_levels - 1 - int(p[2])
            kind, rest = p[3], p[4:]
            if kind == "resnets":
                q = [p[0], "down" if p[0] == "encoder" else "up", str(level), "block"] + rest
            elif kind in ("downsamplers", "upsamplers"):
                q = [p[0], "down" if p[0] == "encoder" else "up", str(level), "downsample" if kind == "downsamplers" else "upsample"] + rest[1:]
            else:
                raise ValueError(k)
        elif p[0] in ("encoder", "decoder") and p[1] == "mid_block":
            if p[2] == "resnets":
                q = [p[0], "mid", f"block_{int(p[3]) + 1}"] + p[4:]
            else:
                attn = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out": "proj_out"}[p[4]]
                q = [p[0], "mid", "attn_1", attn] + p[-1:]
                if v.ndim == 2:
                    v = v[:, :, None, None]
        elif p[0] in ("encoder", "decoder") and p[1] == "conv_norm_out":
            q = [p[0], "norm_out"] + p[2:]
        else:
            q = p
        q = ["nin_shortcut" if s == "conv_shortcut" else s for s in q]
        out[".".join(q)] = v
    return out


def check_compvis_names(compvis, model):
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint
    back = convert_ldm_vae_checkpoint({"first_stage_model." + k: v for k, v in compvis.items()}, dict(model.config))
    state = model.state_dict()
    missing = [k for k in state if not k.startswith("quantize.") and (k not in back or not torch.equal(back[k], state[k]))]
    assert not missing, f"CompVis naming does not round-trip through diffusers: {missing[:5]}"


def autoencoder_case(name, model, img, scale, seed, layout, dtype=torch.float32, gguf=("f16", "q8_0")):
    """Runs `model` (AutoencoderKL or VQModel) on `img` and stores weights (as `dtype`),
    references and GGUF conversions of the given types. layout: "diffusers" (a folder) or
    "checkpoint" (an SD-style single file, first_stage_model.* keys)."""
    from diffusers import VQModel
    model.eval()
    x = to_input(img)
    vq = isinstance(model, VQModel)
    refs = {"image": torch.from_numpy(img).float()}
    with torch.no_grad():
        if vq:
            h = model.encode(x).latents
            refs["latent_mean"] = (h * scale)[0]
            decode_in = h
        else:
            post = model.encode(x).latent_dist
            refs["latent_mean"] = (post.mean * scale)[0]
            refs["latent_sample"] = (post.sample(generator=torch.Generator().manual_seed(seed)) * scale)[0]
            decode_in = post.mean
        refs["decoded"] = model.decode(decode_in).sample[0]
        z = torch.randn(decode_in.shape, generator=torch.Generator().manual_seed(seed + 1))
        refs["latent_random"] = (z * scale)[0]
        refs["decoded_random"] = model.decode(z).sample[0]
    save(f"{name}.ref.safetensors", refs)

    if layout == "diffusers":
        folder = os.path.join(OUT, name)
        shutil.rmtree(folder, ignore_errors=True)
        model.to(dtype).save_pretrained(folder, safe_serialization=True)
        model.float()
        src = folder
    else:
        compvis = compvis_autoencoder_names(model.state_dict(), len(model.config.block_out_channels))
        check_compvis_names(compvis, model)
        prefix = "first_stage_model." if layout == "checkpoint" else ""
        src = os.path.join(OUT, f"{name}.safetensors")
        save(os.path.basename(src), {prefix + k: v for k, v in compvis.items()}, dtype)
    for t in gguf:
        convert(src, os.path.join(OUT, f"{name}.{t}.gguf"), t)


def autoencoders():
    from diffusers import AutoencoderKL, VQModel
    img32, img64 = test_image(32, 1), test_image(64, 2)
    write_png(img32, os.path.join(OUT, "input32.png"))
    write_png(img64, os.path.join(OUT, "input64.png"))

    # KL with attention at the deeper level, 8 groups, a non-default scale, no quant_conv (but a
    # post_quant_conv): a diffusers folder.
    torch.manual_seed(10)
    kl_attn = perturb(AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D", "AttnDownEncoderBlock2D"),
        up_block_types=("AttnUpDecoderBlock2D", "UpDecoderBlock2D"), norm_num_groups=8, scaling_factor=0.5,
        use_quant_conv=False), 11)
    autoencoder_case("ae_kl_attn", kl_attn, img32, 0.5, 42, "diffusers", gguf=())

    # Stable Diffusion's VAE shape (kl-f8: 4 levels, 2 blocks, z=4, 32 groups), narrower, stored
    # as an SD single-file checkpoint: the default scale 0.18215 applies.
    torch.manual_seed(20)
    kl_f8 = make_half_exact(perturb(AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32, 32, 32, 32), layers_per_block=2,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4), 21))
    autoencoder_case("ae_kl_f8", kl_f8, img64, 0.18215, 7, "checkpoint", torch.float16)

    # vq-f4 shape with a 64-entry codebook, spread out so nearest entries are unambiguous.
    torch.manual_seed(30)
    vq = perturb(VQModel(
        in_channels=3, out_channels=3, latent_channels=3, block_out_channels=(32, 32, 32), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
        num_vq_embeddings=64, scaling_factor=1.0), 31)
    with torch.no_grad():
        vq.quantize.embedding.weight.normal_(0, 1, generator=torch.Generator().manual_seed(32))
    make_half_exact(vq)
    autoencoder_case("ae_vq", vq, img32, 1.0, 3, "diffusers", torch.float16, gguf=("bf16", "q8_0"))
    # The same VQ model as a bare CompVis-named file (no config: 32 groups, scale 1 by default).
    compvis = compvis_autoencoder_names(vq.state_dict(), 3)
    check_compvis_names(compvis, vq)
    save("ae_vq.compvis.safetensors", compvis, torch.float16)


# ---- torch.randn ----------------------------------------------------------------------------

def randn():
    refs = {}
    for seed in (0, 42, 123456789, 2**32 - 1):
        for n in (1, 2, 5, 15, 16, 17, 31, 100, 1000):
            refs[f"seed{seed}_n{n}"] = torch.randn(n, generator=torch.Generator().manual_seed(seed))
        g = torch.Generator().manual_seed(seed)  # one stream, several draws, as ancestral samplers do
        for i, n in enumerate((7, 20, 3, 48)):
            refs[f"stream{seed}_{i}"] = torch.randn(n, generator=g)
    save("randn.safetensors", refs)


def main():
    global OUT
    if len(sys.argv) > 1:
        OUT = os.path.abspath(sys.argv[1])
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    autoencoders()
    randn()
    manifest = {"torch": torch.__version__, "diffusers": __import__("diffusers").__version__}
    with open(os.path.join(OUT, "VERSIONS.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    size = int(subprocess.check_output(["du", "-sk", OUT]).split()[0])
    print(f"fixtures written to {OUT} ({size} KB)")


if __name__ == "__main__":
    main()
